"""rc.d/carpswitch run under dash, with a stand-in rc.subr (tests/rcd/rc.subr) and daemon(8).

FreeBSD's rc.subr and daemon(8) cannot run here; the stand-ins model what the script relies
on (see their headers for the sources). The script under test is the shipped one, with its
absolute paths (/etc/rc.subr, /usr/local/sbin, /usr/sbin/daemon, /var/run) moved into the
test's directory. carpswitch itself is either tests/rcd/fake_carpswitch, which logs its
calls, or the real one acting on a lab node.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from carpswitch.engine.lock import ActorLock
from carpswitch.lab.paths import NODE_MARKER_ENV
from carpswitch.lab.procs import node_processes, terminate, wait_gone
from tests.node.conftest import wait_until
from tests.node.test_intake_helpers import IntakeNode

ROOT = Path(__file__).parents[2]
RC_SCRIPT = ROOT / "rc.d" / "carpswitch"
HELPERS = ROOT / "tests" / "rcd"
FAKE_CARPSWITCH = HELPERS / "fake_carpswitch"


class RcScript:
    """rc.d/carpswitch installed under `root` as on FreeBSD, with rc.conf and the stand-ins."""

    def __init__(self, root: Path, carpswitch: Path = FAKE_CARPSWITCH, marker: Path | None = None):
        self.root = root
        (root / "run").mkdir(parents=True, exist_ok=True)
        self.daemon = root / "daemon"
        self.daemon.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{HELPERS / "fake_daemon.py"}" "$@"\n'
        )
        self.daemon.chmod(0o755)
        text = RC_SCRIPT.read_text()
        for old, new, count in [
            (". /etc/rc.subr", f". {HELPERS / 'rc.subr'}", 1),
            (
                'carpswitch_command="/usr/local/sbin/${name}"',
                f'carpswitch_command="{carpswitch}"',
                1,
            ),
            ('command="/usr/sbin/daemon"', f'command="{self.daemon}"', 1),
            ('"/var/run/${name}', f'"{root}/run/${{name}}', 2),
        ]:
            assert text.count(old) == count, old
            text = text.replace(old, new)
        self.script = root / "carpswitch.rc"
        self.script.write_text(text)
        self.pidfile = root / "run" / "carpswitch.pid"
        self.child_pidfile = root / "run" / "carpswitch.child.pid"
        self.calls_log = root / "carpswitch.calls"
        self.syslog_file = root / "syslog"
        self.argv_log = root / "daemon.argv"
        self.marker = marker or root
        self.env = {
            "PATH": os.environ["PATH"],
            "RCSUBR_RC_CONF": str(root / "rc.conf"),
            "FAKE_CARPSWITCH_CALLS": str(self.calls_log),
            "FAKE_SYSLOG": str(self.syslog_file),
            "FAKE_DAEMON_ARGV": str(self.argv_log),
            NODE_MARKER_ENV: str(self.marker),
        }
        self.config = root / "carpswitch.toml"
        self.rc_conf()

    def rc_conf(self, **variables: str) -> None:
        """Write rc.conf: carpswitch enabled, with its config under root, and `variables`."""
        defaults = {"carpswitch_enable": "YES", "carpswitch_config": str(self.config)}
        lines = [f'{name}="{value}"\n' for name, value in {**defaults, **variables}.items()]
        (self.root / "rc.conf").write_text("".join(lines))

    def run(
        self, argument: str, timeout: float = 60.0, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """`sh /usr/local/etc/rc.d/carpswitch ARGUMENT`, as rc.shutdown or service(8) runs it."""
        return subprocess.run(
            ["dash", str(self.script), argument],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def child_pid(self, timeout: float = 10.0) -> int:
        """The pid daemon(8) wrote to the child pidfile: pidfile(3) creates the file before
        it writes the pid, so a reader can see it empty for a moment."""

        def written() -> bool:
            with contextlib.suppress(OSError):
                return self.child_pidfile.read_text().strip().isdigit()
            return False

        assert wait_until(written, timeout=timeout), f"{self.child_pidfile}: no pid"
        return int(self.child_pidfile.read_text())

    def calls(self) -> list[str]:
        """What the fake carpswitch was called with, one entry per call."""
        return self.calls_log.read_text().splitlines() if self.calls_log.exists() else []

    def syslog(self) -> list[str]:
        return self.syslog_file.read_text().splitlines() if self.syslog_file.exists() else []

    def daemon_argv(self) -> list[list[str]]:
        return [json.loads(line) for line in self.argv_log.read_text().splitlines()]


@pytest.fixture
def rc(tmp_path) -> Iterator[RcScript]:
    """rc.d/carpswitch with the fake carpswitch; fails if a process it started survived."""
    script = RcScript(tmp_path / "rc")
    yield script
    leftovers = wait_gone(node_processes(script.marker), 1.0)
    terminate(leftovers)
    assert not leftovers, f"processes survived the test: {leftovers}"


def real_carpswitch(root: Path) -> Path:
    """/usr/local/sbin/carpswitch: this checkout's carpswitch."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "carpswitch"
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m carpswitch "$@"\n')
    path.chmod(0o755)
    return path


