"""What `status` is told about intake."""

import os
from pathlib import Path

from carpswitch.config import parse_config
from carpswitch.engine.pause import PauseFlag
from carpswitch.intake.describe import describe_intake, lock_holder
from carpswitch.intake.inbox import Inbox, IntakeEvent
from carpswitch.intake.lockfile import IntakeLock
from carpswitch.intake.wire import intake_socket_path


def config_in(tmp_path):
    return parse_config(
        {"paths": {"run_dir": str(tmp_path / "run"), "state_dir": str(tmp_path / "db")}}
    )


def test_an_idle_node_without_a_daemon(tmp_path):
    assert describe_intake(config_in(tmp_path)) == [
        "automatic transitions: on",
        "daemon: not running (the devd hook starts a worker per burst)",
    ]


def test_paused_with_its_reason_and_events_waiting(tmp_path):
    config = config_in(tmp_path)
    PauseFlag(config.paths.state_dir).set("disk swap")
    Inbox(config.paths.run_dir).record(IntakeEvent("hook", "MASTER", "1@vtnet0"))
    lines = describe_intake(config)
    assert lines[0].startswith("paused: ")
    assert "disk swap" in lines[0]
    assert "carpswitch resume" in lines[0]
    assert lines[-1] == "events waiting: 1"


def test_the_daemon_holding_the_lock_is_named_with_its_pid(tmp_path):
    config = config_in(tmp_path)
    lock = IntakeLock(config.paths.run_dir, "daemon")
    lock.try_acquire()
    try:
        assert f"daemon: running (pid {os.getpid()})" in describe_intake(config)
    finally:
        lock.release()


def test_an_acting_worker_is_named(tmp_path):
    config = config_in(tmp_path)
    lock = IntakeLock(config.paths.run_dir, "worker")
    lock.try_acquire()
    try:
        assert f"daemon: not running; worker acting (pid {os.getpid()})" in describe_intake(config)
    finally:
        lock.release()


def test_a_socket_left_by_a_dead_daemon_is_called_stale(tmp_path):
    config = config_in(tmp_path)
    (tmp_path / "run").mkdir()
    Path(intake_socket_path(config.paths.run_dir)).write_text("")
    assert "stale socket" in describe_intake(config)[1]


def test_a_dead_holder_named_in_the_lock_file_is_not_a_holder(tmp_path):
    (tmp_path / "intake.lock").write_text("999999999 worker\n")
    assert lock_holder(str(tmp_path)) is None
    (tmp_path / "intake.lock").write_text("garbage\n")
    assert lock_holder(str(tmp_path)) is None
