"""The devd hook: argv handling, recording, handing on, and its exit statuses."""

import os
import socket
import subprocess
import sys

import pytest

from carpswitch.devd import hook
from carpswitch.intake.inbox import Inbox, decode_event
from carpswitch.intake.lockfile import IntakeLock
from carpswitch.intake.wire import intake_socket_path


@pytest.fixture
def node(tmp_path):
    """A config whose run_dir and state_dir live under tmp_path."""
    config = tmp_path / "carpswitch.toml"
    config.write_text(f'[paths]\nrun_dir = "{tmp_path}/run"\nstate_dir = "{tmp_path}/db"\n')
    return tmp_path, str(config)


@pytest.fixture
def syslog_lines(mocker):
    lines = []
    mocker.patch("syslog.openlog")
    mocker.patch("syslog.syslog", side_effect=lambda prio, msg: lines.append(msg))
    return lines


@pytest.fixture
def spawned(mocker):
    return mocker.patch.object(hook, "start_detached", return_value=4242)


@pytest.fixture
def daemon_socket(node):
    root, _config = node
    (root / "run").mkdir()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(intake_socket_path(str(root / "run")))
    sock.settimeout(5)
    yield sock
    sock.close()


@pytest.mark.parametrize(
    "words",
    [
        ["master"],
        ["master", "1@vtnet0", "extra"],
        ["master", "0@vtnet0"],
        ["master", "1@"],
        ["backup", "no such interface!"],
        ["master", "backup"],
        ["sideways", "1@vtnet0"],
    ],
)
def test_bad_arguments_exit_64_with_one_syslog_and_stderr_line_and_nothing_else(
    node, syslog_lines, spawned, capsys, words
):
    root, config = node
    assert hook.run_hook(words, config) == 64
    assert len(syslog_lines) == 1
    assert "bad arguments" in syslog_lines[0]
    assert capsys.readouterr() == ("", f"carpswitch: {syslog_lines[0]}\n")
    assert not (root / "run").exists()
    spawned.assert_not_called()


@pytest.mark.parametrize(
    ("words", "state", "subsystem"),
    [
        (["master", "1@vtnet0"], "MASTER", "1@vtnet0"),
        (["BACKUP", "2@em0"], "BACKUP", "2@em0"),
        (["Master", "vtnet0"], "MASTER", "vtnet0"),
        (["3@lagg0", "backup"], "BACKUP", "3@lagg0"),
    ],
)
def test_the_event_is_recorded_as_devd_or_the_handbook_passes_it(
    node, syslog_lines, spawned, words, state, subsystem
):
    root, config = node
    assert hook.run_hook(words, config) == 0
    events = Inbox(str(root / "run")).take().events
    assert [(e.origin, e.state, e.subsystem) for e in events] == [("hook", state, subsystem)]
    assert events[0].at > 0


def test_with_no_daemon_and_no_worker_a_worker_is_started(node, syslog_lines, spawned):
    _root, config = node
    assert hook.run_hook(["master", "1@vtnet0"], config, verbose=1) == 0
    argv = spawned.call_args.args[0]
    assert argv[1:] == ["-m", "carpswitch.intake.worker", "-c", config, "-v"]
    assert syslog_lines == ["hook MASTER 1@vtnet0: started worker 4242"]


def test_with_a_worker_acting_no_other_is_started(node, syslog_lines, spawned):
    root, config = node
    lock = IntakeLock(str(root / "run"), "worker")
    assert lock.try_acquire()
    try:
        assert hook.run_hook(["backup", "1@vtnet0"], config) == 0
    finally:
        lock.release()
    spawned.assert_not_called()
    assert Inbox(str(root / "run")).pending() == 1
    assert "already acting" in syslog_lines[0]


def test_with_a_daemon_listening_the_event_is_handed_to_it(
    node, syslog_lines, spawned, daemon_socket
):
    root, config = node
    assert hook.run_hook(["master", "1@vtnet0"], config) == 0
    handed = decode_event(daemon_socket.recv(8192))
    assert (handed.state, handed.subsystem) == ("MASTER", "1@vtnet0")
    assert Inbox(str(root / "run")).pending() == 1  # recorded as well
    spawned.assert_not_called()
    assert syslog_lines == ["hook MASTER 1@vtnet0: handed to the daemon"]


