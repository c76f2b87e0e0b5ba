"""`carpswitch pause`, `resume` and `reconcile` (controller faked)."""

from datetime import UTC, datetime

import pytest

from carpswitch.cli import main
from carpswitch.commands import intake as commands
from carpswitch.engine.lock import LockBusy
from carpswitch.engine.pause import PauseFlag
from carpswitch.intake.inbox import Inbox
from carpswitch.intake.lockfile import IntakeLock
from carpswitch.model import TransitionKind, TransitionOutcome, TransitionRecord


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'[paths]\nrun_dir = "{tmp_path}/run"\nstate_dir = "{tmp_path}/db"\n')
    return str(path)


def test_pause_sets_the_flag_with_its_reason(config, tmp_path, capsys):
    assert commands.run_pause(config, "replacing a disk") == 0
    assert "replacing a disk" in (PauseFlag(str(tmp_path / "db")).reason() or "")
    assert "until `carpswitch resume`" in capsys.readouterr().out


def test_resume_lifts_the_pause_and_wakes_intake(config, tmp_path, capsys):
    commands.run_pause(config, "maintenance")
    worker = IntakeLock(str(tmp_path / "run"), "worker")  # a worker is acting: none is started
    worker.try_acquire()
    try:
        assert commands.run_resume(config) == 0
    finally:
        worker.release()
    assert not PauseFlag(str(tmp_path / "db")).is_set()
    events = Inbox(str(tmp_path / "run")).take().events
    assert [e.origin for e in events] == ["resume"]
    assert "resumed; reconciling now" in capsys.readouterr().out


def test_resume_when_not_paused_says_so_and_wakes_nothing(config, tmp_path, capsys):
    assert commands.run_resume(config) == 0
    assert "was not paused" in capsys.readouterr().out
    assert Inbox(str(tmp_path / "run")).pending() == 0


class FakeController:
    def __init__(self, records=(), busy=False):
        self.records = list(records)
        self.busy = busy
        self.calls = []
        self.waited = False
        self.unsettled = []
        self.errors = []

    def reconcile(self, trigger, boot=False, flapping=False, should_stop=lambda: False):
        self.stop_seen = should_stop()
        self.calls.append((trigger, boot))
        if self.busy:
            raise LockBusy("another carpswitch is acting (pid 7)")
        return self.records

    def wait_for_notifications(self):
        self.waited = True


@pytest.fixture
def fake_controller(mocker):
    def install(**kwargs):
        fake = FakeController(**kwargs)
        mocker.patch.object(commands, "Controller", return_value=fake)
        mocker.patch.object(commands, "NodeContext")
        return fake

    return install


def test_reconcile_boot_runs_the_controller_with_boot_rules(config, fake_controller, capsys):
    fake = fake_controller()
    assert commands.run_reconcile(config, boot=True) == 0
    assert fake.calls == [("boot reconcile", True)]
    assert fake.waited
    assert capsys.readouterr().out == "nothing to do\n"


def test_reconcile_by_hand_is_not_boot(config, fake_controller):
    fake = fake_controller()
    commands.run_reconcile(config)
    assert fake.calls == [("admin reconcile", False)]


def test_reconcile_while_another_acts_exits_75(config, fake_controller, capsys):
    fake_controller(busy=True)
    assert main(["-c", config, "reconcile"]) == 75
    assert "pid 7" in capsys.readouterr().err


def test_a_daemon_that_cannot_bind_its_socket_exits_71(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = tmp_path / "c.toml"
    config.write_text(f'[paths]\nrun_dir = "{blocker}/run"\n')
    assert commands.run_daemon(str(config)) == 71
    assert "daemon:" in capsys.readouterr().err


def test_reconcile_exits_1_when_a_transition_failed(config, fake_controller, capsys):
    failed = TransitionRecord(
        id="t1",
        kind=TransitionKind.PROMOTE,
        group="storage",
        trigger="admin reconcile",
        reason="CARP vhid 1 is MASTER",
        started_at=datetime.now(UTC),
        outcome=TransitionOutcome.FAILED,
    )
    fake_controller(records=[failed])
    assert commands.run_reconcile(config) == 1
    assert capsys.readouterr().out == "promote storage: failed (CARP vhid 1 is MASTER)\n"
