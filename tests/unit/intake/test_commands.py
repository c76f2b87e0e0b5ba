"""`carpswitch pause`, `resume` and `reconcile` (controller faked)."""

import contextlib
import logging
import socket
from datetime import UTC, datetime

import pytest

from carpswitch import logsetup
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
    run_dir = tmp_path / "run"
    (run_dir / "intake.sock" / "blocker").mkdir(parents=True)  # cannot be removed for bind
    config = tmp_path / "c.toml"
    config.write_text(f'[paths]\nrun_dir = "{run_dir}"\n')
    assert commands.run_daemon(str(config)) == 71
    assert "daemon:" in capsys.readouterr().err


@pytest.fixture
def syslog(tmp_path, monkeypatch):
    """A syslogd stand-in: a datagram socket where setup_logging finds one."""
    path = str(tmp_path / "log")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(5)
    monkeypatch.setattr(logsetup, "SYSLOG_SOCKETS", (path,))
    yield server
    for handler in logging.getLogger("carpswitch").handlers:
        handler.close()
    logging.getLogger("carpswitch").handlers.clear()
    server.close()


def _syslog_lines(server: socket.socket) -> list[str]:
    lines = []
    server.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:
            lines.append(server.recv(4096).decode().rstrip("\x00"))
    return lines


def test_a_daemon_whose_socket_path_is_too_long_is_a_config_error_in_syslog_and_stderr(
    tmp_path, syslog, capsys
):
    # AF_UNIX paths are limited (104 bytes on FreeBSD, 108 on Linux): bind() fails with no
    # errno and names no path; under daemon(8) -R 5 this failed every 5 s, silently. The
    # config rules refuse such a run_dir before anything starts.
    run_dir = tmp_path / ("r" * 110)
    config = tmp_path / "c.toml"
    config.write_text(f'[paths]\nrun_dir = "{run_dir}"\nstate_dir = "{tmp_path}/db"\n')
    assert main(["-c", str(config), "daemon"]) == 78
    err = capsys.readouterr().err
    assert err.startswith(f"carpswitch: daemon: cannot run: configuration error: {config}: ")
    assert "paths.run_dir" in err and err.count("\n") == 1, err
    lines = _syslog_lines(syslog)
    assert len(lines) == 1 and "paths.run_dir" in lines[0], lines


def test_a_daemon_that_cannot_bind_its_socket_says_so_in_syslog_and_stderr(
    tmp_path, syslog, capsys
):
    run_dir = tmp_path / "run"
    (run_dir / "intake.sock").mkdir(parents=True)
    run_dir.chmod(0o700)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[paths]\nrun_dir = "{run_dir}"\nstate_dir = "{tmp_path}/db"\n'
        f'devd_socket = "{tmp_path}/no-devd"\n'
    )
    assert main(["-c", str(config), "daemon"]) == 71
    err = capsys.readouterr().err
    want = f"{run_dir}/intake.sock: Is a directory"
    assert err == f"carpswitch: daemon: cannot run: {want}\n"
    lines = _syslog_lines(syslog)
    assert len(lines) == 1 and lines[0].endswith(f"]: daemon: cannot run: {want}"), lines


def test_a_daemon_with_an_invalid_config_logs_one_line_and_exits_78(tmp_path, syslog, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[intake]\nsettle = "soon"\ntimer = -1\n')
    assert main(["-c", str(config), "daemon"]) == 78
    err = capsys.readouterr().err
    assert err.startswith(f"carpswitch: daemon: cannot run: configuration error: {config}: ")
    assert err.count("\n") == 1, err
    lines = _syslog_lines(syslog)
    assert len(lines) == 1 and "daemon: cannot run: configuration error: " in lines[0], lines


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