def primary_lab_node(make_lab_node) -> IntakeNode:
    """A lab node that is MASTER with tank primary (as after a promotion)."""
    intake = IntakeNode(make_lab_node(carp_state="MASTER"))
    assert intake.node.run("hastctl", "role", "primary", "tank").returncode == 0
    assert wait_until(lambda: intake.node.provider_exists("tank"), timeout=10)
    assert intake.role() == "primary"
    return intake


def rc_for_node(tmp_path: Path, intake: IntakeNode, **rc_conf: str) -> RcScript:
    script = RcScript(tmp_path / "rc", real_carpswitch(tmp_path / "sbin"), marker=intake.node.path)
    script.config = intake.config
    script.rc_conf(**rc_conf)
    return script


# --- item 21: shutdown demotes even when the daemon is not running -----------------------


def test_shutdown_demotes_a_primary_whose_daemon_is_not_running(make_lab_node, tmp_path):
    # rc.subr's stop returns before stop_precmd/stop_postcmd when it finds no pid and
    # rc_fast is set: with the demotion in stop_postcmd, a stopped or crashed daemon meant
    # tank stayed primary until rc.d/hastd's `role init all` pulled the device away
    intake = primary_lab_node(make_lab_node)
    rc = rc_for_node(tmp_path, intake)
    assert not rc.pidfile.exists()
    result = rc.run("faststop")
    assert result.returncode == 0, result.stdout + result.stderr
    assert intake.role() == "secondary", result.stdout + result.stderr
    assert [(r.kind, r.outcome) for r in intake.journal()][-1] == ("demote", "succeeded")


def test_shutdown_demotes_once_a_carpswitch_that_is_acting_lets_go(make_lab_node, tmp_path):
    intake = primary_lab_node(make_lab_node)
    rc = rc_for_node(tmp_path, intake)
    output = tmp_path / "faststop.out"
    with ActorLock(intake.run_dir), output.open("w") as out:  # a worker is acting
        shutdown = subprocess.Popen(
            ["dash", str(rc.script), "faststop"], env=rc.env, stdout=out, stderr=out
        )
        try:
            refused = wait_until(lambda: "another carpswitch is acting" in output.read_text(), 30)
            assert refused, output.read_text()
            assert intake.role() == "primary"
        except BaseException:
            shutdown.kill()
            raise
    assert shutdown.wait(timeout=60) == 0
    assert intake.role() == "secondary", output.read_text()
    assert "WARNING" not in output.read_text()


def test_shutdown_stops_the_daemon_and_then_demotes(make_lab_node, tmp_path):
    intake = primary_lab_node(make_lab_node)
    rc = rc_for_node(tmp_path, intake)
    started = rc.run("start")  # reconcile --boot (MASTER, no peer: stays primary), daemon
    assert started.returncode == 0, started.stdout + started.stderr
    child = rc.child_pid()
    assert wait_until(
        lambda: intake.node.paths.carpswitch_run_dir.joinpath("intake.sock").exists(), 30
    )
    result = rc.run("faststop")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not _alive(child), "faststop returned while the daemon still ran"
    assert intake.role() == "secondary", result.stdout + result.stderr
    assert not rc.pidfile.exists() and not rc.child_pidfile.exists()


def test_faststop_without_a_daemon_demotes(rc):
    result = rc.run("faststop")
    assert result.returncode == 0, result.stderr
    assert rc.calls() == [f"-c {rc.root}/carpswitch.toml demote"]


def test_stop_by_hand_stops_the_daemon_but_does_not_demote(rc):
    assert rc.run("start").returncode == 0
    child = rc.child_pid()
    result = rc.run("stop", FAKE_DAEMON_STOP_SECONDS="1")
    assert result.returncode == 0, result.stderr
    assert "Stopping carpswitch." in result.stdout
    assert not _alive(child), "stop returned before the daemon finished"
    assert [c for c in rc.calls() if c.endswith("demote")] == []


def test_stop_by_hand_when_not_running_says_so(rc):
    result = rc.run("stop")
    assert result.returncode == 1
    assert result.stderr == f"carpswitch not running? (check {rc.pidfile}).\n"
    assert rc.calls() == []


@pytest.mark.parametrize(
    ("rc_conf", "called"),
    [
        ({"carpswitch_shutdown_demote": "NO"}, []),
        ({"carpswitch_enable": "NO"}, []),  # not enabled and not running: not ours to touch
    ],
)
def test_faststop_leaves_the_groups_alone_when_told_to(rc, rc_conf, called):
    rc.rc_conf(**rc_conf)
    result = rc.run("faststop")
    assert (result.returncode, rc.calls()) == (0, called), result.stderr


def test_the_shutdown_demotion_is_bounded_by_its_deadline(rc):
    # a demotion that hangs (a `zpool export` on a suspended pool) must not hold rc.shutdown
    # until its watchdog SIGKILLs it and hastd is never stopped
    rc.rc_conf(carpswitch_shutdown_timeout="8", rcshutdown_timeout="90")
    began = time.monotonic()
    result = rc.run("faststop", timeout=60, FAKE_DEMOTE_SECONDS="300")
    took = time.monotonic() - began
    assert result.returncode == 0
    assert 2 <= took < 8 + 2, took
    assert "shutdown demotion ended after" in result.stderr
    assert "carpswitch_shutdown_timeout" in result.stderr
    assert "below rcshutdown_timeout" not in result.stderr
    assert not node_processes(rc.marker), "the demotion outlived its deadline"


