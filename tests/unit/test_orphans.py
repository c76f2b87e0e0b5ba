"""Ending what a dead actor left running: real processes, real records, bounded waits."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from carpswitch.system.identity import boot_time, identify
from carpswitch.system.inflight import INFLIGHT_ENV
from carpswitch.system.orphans import end_orphans
from tests.node.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]

#: An actor: runs one command through the runner (recorded in RUN_DIR) and hangs in it.
_ACTOR = """
import sys
from carpswitch.system.runner import Runner
Runner(run_dir=sys.argv[1]).run("/bin/sh", "-c", sys.argv[2], timeout=600)
"""
#: The command: a leader plus a child in its group; both pids go to a file.
_COMMAND = 'sleep 60 & echo "$$ $!" > {pids}; wait'


def _alive(pid: int) -> bool:
    return identify(pid) is not None


def _has_pid_line(run_dir: Path) -> bool:
    for path in _records(run_dir):
        lines = path.read_text().splitlines()
        if len(lines) == 2 and "command" in json.loads(lines[1]):
            return True
    return False


def _records(run_dir: Path) -> list[Path]:
    directory = run_dir / "inflight"
    return list(directory.iterdir()) if directory.exists() else []


@pytest.fixture
def actor(tmp_path):
    """Start an actor whose command hangs; yield (actor, [leader, child]); kill all after."""
    pidfile = tmp_path / "pids"
    started: list[subprocess.Popen[bytes]] = []
    pids: list[int] = []

    def start() -> tuple[subprocess.Popen[bytes], list[int]]:
        process = subprocess.Popen(
            [sys.executable, "-c", _ACTOR, str(tmp_path), _COMMAND.format(pids=pidfile)],
            cwd=ROOT,
        )
        started.append(process)
        assert wait_until(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2, 15)
        pids.extend(int(p) for p in pidfile.read_text().split())
        assert wait_until(lambda: _has_pid_line(tmp_path), 15)
        return process, list(pids)

    yield start
    for process in started:
        process.kill()
        process.wait()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_dead_actors_command_group_is_killed_and_its_record_removed(tmp_path, actor, caplog):
    process, (leader, child) = actor()
    process.kill()
    process.wait()
    assert _alive(leader) and _alive(child)  # its own session: SIGKILL of the actor spares it
    assert end_orphans(str(tmp_path)) == []
    assert not _alive(leader)
    assert not _alive(child)
    assert _records(tmp_path) == []
    assert "ending /bin/sh -c sleep 60" in caplog.text
    assert f"left running by carpswitch pid {process.pid}" in caplog.text


def test_a_live_actors_commands_are_left_alone(tmp_path, actor):
    _process, (leader, child) = actor()
    assert end_orphans(str(tmp_path)) == []
    assert _alive(leader) and _alive(child)
    assert len(_records(tmp_path)) == 1


def _write_record(
    run_dir: Path, token: str, head: dict[str, object], tail: dict[str, object] | None = None
) -> Path:
    directory = run_dir / "inflight"
    directory.mkdir(mode=0o700, exist_ok=True)
    path = directory / token
    lines = [json.dumps(head)] + ([json.dumps(tail)] if tail is not None else [])
    path.write_text("\n".join(lines) + "\n")
    return path


def _dead_owner() -> list[float]:
    gone = subprocess.Popen(["/bin/true"])
    gone.wait()
    return [gone.pid, 1.0]


@pytest.fixture
def bystander():
    """A process in its own session that no record of ours started."""
    process = subprocess.Popen(["/bin/sleep", "60"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def _start(pid: int) -> float:
    identity = identify(pid)
    assert identity is not None
    return identity.start


def test_a_reused_pid_is_not_killed(tmp_path, bystander):
    start = _start(bystander.pid)
    head = {"owner": _dead_owner(), "boot": boot_time(), "argv": ["/sbin/zpool", "export"]}
    path = _write_record(tmp_path, "reused", head, {"command": [bystander.pid, start - 30]})
    assert end_orphans(str(tmp_path)) == []
    assert _alive(bystander.pid)
    assert not path.exists()


def test_a_record_of_an_earlier_boot_kills_nothing(tmp_path, bystander):
    start = _start(bystander.pid)
    head = {"owner": _dead_owner(), "boot": boot_time() - 86400, "argv": ["/sbin/fsck"]}
    path = _write_record(tmp_path, "oldboot", head, {"command": [bystander.pid, start]})
    assert end_orphans(str(tmp_path)) == []
    assert _alive(bystander.pid)
    assert not path.exists()


@contextlib.contextmanager
def _carrying(token: str) -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own session with `token` in its environment, as the runner starts."""
    process = subprocess.Popen(
        ["/bin/sleep", "60"], start_new_session=True, env={**os.environ, INFLIGHT_ENV: token}
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_command_spawned_just_before_its_actor_died_is_found_by_its_token(tmp_path):
    head = {"owner": _dead_owner(), "boot": boot_time(), "argv": ["/bin/sleep", "60"]}
    path = _write_record(tmp_path, "f00dfeedf00dfeed", head)  # write 2 never happened
    with _carrying("f00dfeedf00dfeed") as spawned:
        assert end_orphans(str(tmp_path)) == []
        assert wait_until(lambda: spawned.poll() is not None, 3)
        assert spawned.returncode == -signal.SIGKILL
    assert not path.exists()


def test_a_token_carrier_started_long_after_the_record_is_not_its_command(tmp_path):
    head = {"owner": _dead_owner(), "boot": boot_time(), "argv": ["/bin/sleep", "60"]}
    path = _write_record(tmp_path, "0123456789abcdef", head)
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    with _carrying("0123456789abcdef") as later:
        assert end_orphans(str(tmp_path)) == []
        assert later.poll() is None
    assert not path.exists()


def test_an_orphan_that_survives_sigkill_keeps_its_record_and_the_actor_goes_on(
    tmp_path, actor, monkeypatch, caplog
):
    process, (leader, child) = actor()
    process.kill()
    process.wait()
    real_killpg = os.killpg

    def unkillable(group: int, sig: int) -> None:  # a process stuck in the kernel
        if sig != signal.SIGKILL:
            real_killpg(group, sig)

    monkeypatch.setattr(os, "killpg", unkillable)
    started = time.monotonic()
    [left] = end_orphans(str(tmp_path), wait=0.3)
    assert time.monotonic() - started < 2
    assert left.group == leader
    assert _alive(leader) and _alive(child)
    assert len(_records(tmp_path)) == 1
    assert "still runs 0.3 s after SIGKILL" in caplog.text
    monkeypatch.undo()
    assert end_orphans(str(tmp_path)) == []  # the next actor tries again
    assert not _alive(leader) and not _alive(child)
    assert _records(tmp_path) == []


def test_no_records_no_run_dir_no_work(tmp_path):
    assert end_orphans(str(tmp_path / "no-run-dir")) == []
    assert not (tmp_path / "no-run-dir").exists()
    assert end_orphans(str(tmp_path)) == []
