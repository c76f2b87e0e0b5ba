"""The command runner: argv only, timeouts, typed errors naming the command."""

import os
import time

import psutil
import pytest

from carpswitch.errors import CommandFailed, CommandNotFound, CommandTimedOut
from carpswitch.system.runner import FREEBSD_COMMANDS, Runner


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
