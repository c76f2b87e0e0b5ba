"""A worker SIGKILLed mid-transition: the next event or the daemon finishes the job."""

from __future__ import annotations

import os
import signal

import psutil

from carpswitch.engine.journal import Journal
from carpswitch.intake.describe import lock_holder
from carpswitch.lab.faults import Fault
from carpswitch.model import TransitionOutcome
from tests.node.test_intake_helpers import IntakeNode, assert_never_overlapping, wait_until

#: `hastctl role primary` hangs (then fails) once: the promotion stops in the middle.
HANG_ROLE_PRIMARY = Fault(
    command="hastctl", args=r"^role\b.*\bprimary\b", hang=300, exit=1, times=1
)


def start_stuck_promotion(intake: IntakeNode) -> int:
    """CARP MASTER, the hook starts a worker, its promotion hangs; return the worker pid."""
    intake.node.set_faults([HANG_ROLE_PRIMARY])
    intake.carp_event("MASTER")
    journal = Journal(intake.state_dir)
    assert wait_until(lambda: journal.running(), timeout=30), "the promotion did not start"
    holder = lock_holder(intake.run_dir)
    assert holder is not None
    assert holder.role == "worker"
    assert wait_until(lambda: _hanging_role_command(intake), timeout=30)
    assert intake.role() != "primary"
    return holder.pid


def _hanging_role_command(intake: IntakeNode) -> bool:
    for process in intake.node.processes():
        try:
            argv = process.cmdline()
        except psutil.Error:
            continue
        if any(a.endswith("/hastctl") for a in argv) and "role" in argv and "primary" in argv:
            return True
    return False


def test_the_next_event_finishes_what_a_killed_worker_began(make_lab_node):
    intake = IntakeNode(make_lab_node(carp_state="BACKUP"), settle=0.2, role_timeout=600)
    worker = start_stuck_promotion(intake)
    os.kill(worker, signal.SIGKILL)
    assert wait_until(lambda: not intake.workers())
    assert intake.role() != "primary"
    intake.hook("MASTER")  # devd's next event (the same state again, or any other)
    intake.wait_quiet()
    assert intake.role() == "primary"
    records = intake.journal()
    assert [r.outcome for r in records] == [
        TransitionOutcome.INTERRUPTED,
        TransitionOutcome.SUCCEEDED,
    ]
    assert records[0].pid == worker
    assert_never_overlapping(records)


def test_a_daemon_waiting_for_the_lock_takes_over_from_a_killed_worker(make_lab_node):
    intake = IntakeNode(make_lab_node(carp_state="BACKUP"), settle=0.2, role_timeout=600)
    worker = start_stuck_promotion(intake)
    with intake.daemon() as daemon:
        assert wait_until(lambda: "waiting for" in intake.daemon_log(), timeout=30)
        os.kill(worker, signal.SIGKILL)
        assert wait_until(lambda: intake.role() == "primary", timeout=60), intake.daemon_log()
        holder = lock_holder(intake.run_dir)
        assert holder is not None
        assert holder.pid == daemon.pid
    assert [r.outcome for r in intake.journal()] == [
        TransitionOutcome.INTERRUPTED,
        TransitionOutcome.SUCCEEDED,
    ]


def test_the_daemon_timer_heals_a_missed_event(make_lab_node):
    intake = IntakeNode(make_lab_node(carp_state="BACKUP"), settle=0.2, timer=1.0)
    with intake.daemon():
        assert wait_until(lambda: "rounds (daemon start" in intake.daemon_log(), timeout=30)
        assert intake.role() == "secondary"
        intake.node.set_carp("MASTER")  # no devd event: the hook never runs
        assert wait_until(lambda: intake.role() == "primary", timeout=30), intake.daemon_log()
    records = intake.journal()
    assert records[-1].trigger == "timer"
    assert records[-1].outcome is TransitionOutcome.SUCCEEDED
