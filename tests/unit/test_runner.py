"""The command runner: argv only, timeouts, typed errors naming the command."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from carpswitch.config_rules import FREEBSD_COMMANDS
from carpswitch.engine.lock import ActorLock
from carpswitch.errors import CommandFailed, CommandNotFound, CommandStuck, CommandTimedOut
from carpswitch.system.runner import Runner


def test_successful_command_returns_its_output_and_status():
    result = Runner().run("/bin/sh", "-c", "echo out; echo err >&2")
    assert result.exit_status == 0
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert result.argv == ("/bin/sh", "-c", "echo out; echo err >&2")
    assert result.duration >= 0


def test_arguments_are_passed_verbatim_without_a_shell():
    result = Runner().run("/bin/echo", "a b", "$HOME", "*", ";", "`id`")
    assert result.stdout == "a b $HOME * ; `id`\n"


def test_command_name_resolves_through_the_config_table():
    runner = Runner({"hastctl": "/bin/echo"})
    assert runner.path_of("hastctl") == "/bin/echo"
    assert runner.run("hastctl", "status").stdout == "status\n"


def test_unconfigured_names_resolve_to_freebsd_paths():
    assert Runner().path_of("hastctl") == FREEBSD_COMMANDS["hastctl"] == "/sbin/hastctl"
    assert Runner().path_of("zpool") == "/sbin/zpool"


def test_missing_command_raises_command_not_found_naming_it(tmp_path):
    runner = Runner({"hastctl": str(tmp_path / "nope")})
    with pytest.raises(CommandNotFound) as caught:
        runner.run("hastctl", "status")
    assert caught.value.path == str(tmp_path / "nope")
    assert caught.value.argv == (str(tmp_path / "nope"), "status")
    assert "nope status: command not found" in str(caught.value)


def test_non_executable_file_is_not_found(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("#!/bin/sh\n")
    with pytest.raises(CommandNotFound):
        Runner().run(str(plain))


def test_directory_is_not_a_command(tmp_path):
    with pytest.raises(CommandNotFound):
        Runner().run(str(tmp_path))


def test_relative_name_without_table_entry_is_not_found():
    with pytest.raises(CommandNotFound):
        Runner().run("definitely-not-a-freebsd-command")


def test_non_zero_exit_raises_command_failed_with_status_and_stderr():
    with pytest.raises(CommandFailed) as caught:
        Runner().run("/bin/sh", "-c", "echo partial; echo 'it broke' >&2; exit 3")
    error = caught.value
    assert error.exit_status == 3
    assert error.stderr == "it broke\n"
    assert error.stdout == "partial\n"
    assert error.argv[0] == "/bin/sh"
    assert "exit status 3: it broke" in str(error)


def test_accepted_exit_codes_return_normally():
    result = Runner().run("/bin/sh", "-c", "exit 1", ok_codes=(0, 1))
    assert result.exit_status == 1


def test_death_by_signal_counts_as_128_plus_signal():
    with pytest.raises(CommandFailed) as caught:
        Runner().run("/bin/sh", "-c", "kill -TERM $$")
    assert caught.value.exit_status == 128 + 15


def test_timeout_kills_the_command_and_raises_command_timed_out():
    started = time.monotonic()
    with pytest.raises(CommandTimedOut) as caught:
        Runner().run("/bin/sh", "-c", "echo started; sleep 30", timeout=0.3)
    assert time.monotonic() - started < 5
    assert caught.value.timeout == 0.3
    assert "timed out after 0.3 s" in str(caught.value)
    assert caught.value.stdout == "started\n"


def test_timeout_also_kills_the_commands_children(tmp_path):
    pidfile = tmp_path / "child.pid"
    with pytest.raises(CommandTimedOut):
        Runner().run("/bin/sh", "-c", f"sleep 30 & echo $! > {pidfile}; wait", timeout=0.5)
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while psutil.pid_exists(child) and time.monotonic() < deadline:
        if psutil.Process(child).status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.05)
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_default_timeout_applies_when_none_is_given():
    with pytest.raises(CommandTimedOut):
        Runner(default_timeout=0.2).run("/bin/sleep", "10")


def test_stdin_is_fed_to_the_command():
    assert Runner().run("/bin/cat", stdin="hello\n").stdout == "hello\n"


def test_commands_run_in_the_c_locale():
    result = Runner(env={"PATH": os.environ["PATH"], "LANG": "de_DE.UTF-8"}).run(
        "/bin/sh", "-c", "echo $LANG $LC_ALL"
    )
    assert result.stdout == "C C\n"


def test_each_call_is_logged_at_debug_with_its_duration(caplog):
    caplog.set_level("DEBUG", logger="carpswitch.system.runner")
    Runner().run("/bin/true")
    assert any("/bin/true: exit 0 in" in r.getMessage() for r in caplog.records)


#: A grandchild in a session of its own keeps the command's stdout and stderr open: from
#: the runner's side the command has not ended after the SIGKILL of its group.
_HOLD_OUTPUT = (
    '"$0" -c "import os, time; os.setsid(); time.sleep(60)" & echo $! > "$1"; '
    "echo started; sleep 60"
)


def _kill_holder(pidfile):
    if pidfile.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_output_held_open_after_the_kill_is_reported_stuck_and_not_waited_for(tmp_path):
    pidfile = tmp_path / "holder.pid"
    runner = Runner(run_dir=str(tmp_path), stuck_grace=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(CommandStuck) as caught:
            runner.run("/bin/sh", "-c", _HOLD_OUTPUT, sys.executable, str(pidfile), timeout=0.5)
        assert time.monotonic() - started < 0.5 + 1.0 + 1.5
    finally:
        _kill_holder(pidfile)
    error = caught.value
    assert isinstance(error, CommandTimedOut)  # existing timeout handling applies
    assert (error.timeout, error.grace) == (0.5, 1.0)
    assert error.stdout == "started\n"
    assert "had not ended 1 s after SIGKILL" in str(error)
    assert len(list((tmp_path / "inflight").iterdir())) == 1  # for the next actor
    with ActorLock(str(tmp_path)):  # leader and group are gone: the record is dropped
        assert list((tmp_path / "inflight").iterdir()) == []


def _alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_command_that_survives_sigkill_is_reported_stuck_and_left_to_the_next_actor(
    tmp_path, monkeypatch
):
    real_killpg = os.killpg

    def in_the_kernel(group, sig):  # SIGKILL has no effect until the kernel lets go
        if sig != signal.SIGKILL:
            real_killpg(group, sig)

    monkeypatch.setattr(os, "killpg", in_the_kernel)
    pidfile = tmp_path / "command.pid"
    runner = Runner(run_dir=str(tmp_path), stuck_grace=1.0)
    started = time.monotonic()
    try:
        with ActorLock(str(tmp_path)), pytest.raises(CommandStuck):
            runner.run("/bin/sh", "-c", f"echo $$ > {pidfile}; exec sleep 60", timeout=0.5)
        assert time.monotonic() - started < 0.5 + 1.0 + 1.5  # not the command's 60 s
        pid = int(pidfile.read_text())
        assert _alive(pid)
        assert len(list((tmp_path / "inflight").iterdir())) == 1
        monkeypatch.undo()  # the kernel lets go
        with ActorLock(str(tmp_path)):  # the lock was released; the next actor ends it
            assert not _alive(pid)
            assert list((tmp_path / "inflight").iterdir()) == []
    finally:
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError):
                real_killpg(int(pidfile.read_text()), signal.SIGKILL)


def test_a_command_that_ends_normally_is_not_waited_for_longer(tmp_path):
    started = time.monotonic()
    Runner(run_dir=str(tmp_path), stuck_grace=5.0).run("/bin/sleep", "0.1", timeout=10)
    assert time.monotonic() - started < 2


def test_an_interrupted_run_kills_its_command(tmp_path, monkeypatch):
    pidfile = tmp_path / "sleep.pid"

    def interrupted(self, *args, **kwargs):  # e.g. KeyboardInterrupt while waiting
        deadline = time.monotonic() + 5
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        raise KeyboardInterrupt

    monkeypatch.setattr(subprocess.Popen, "communicate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Runner(run_dir=str(tmp_path)).run(
            "/bin/sh", "-c", f"echo $$ > {pidfile}; exec sleep 30", timeout=30
        )
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
