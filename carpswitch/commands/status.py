"""`carpswitch status [--json]`."""

from __future__ import annotations

import json

from carpswitch.config import Config, load_config
from carpswitch.context import NodeContext
from carpswitch.engine.demotion import current_boottime
from carpswitch.engine.failures import FailureBook
from carpswitch.engine.journal import Journal
from carpswitch.engine.pause import PauseFlag
from carpswitch.exitcodes import ExitCode
from carpswitch.intake.describe import describe_intake
from carpswitch.report import ControllerStatus, status_document, status_text
from carpswitch.statefiles import set_aside_files


def controller_status(config: Config, boottime: int | None) -> ControllerStatus:
    """carpswitch's own state from the running and last files (and the journal's end), the
    failure book and the pause flag.

    Reads only: an unreadable book shows as held with its reason (actors set it aside).
    """
    state_dir = config.paths.state_dir
    journal = Journal(state_dir)
    running, last = journal.running(), journal.last()  # small files, never the journal
    journal.check_end()  # a torn line at its end: a full disk, a crash
    book = FailureBook(state_dir).peek()
    return ControllerStatus(
        running=running,
        failures=len(book.failures),
        held=book.held,
        held_because=book.note,
        demotion_added=book.demotion_of_boot(boottime),
        paused=PauseFlag(state_dir).reason(),
        last=last,
        intake=describe_intake(config),
        state_problems=journal.problems,
        set_aside=set_aside_files(state_dir),
    )


def run_status(config_path: str | None, as_json: bool = False) -> int:
    """Print the node as observed; exit 1 when something could not be observed."""
    config = load_config(config_path)
    context = NodeContext(config)
    topology, state = context.observe()
    ours = controller_status(config, current_boottime(context.runner, config.timeouts.observe))
    if as_json:
        print(json.dumps(status_document(topology, state, ours), indent=2))
    else:
        print(status_text(topology, state, ours))
    return ExitCode.FAILED if state.problems else ExitCode.OK
