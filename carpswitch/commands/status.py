"""`carpswitch status [--json]`."""

from __future__ import annotations

import json

from carpswitch.config import Config, load_config
from carpswitch.context import NodeContext
from carpswitch.engine.failures import FailureBook
from carpswitch.engine.journal import Journal
from carpswitch.engine.pause import PauseFlag
from carpswitch.exitcodes import ExitCode
from carpswitch.intake.describe import describe_intake
from carpswitch.report import ControllerStatus, status_document, status_text


def controller_status(config: Config) -> ControllerStatus:
    """carpswitch's own state from the journal, the failure book and the pause flag."""
    journal = Journal(config.paths.state_dir)
    records = journal.records()
    book = FailureBook(config.paths.state_dir).load()
    return ControllerStatus(
        running=journal.running(records),
        failures=len(book.failures),
        held=book.held,
        demotion_added=book.demotion_added,
        paused=PauseFlag(config.paths.state_dir).reason(),
        last=records[-1] if records else None,
        intake=describe_intake(config),
    )


def run_status(config_path: str | None, as_json: bool = False) -> int:
    """Print the node as observed; exit 1 when something could not be observed."""
    config = load_config(config_path)
    context = NodeContext(config)
    topology, state = context.observe()
    ours = controller_status(config)
    if as_json:
        print(json.dumps(status_document(topology, state, ours), indent=2))
    else:
        print(status_text(topology, state, ours))
    return ExitCode.FAILED if state.problems else ExitCode.OK
