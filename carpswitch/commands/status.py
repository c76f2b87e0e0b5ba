"""`carpswitch status [--json]`."""

from __future__ import annotations

import json
import time

from carpswitch.config import Config, load_config
from carpswitch.context import NodeContext
from carpswitch.engine.demotion import current_boottime
from carpswitch.engine.failures import FailureBook
from carpswitch.engine.journal import Journal
from carpswitch.engine.pause import PauseFlag
from carpswitch.engine.splitbrain import Marks, SplitBrainMarks
from carpswitch.exitcodes import ExitCode
from carpswitch.guards.lastlook import last_look
from carpswitch.intake.describe import describe_intake, lock_holder
from carpswitch.intake.inbox import Inbox
from carpswitch.intake.settling import SettlingFile
from carpswitch.model import NodeState
from carpswitch.report import ControllerStatus, status_document, status_text
from carpswitch.standing import (
    guard_vetoes,
    guards_line,
    not_primary_reasons,
    split_brain_vetoes,
    standing,
)
from carpswitch.statefiles import set_aside_files
from carpswitch.topology import Topology


def controller_status(config: Config, boottime: int | None) -> ControllerStatus:
    """carpswitch's own state from the running and last files (and the journal's end), the
    failure book and the pause flag.

    Reads only: an unreadable book shows as held with its reason (actors set it aside).
    """
    state_dir = config.paths.state_dir
    journal = Journal(state_dir)
    running = journal.running()  # small files, never the journal
    remembered = journal.last_file.read(journal.problems)
    journal.check_end()  # a torn line at its end: a full disk, a crash
    book = FailureBook(state_dir).peek()
    return ControllerStatus(
        running=running,
        failures=len(book.failures),
        held=book.held,
        held_because=book.note,
        demotion_added=book.demotion_of_boot(boottime),
        paused=PauseFlag(state_dir).reason(),
        last=remembered.record,
        group_last=remembered.groups,
        intake=describe_intake(config),
        state_problems=journal.problems,
        set_aside=set_aside_files(state_dir),
        settling=settling(config.paths.run_dir),
    )


def settling(run_dir: str) -> bool:
    """Whether events wait: in the inbox, or held by a live daemon waiting out settle."""
    if Inbox(run_dir).pending():
        return True
    holder = lock_holder(run_dir)
    return (
        holder is not None and holder.role == "daemon" and SettlingFile(run_dir).since() is not None
    )


def judge(
    topology: Topology,
    state: NodeState,
    ours: ControllerStatus,
    marks: Marks | None = None,
    look: dict[str, object] | None = None,
) -> ControllerStatus:
    """`ours` with the state in one word and why groups that could be primary are not
    (split-brain marks and the guards' last look among the vetoes)."""
    vetoes = split_brain_vetoes(topology, marks or Marks(), ours.vetoes)
    ours = ours.model_copy(
        update={
            "vetoes": guard_vetoes(topology, look, vetoes),
            "guards": look,
            "guards_line": guards_line(look, time.time()),
        }
    )
    return ours.model_copy(
        update={"state": standing(ours), "reasons": not_primary_reasons(topology, state, ours)}
    )


def run_status(config_path: str | None, as_json: bool = False) -> int:
    """Print the node as observed; exit 1 when something could not be observed."""
    config = load_config(config_path)
    context = NodeContext(config)
    topology, state = context.observe()
    ours = controller_status(config, current_boottime(context.runner, config.timeouts.observe))
    marks = SplitBrainMarks(config.paths.state_dir).read()
    ours = judge(topology, state, ours, marks, last_look(config.paths.run_dir))
    if as_json:
        print(json.dumps(status_document(topology, state, ours), indent=2))
    else:
        print(status_text(topology, state, ours))
    return ExitCode.FAILED if state.problems else ExitCode.OK
