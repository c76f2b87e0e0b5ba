"""A paused node observes and runs nothing; `resume` catches up with CARP."""

from __future__ import annotations

from carpswitch.model import TransitionOutcome
from tests.node.test_intake_helpers import IntakeNode


def test_a_paused_node_runs_nothing_until_resumed(make_lab_node):
    intake = IntakeNode(make_lab_node(carp_state="BACKUP"), settle=0.2)
    paused = intake.carpswitch("pause", "replacing", "a", "disk")
    assert paused.returncode == 0, paused.stderr
    for state in ("MASTER", "BACKUP", "MASTER"):
        intake.carp_event(state)
    intake.wait_quiet()
    # (a paused `reconcile --boot` would leave the boot window open: see test_intake_boot)
    assert intake.carpswitch("reconcile").stdout == "nothing to do\n"
    assert intake.role() == "init"
    assert intake.journal() == []
    status = intake.carpswitch("status")
    assert "replacing a disk" in status.stdout

    resumed = intake.carpswitch("resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "reconciling now" in resumed.stdout
    intake.wait_quiet()
    assert intake.role() == "primary"
    (record,) = intake.journal()
    assert (record.kind, record.trigger, record.outcome) == (
        "promote",
        "resume",
        TransitionOutcome.SUCCEEDED,
    )


def test_the_pause_survives_like_a_reboot_would_leave_it(make_lab_node):
    intake = IntakeNode(make_lab_node(carp_state="MASTER"), settle=0.2)
    assert intake.carpswitch("pause").returncode == 0
    # a reboot clears run_dir (/var/run) but not state_dir (/var/db), where the flag lives
    for leftover in intake.node.paths.carpswitch_run_dir.iterdir():
        if leftover.is_file():
            leftover.unlink()
    result = intake.carpswitch("reconcile", "--boot")
    assert result.returncode == 0
    assert intake.role() == "init"
