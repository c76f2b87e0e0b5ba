"""The simulated hastd's `exec` runner (carpswitch.lab.hastd.hooks), as hooks.c runs it."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from carpswitch.lab.hastd import hooks
from carpswitch.lab.hastd.resources import ResourceConfig, ResourceTable, Role


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "hast-hook"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(stat.S_IRWXU)
    return path


def settled(log=print) -> bool:
    """Reap the hooks that ended; True once none runs."""
    hooks.check(log)
    return not hooks.running()


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(autouse=True)
def no_hook_left():
    yield
    assert wait_for(lambda: settled(lambda _m: None))


def test_the_event_words_follow_the_path(tmp_path):
    out = tmp_path / "argv"
    path = script(tmp_path, f'echo "$*" > {out}.tmp; mv {out}.tmp {out}')
    hooks.fire(str(path), print, "role", "tank", "init", "secondary")
    assert wait_for(out.exists)
    assert out.read_text() == "role tank init secondary\n"


def test_argv0_is_the_basename_of_the_path(tmp_path, monkeypatch):
    """execv(path, argv) with argv[0] = basename(path): a script's $0 is the path the
    kernel ran, so argv[0] is seen where it is handed over."""
    seen: dict[str, object] = {}

    class Spy:
        pid = 4242

        def __init__(self, args, executable, **kwargs):
            seen.update(args=args, executable=executable, **kwargs)

        def poll(self):
            return 0

    monkeypatch.setattr(subprocess, "Popen", Spy)
    hooks.fire("/usr/local/libexec/carpswitch-hast-event", print, "connect", "tank")
    assert seen["args"] == ["carpswitch-hast-event", "connect", "tank"]
    assert seen["executable"] == "/usr/local/libexec/carpswitch-hast-event"
    assert seen["stdin"] is seen["stdout"] is seen["stderr"] is subprocess.DEVNULL


def test_the_hook_is_not_waited_for_and_stdin_is_dev_null(tmp_path):
    out = tmp_path / "stdin"
    path = script(tmp_path, f"cat > {out}.tmp; mv {out}.tmp {out}; sleep 1")
    pid = hooks.fire(str(path), print, "connect", "tank")
    assert pid in hooks.running()  # fire returned while the hook runs on
    assert wait_for(out.exists)
    assert out.read_text() == ""


def test_a_failing_or_missing_hook_is_logged_as_hooks_c_does(tmp_path):
    logged: list[str] = []
    path = script(tmp_path, "exit 3")
    pid = hooks.fire(str(path), logged.append, "split-brain", "tank")
    assert wait_for(lambda: settled(logged.append))
    assert logged == [
        f"Hook exited ungracefully (pid={pid}, exitcode=3, cmd=[{path} split-brain tank])."
    ]
    assert hooks.fire(str(tmp_path / "none"), logged.append, "connect", "tank") is None
    assert logged[-1].startswith("Hook exited ungracefully (pid=0, exitcode=70")


def test_no_exec_no_hook():
    assert hooks.fire(None, print, "connect", "tank") is None
    assert hooks.fire("", print, "connect", "tank") is None


def test_a_hook_the_parent_reaped_is_reported_once(tmp_path):
    logged: list[str] = []
    pid = hooks.fire(str(script(tmp_path, "kill -9 $$")), logged.append, "connect", "tank")
    assert pid is not None
    _, status = os.waitpid(pid, 0)  # hastd.c's waitpid(-1) loop gets there first
    assert hooks.reaped(pid, status, logged.append) is True
    assert hooks.reaped(pid, status, logged.append) is False  # not a hook any more
    assert logged == [
        f"Hook was killed (pid={pid}, signal=9, cmd=[{tmp_path}/hast-hook connect tank])."
    ]


class Launcher:
    def __init__(self):
        self.pids = iter(range(1000, 2000))

    def start(self, resource, role, peer_connected, session=None):
        return next(self.pids)

    def stop(self, pid):
        pass

    def remote_connected(self, resource):
        pass


def test_every_role_change_runs_the_role_event_with_old_and_new(tmp_path):
    out = tmp_path / "roles"
    path = script(tmp_path, f'echo "$*" >> {out}')
    config = ResourceConfig(
        name="tank",
        provider_name="tank",
        local_path="/dev/null",
        remote_address="none",
        exec_path=str(path),
    )
    table = ResourceTable([config], Launcher())
    table.set_role("tank", Role.SECONDARY)
    assert wait_for(lambda: out.exists() and out.read_text().count("\n") == 1)
    table.set_role("tank", Role.SECONDARY)  # unchanged: no event
    table.set_role("tank", Role.PRIMARY)
    assert wait_for(lambda: out.read_text().count("\n") == 2)
    assert wait_for(settled)
    assert sorted(out.read_text().splitlines()) == [
        "role tank init secondary",
        "role tank secondary primary",
    ]
