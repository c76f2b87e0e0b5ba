"""Starting the detached worker: its command line, its session, cwd and stdio."""

import json
import os
import sys
import textwrap
import time

from carpswitch.intake.spawn import start_detached, worker_argv


def test_the_worker_runs_under_this_interpreter_with_the_config_and_verbosity():
    assert worker_argv("/etc/c.toml", verbose=3) == [
        sys.executable,
        "-m",
        "carpswitch.intake.worker",
        "-c",
        "/etc/c.toml",
        "-vv",
    ]
    assert worker_argv(None) == [sys.executable, "-m", "carpswitch.intake.worker"]


def test_the_child_gets_its_own_session_root_as_cwd_and_null_stdio(tmp_path):
    report = tmp_path / "report.json"
    code = textwrap.dedent(
        f"""
        import json, os
        info = {{
            "sid": os.getsid(0), "pid": os.getpid(), "cwd": os.getcwd(),
            "stdio": [os.path.realpath(f"/proc/self/fd/{{fd}}") for fd in (0, 1, 2)],
        }}
        open({str(report)!r} + ".tmp", "w").write(json.dumps(info))
        os.rename({str(report)!r} + ".tmp", {str(report)!r})
        """
    )
    pid = start_detached([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        while not report.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        info = json.loads(report.read_text())
    finally:
        os.waitpid(pid, 0)
    assert info["pid"] == pid
    assert info["sid"] == pid  # session leader: out of the caller's session and group
    assert os.getsid(0) != pid
    assert info["cwd"] == "/"
    assert info["stdio"] == ["/dev/null"] * 3


def test_a_command_that_cannot_be_executed_ends_the_child_with_127(tmp_path):
    pid = start_detached([str(tmp_path / "missing")])
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 127