def test_a_broken_config_exits_78_with_one_syslog_line(tmp_path, syslog_lines, spawned):
    config = tmp_path / "bad.toml"
    config.write_text("[paths\n")
    assert hook.run_hook(["master", "1@vtnet0"], str(config)) == 78
    assert len(syslog_lines) == 1
    assert str(config) in syslog_lines[0]
    spawned.assert_not_called()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[resource]]\nname = "tank"\nkind = "ext4"\n', "resource[0].kind: expected one of"),
        (
            '[[group]]\nname = "g"\nvhid = 0\nresources = ["tank"]\n',
            "group[0].vhid: expected an integer from 1 to 255, not 0",
        ),
        ('[paths]\nrun_dri = "/x"\n', "paths.run_dri: unknown key"),
        ('[intake]\nsettle = "1"\n', 'intake.settle: expected seconds from 0 to 86400, not "1"'),
    ],
)
def test_a_config_the_worker_would_refuse_fails_the_hook_with_78(
    tmp_path, syslog_lines, spawned, capsys, text, problem
):
    """Valid TOML, invalid config: the hook exited 0 and the worker 78 unseen (item 24)."""
    config = tmp_path / "c.toml"
    config.write_text(f'[paths]\nrun_dir = "{tmp_path}/run"\n' + text.replace("[paths]\n", ""))
    assert hook.run_hook(["master", "1@vtnet0"], str(config)) == 78
    (line,) = syslog_lines
    assert line.startswith(f"hook MASTER 1@vtnet0: not handled: {config}: {problem}")
    assert capsys.readouterr() == ("", f"carpswitch: {line}\n")
    assert not (tmp_path / "run").exists()  # nothing recorded: nothing changed on disk
    spawned.assert_not_called()


def test_several_problems_are_one_line_pointing_at_check(tmp_path, syslog_lines, spawned):
    config = tmp_path / "c.toml"
    config.write_text("[node]\nnmae = 1\n[intake]\ntimer = 0\nbogus = 2\n")
    assert hook.run_hook(["master", "1@vtnet0"], str(config)) == 78
    (line,) = syslog_lines
    assert line.endswith("(and 2 more: see carpswitch check)")


def test_a_fifo_as_config_is_refused_at_once(tmp_path, syslog_lines, spawned):
    """A FIFO hung the hook in open() (item 24); pytest-timeout would catch a hang."""
    fifo = tmp_path / "c.toml"
    os.mkfifo(fifo)
    assert hook.run_hook(["master", "1@vtnet0"], str(fifo)) == 78
    assert syslog_lines[0].endswith(f"{fifo}: a FIFO, not a regular file")
    spawned.assert_not_called()


@pytest.mark.parametrize(
    ("config", "status", "end"),
    [
        ("/dev/zero", 78, "/dev/zero: a character device, not a regular file"),
        ("", 64, "-c: empty path"),
    ],
)
def test_configs_that_are_no_file_are_refused(syslog_lines, spawned, capsys, config, status, end):
    assert hook.run_hook(["backup", "1@vtnet0"], config) == status
    assert syslog_lines[0].endswith(end)
    assert capsys.readouterr().err.endswith(end + "\n")
    spawned.assert_not_called()


def test_an_event_of_a_vhid_no_group_has_is_logged_and_ignored(
    tmp_path, syslog_lines, spawned, capsys
):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[paths]\nrun_dir = "{tmp_path}/run"\n'
        '[[group]]\nname = "storage"\nvhid = 1\ninterface = "vtnet0"\nresources = ["tank"]\n'
    )
    for subsystem in ("2@vtnet0", "1@vtnet1"):
        assert hook.run_hook(["master", subsystem], str(config)) == 0
    assert syslog_lines == [
        f"hook MASTER {s}: ignored: not a configured vhid (groups' vhids: 1@vtnet0)"
        for s in ("2@vtnet0", "1@vtnet1")
    ]
    assert capsys.readouterr() == ("", "")
    assert not (tmp_path / "run").exists()
    spawned.assert_not_called()
    assert hook.run_hook(["master", "1@vtnet0"], str(config)) == 0
    spawned.assert_called_once()


def test_an_unwritable_run_dir_exits_71_with_one_syslog_line(tmp_path, syslog_lines, spawned):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "events").write_text("")  # the inbox cannot be made there
    config = tmp_path / "c.toml"
    config.write_text(f'[paths]\nrun_dir = "{run_dir}"\n')
    assert hook.run_hook(["master", "1@vtnet0"], str(config)) == 71
    assert len(syslog_lines) == 1
    spawned.assert_not_called()


FORBIDDEN = (
    "pydantic",
    "sh",
    "psutil",
    "carpswitch.model",
    "carpswitch.config",
    "carpswitch.system",
    "logging",
    "json",
    "subprocess",
)


def test_the_hook_imports_no_heavy_module(node, daemon_socket):
    """`python -X importtime` lists every module the hook process imports."""
    _root, config = node
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "carpswitch",
            "-c",
            config,
            "MASTER",
            "1@vtnet0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "carpswitch.devd.hook" in imported
    heavy = {m for m in imported if m.split(".")[0] in FORBIDDEN or m in FORBIDDEN}
    assert heavy == set()
    assert decode_event(daemon_socket.recv(8192)).state == "MASTER"
