"""Debian's tgt as the lab's kernel CTL: tgtd in a node's namespace, driven with tgtadm.

tgtd listens for tgtadm on /var/run/tgtd/socket.N (N = `-C N`), a path every network
namespace shares, and takes /var/run/tgtd/socket.N.lock with lockf: a second tgtd on the
same N exits ("another tgtd is using ..."). tgtd ignores SIGTERM; `tgtadm --op delete
--mode system` ends it, but refuses while a target exists, so targets go first (--force
drops their sessions). tgtd enters only the node's network namespace (nsenter --net), so it
shares the host's mount view and sees a FUSE-served /dev/hast/NAME.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from carpswitch.errors import CommandError
from carpswitch.lab.daemons import pid_alive
from carpswitch.system.runner import Runner

TGT_RUN_DIR = Path("/var/run/tgtd")
#: Each tgtadm call is a local socket round trip; a tgtd that takes longer is stuck.
TGTADM_TIMEOUT = 3.0
#: How long tgtd may take to exit after `delete --mode system` or SIGKILL.
TGTD_EXIT = 2.0
#: tgtd takes control ports up to 32767.
_PORT_BASE, _PORT_SPAN = 1000, 31000
_TARGET = re.compile(r"^Target (\d+): (\S+)$")
_LUN = re.compile(r"^\s+LUN: (\d+)$")
_FIELD = re.compile(r"^\s+(SCSI SN|Backing store path): (.*)$")


class TgtError(Exception):
    """tgtadm failed or tgtd did not answer: its own words."""


class TgtBusy(TgtError):
    """tgtd refused because a LUN still has a command in flight (try again shortly)."""


@dataclass
class TgtLun:
    """A LUN tgtd serves (LUN 0, the controller, is left out)."""

    number: int
    path: str = ""
    serial: str = ""


@dataclass
class TgtTarget:
    """A target in tgtd: its tid, IQN and LUNs."""

    tid: int
    iqn: str
    luns: dict[int, TgtLun] = field(default_factory=dict)


def parse_targets(text: str) -> list[TgtTarget]:
    """`tgtadm --op show --mode target` (tgt 1.0.85) -> targets with their disk LUNs."""
    targets: list[TgtTarget] = []
    lun: TgtLun | None = None
    for line in text.splitlines():
        if found := _TARGET.match(line):
            targets.append(TgtTarget(int(found[1]), found[2]))
            lun = None
        elif (found := _LUN.match(line)) and targets:
            lun = TgtLun(int(found[1]))
            if lun.number != 0:
                targets[-1].luns[lun.number] = lun
        elif (found := _FIELD.match(line)) and lun is not None:
            if found[1] == "SCSI SN":
                lun.serial = found[2].strip()
            else:
                lun.path = found[2].strip()
    return targets


def control_port(netns: str) -> int:
    """The first control port tried for the namespace's tgtd (lockf settles collisions)."""
    return _PORT_BASE + zlib.crc32(netns.encode()) % _PORT_SPAN


def port_in_use(port: int) -> bool:
    """True if a live tgtd holds socket.PORT.lock (what tgtd's own ipc_init checks)."""
    lock = TGT_RUN_DIR / f"socket.{port}.lock"
    try:
        fd = os.open(lock, os.O_WRONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops our lock at once
    return False


def spawn_tgtd(netns: str, port: int, listen: str, log: Path) -> subprocess.Popen[bytes]:
    """Start `tgtd -f -C PORT` in `netns` (foreground: its pid is ours to watch)."""
    argv = [_which("nsenter"), f"--net=/run/netns/{netns}", _which("tgtd"), "-f", "-C"]
    argv += [str(port), "--iscsi", f"portal={listen}"]
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            preexec_fn=_unblock_signals,
        )


def remove_control_files(port: int) -> None:
    """socket.PORT and its lock, which tgtd leaves behind when it ends."""
    for name in (f"socket.{port}", f"socket.{port}.lock"):
        with contextlib.suppress(FileNotFoundError):
            (TGT_RUN_DIR / name).unlink()


def _unblock_signals() -> None:  # pragma: no cover - runs in the child before exec
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def _which(name: str) -> str:
    path = shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise TgtError(f"{name} not found (Debian package tgt / util-linux)")
    return path


def poll_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` every 20 ms until it holds or `timeout` passes; whether it held.

    Not engine.step.wait_until: importing the engine (pydantic) would cost every start.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


@dataclass
class Tgtd:
    """The tgtd this ctld drives: its pid, control port and (if we started it) process."""

    pid: int
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def tgtadm(self) -> Tgtadm:
        return Tgtadm(self.port)

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return pid_alive(self.pid)

    def settled(self) -> bool:
        """A starting tgtd has either exited or answers on its control port."""
        return not self.alive() or self.tgtadm.answers()

    def end(self) -> None:
        """Kill tgtd (stuck or refusing) and wait until it is gone, bounded."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        poll_until(lambda: not self.alive(), TGTD_EXIT)


class Tgtadm:
    """tgtadm against one tgtd (its control port), every call bounded."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._runner = Runner(default_timeout=TGTADM_TIMEOUT)

    def _run(self, *args: str) -> str:
        try:
            result = self._runner.run(_which("tgtadm"), "-C", str(self.port), *args)
        except CommandError as exc:
            busy = "is still active" in str(exc)
            raise (TgtBusy if busy else TgtError)(str(exc)) from exc
        return result.stdout

    def answers(self) -> bool:
        """True if tgtd takes requests on the control port."""
        try:
            self._run("--op", "show", "--mode", "sys")
        except TgtError:
            return False
        return True

    def targets(self) -> list[TgtTarget]:
        """Targets tgtd serves now."""
        return parse_targets(self._run("--lld", "iscsi", "--op", "show", "--mode", "target"))

    def new_target(self, tid: int, iqn: str, allow_all: bool) -> None:
        """A target with no LUN yet; `allow_all` binds every initiator."""
        self._run("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", str(tid), "-T", iqn)
        if allow_all:
            bind = ("--op", "bind", "--mode", "target", "--tid", str(tid), "-I", "ALL")
            self._run("--lld", "iscsi", *bind)

    def offline(self, tid: int) -> None:
        """Take a target offline: tgtd stops taking new commands for it."""
        state = ("-n", "state", "-v", "offline")
        self._run("--op", "update", "--mode", "target", "--tid", str(tid), *state)

    def delete_target(self, tid: int) -> None:
        """Remove a target and drop its sessions (--force).

        tgtd refuses (`this logical unit is still active`, exit 22) while a command is in
        flight on one of its LUNs; TgtBusy then, to be tried again.
        """
        self._run(
            "--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", str(tid), "--force"
        )

    def new_lun(self, tid: int, lun: int, path: str, serial: str | None) -> None:
        """A disk LUN backed by `path` (read and write through the page cache: bstype rdwr)."""
        where = ("--tid", str(tid), "--lun", str(lun))
        self._run("--lld", "iscsi", "--op", "new", "--mode", "logicalunit", *where, "-b", path)
        if serial is not None:
            params = ("--params", f"scsi_sn={serial}")
            self._run("--lld", "iscsi", "--op", "update", "--mode", "logicalunit", *where, *params)

    def delete_lun(self, tid: int, lun: int) -> None:
        """Remove one LUN of a target."""
        where = ("--tid", str(tid), "--lun", str(lun))
        self._run("--lld", "iscsi", "--op", "delete", "--mode", "logicalunit", *where)

    def shutdown(self) -> None:
        """`tgtadm --op delete --mode system`: tgtd exits (only once no target is left)."""
        self._run("--op", "delete", "--mode", "system")
