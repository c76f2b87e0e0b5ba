"""A stand-in for FreeBSD's daemon(8), for running rc.d/carpswitch in tests.

Written from usr.sbin/daemon/daemon.c and daemon.8 (freebsd/freebsd-src), only what
rc.d/carpswitch relies on:

- supervision mode when any of -p -P -r -R -S -s -l -T -o is given; the pidfiles are
  locked (pidfile(3)) before daemon(3): a locked one is "process already running", exit 3;
- daemon(3): the caller returns 0 at once; -c chdir /; -f points the supervisor's stdin,
  stdout and stderr at /dev/null;
- the child's stdout and stderr go to the supervisor through a pipe (-m 3); each line goes
  to syslog with -S (or -s/-l/-T: facility daemon, priority notice, tag `daemon` by
  default), else to the supervisor's stdout, which -f made /dev/null: dropped;
- SIGTERM is forwarded to the child and the supervisor exits at once, without waiting for
  it ("bail immediately"), removing both pidfiles;
- -r / -R N: the child is started again N s (1 s) after it exits.

"Syslog" is the file $FAKE_SYSLOG, one `FACILITY.PRIORITY TAG[PID]: LINE` a line; each
call's argv is appended to $FAKE_DAEMON_ARGV as a JSON line.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from types import FrameType

SUPERVISING = set("pPrRSslTo")
WITH_VALUE = set("pPuostlmRT")


class Terminate(Exception):
    """SIGTERM arrived."""


def parse(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Options (the last of each wins) and the command, getopt-style up to the first word."""
    options: dict[str, str] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        letters = argv[i][1:]
        i += 1
        for at, letter in enumerate(letters):
            if letter in WITH_VALUE:
                options[letter] = letters[at + 1 :] or argv[i]
                i += 0 if letters[at + 1 :] else 1
                break
            options[letter] = ""
    return options, argv[i:]


def lock_pidfile(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode().strip()
        print(f"daemon: process already running, pid: {holder}", file=sys.stderr)
        sys.exit(3)
    return fd


def write_pid(fd: int, pid: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{pid}\n".encode(), 0)


def main(argv: list[str]) -> int:
    options, command = parse(argv)
    if not command:
        print("usage: daemon [-cfHrS] ... command arguments ...", file=sys.stderr)
        return 1
    if log := os.environ.get("FAKE_DAEMON_ARGV"):
        with open(log, "a") as file:
            file.write(json.dumps(argv) + "\n")
    supervising = bool(SUPERVISING & options.keys())
    syslog = bool(set("SslT") & options.keys())
    pidfiles = {k: options[k] for k in "pP" if k in options}
    fds = {k: lock_pidfile(path) for k, path in pidfiles.items()}
    if os.fork():  # daemon(3): the parent returns at once
        return 0
    os.setsid()
    if "c" in options:
        os.chdir("/")
    if "f" in options:
        null = os.open(os.devnull, os.O_RDWR)
        for std in (0, 1, 2):
            os.dup2(null, std)
    if "P" in fds:
        write_pid(fds["P"], os.getpid())
    if not supervising:
        os.execvp(command[0], command)
    try:
        supervise(options, command, fds, syslog)
    except Terminate:
        pass
    finally:
        for path in pidfiles.values():
            os.unlink(path)
    return 1


def supervise(options: dict[str, str], command: list[str], fds: dict[str, int], syslog: bool):
    child: subprocess.Popen[bytes] | None = None

    def on_term(signo: int, frame: FrameType | None) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signo)
        raise Terminate

    signal.signal(signal.SIGTERM, on_term)
    restart = "r" in options or "R" in options
    delay = int(options.get("R", "1"))
    where = f"{options.get('l', 'daemon')}.{options.get('s', 'notice')}"
    tag = options.get("T", "daemon")
    while True:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if "p" in fds:
            write_pid(fds["p"], child.pid)
        assert child.stdout is not None
        for raw in child.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if syslog:
                with open(os.environ["FAKE_SYSLOG"], "a") as file:
                    file.write(f"{where} {tag}[{os.getpid()}]: {line}\n")
            elif "f" not in options:
                print(line, flush=True)
        child.wait()
        if not restart:
            return
        time.sleep(delay)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