def test_a_shutdown_demotion_waits_for_another_carpswitch_to_let_go(rc):
    # `carpswitch demote` exits 75 at once when a worker (started by the devd hook while no
    # daemon runs) or an admin holds the actor lock: that must not skip the demotion
    result = rc.run("faststop", FAKE_DEMOTE_BUSY="2")
    assert result.returncode == 0
    assert [c for c in rc.calls() if c.endswith(" demote")] == [f"-c {rc.config} demote"] * 3
    assert "WARNING" not in result.stderr, result.stderr


def test_a_busy_shutdown_demotion_gives_up_at_the_deadline(rc):
    rc.rc_conf(carpswitch_shutdown_timeout="8")
    began = time.monotonic()
    result = rc.run("faststop", FAKE_DEMOTE_BUSY="1000")
    assert time.monotonic() - began < 8 + 2
    assert "shutdown demotion failed (exit 75)" in result.stderr


def test_a_daemon_that_ignores_sigterm_gets_half_the_deadline(rc):
    rc.rc_conf(carpswitch_shutdown_timeout="6")
    assert rc.run("start", FAKE_DAEMON_STOP_SECONDS="300").returncode == 0
    child = rc.child_pid()
    began = time.monotonic()
    result = rc.run("faststop", FAKE_DEMOTE_SECONDS="0")
    took = time.monotonic() - began
    assert result.returncode == 0
    assert took < 6 + 2, took
    assert not _alive(child)
    assert rc.calls()[-1].endswith(" demote")


def test_a_shutdown_deadline_too_close_to_the_watchdog_is_warned_about(rc):
    rc.rc_conf(carpswitch_shutdown_timeout="71", rcshutdown_timeout="90")
    want = "carpswitch_shutdown_timeout (71 s) is not 20 s below rcshutdown_timeout (90 s)"
    started = rc.run("start")  # at boot, while there is time to fix it
    assert started.returncode == 0 and want in started.stderr, started.stderr
    result = rc.run("faststop")
    assert result.returncode == 0 and want in result.stderr, result.stderr
    assert rc.calls()[-1].endswith(" demote")


def test_a_shutdown_deadline_that_is_not_a_number_falls_back_to_60_s(rc):
    rc.rc_conf(carpswitch_shutdown_timeout="1m")
    result = rc.run("faststop")
    assert result.returncode == 0
    assert "carpswitch_shutdown_timeout is not a number of seconds; using 60" in result.stderr
    assert rc.calls()[-1].endswith(" demote")


# --- item 22: daemon start-up failures reach syslog ---------------------------------------


def test_daemon_runs_under_daemon8_with_syslog_and_the_rc_conf_flags(rc):
    rc.rc_conf(carpswitch_flags="-s err")
    assert rc.run("start").returncode == 0
    assert wait_until(rc.child_pidfile.exists, timeout=10)
    argv = rc.daemon_argv()[0]
    # carpswitch_flags are daemon(8)'s options: rc.subr puts them right after the command
    assert argv[:2] == ["-s", "err"]
    assert argv[argv.index("-T") + 1] == "carpswitch" and "-S" in argv
    assert argv[-3:] == ["-c", f"{rc.root}/carpswitch.toml", "daemon"]
    assert rc.run("stop").returncode == 0


def test_a_daemon_that_fails_at_start_is_logged_each_time(make_lab_node, tmp_path):
    # AF_UNIX paths are short (104 bytes on FreeBSD): with daemon -f and no -S, a daemon
    # that could not bind its socket was restarted every 5 s and nothing was logged; the
    # config rules now refuse such a run_dir, and that refusal must reach syslog each time
    intake = IntakeNode(make_lab_node(carp_state="BACKUP"))
    long_run_dir = tmp_path / ("r" * 110)
    old = f'run_dir = "{intake.run_dir}"\n'
    text = intake.config.read_text()
    assert text.count(old) == 1
    intake.config.write_text(text.replace(old, f'run_dir = "{long_run_dir}"\n'))
    rc = rc_for_node(tmp_path, intake)
    assert rc.run("start").returncode == 0
    # no syslogd here: carpswitch logs to stderr, which daemon(8) -S hands to syslog
    want = "carpswitch: ERROR: daemon: cannot run: configuration error: "

    def failures() -> list[str]:
        return [line for line in rc.syslog() if want in line and "paths.run_dir" in line]

    assert wait_until(lambda: len(failures()) >= 2, timeout=30), rc.syslog()
    assert all(line.startswith("daemon.notice carpswitch[") for line in failures())
    assert rc.daemon_argv()[0][:4] == ["-c", "-f", "-S", "-T"]
    assert rc.run("stop").returncode == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has finished all we care about
        return stat.read().split(") ", 1)[1][0] != "Z"
