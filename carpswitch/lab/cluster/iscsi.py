"""ctld of a two-node lab node: a daemon titled `ctld` that serves ctl.conf through tgt.

`python -m carpswitch.lab.cluster.iscsi NODE_DIR ctld --ready-fd N`, started by the
`service` shim instead of the simulated service process when the node has a network
namespace (rc.subr's words and checks stay the shim's). It plays ctld and tgtd plays the
kernel's CTL, so ctld.8's rules carry over: at start it applies DIR/etc/ctl.conf to the
tgtd it finds (one left by a ctld that was SIGKILLed keeps serving and is taken over, its
LUNs compared with the file) or to a new one; SIGHUP re-reads the file and changes only
what changed; SIGTERM (a graceful exit) removes every target, forcibly disconnecting the
initiators, and ends tgtd. If tgtd dies, ctld exits too, so `service ctld status` tells.
What ctld would send to syslog goes to DIR/var/log/ctld.log; tgtd's own lines to tgtd.log.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from carpswitch.lab.cluster.ctl_conf import (
    CtlConf,
    CtlConfError,
    chrooted_conf,
    ctl_conf_path,
    parse_ctl_conf,
)
from carpswitch.lab.cluster.tgt import (
    TGTD_EXIT,
    TgtBusy,
    Tgtd,
    TgtError,
    control_port,
    poll_until,
    port_in_use,
    remove_control_files,
    spawn_tgtd,
)
from carpswitch.lab.daemons import pid_alive, process_title, report_ready
from carpswitch.lab.facts import NodeFacts, load_facts
from carpswitch.lab.paths import NodePaths

#: How long a new tgtd may take to answer on its control port.
_TGTD_START = 5.0
#: Control ports tried after the derived one when another tgtd holds it.
_PORT_TRIES = 20
#: How long ctld tries to remove a target whose LUN has a command in flight.
_TARGET_BUSY = 2.0
_SIGNALS = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT}


class CtldError(Exception):
    """ctld cannot start: the message ctld would log before exiting."""


def candidate_ports(netns: str) -> range:
    """The control ports a ctld in `netns` may give its tgtd, in the order it tries them."""
    first = control_port(netns)
    return range(first, first + _PORT_TRIES)


def ports_file(paths: NodePaths) -> Path:
    """DIR/ctld.ports: every control port the node's ctlds gave a tgtd, one per line.

    /var/run/tgtd is shared by every namespace and candidate ranges of two clusters can
    overlap: clean-up removes the control files of these ports only. Outside var/run,
    which a boot empties. A port is written before its tgtd starts, so it may name one
    another tgtd took first (then it is tried again); clean-up still removes only the
    files no live tgtd holds.
    """
    return paths.root / "ctld.ports"


def used_ports(paths: NodePaths) -> set[int]:
    """The ports ports_file lists (none if it cannot be read)."""
    try:
        words = ports_file(paths).read_text().split()
    except OSError:
        return set()
    return {int(word) for word in words if word.isdigit()}


def tgtd_record(paths: NodePaths) -> Path:
    """DIR/var/run/ctld.tgtd: "PID PORT" of the tgtd the node's ctld drives."""
    return paths.var_run / "ctld.tgtd"


def recorded_tgtd(paths: NodePaths) -> tuple[int, int] | None:
    """(pid, control port) of the node's recorded tgtd, None if there is no valid record."""
    try:
        pid, port = (int(word) for word in tgtd_record(paths).read_text().split())
    except (OSError, ValueError):
        return None
    return pid, port


class Ctld:
    """One ctld: its node, log and tgtd."""

    def __init__(self, facts: NodeFacts) -> None:
        if facts.netns is None:
            raise CtldError("the lab's ctld serves through tgt only in a node with a netns")
        self.facts = facts
        self.netns = facts.netns
        paths = facts.node_paths
        self.log_path = paths.var_log / "ctld.log"
        self.tgtd_log = paths.var_log / "tgtd.log"
        self.record = tgtd_record(paths)
        self.tgtd: Tgtd | None = None

    def log(self, message: str) -> None:
        """One syslog-like line: `TIME HOST ctld[PID]: message` (lost if the disk is full)."""
        stamp = time.strftime("%b %e %H:%M:%S")
        with contextlib.suppress(OSError), self.log_path.open("a") as log:
            log.write(f"{stamp} {self.facts.name} ctld[{os.getpid()}]: {message}\n")

    def read_conf(self) -> CtlConf:
        path = ctl_conf_path(self.facts)
        try:
            text = path.read_text()
        except OSError as exc:
            raise CtldError(f"cannot open {path}: {exc.strerror}") from exc
        try:
            conf = parse_ctl_conf(text)
        except CtlConfError as exc:
            raise CtldError(f"error in {path}: {exc}") from exc
        return chrooted_conf(conf, self.facts.node_paths.root)

    def start(self) -> None:
        """Take over a running tgtd or start one, then apply ctl.conf (CtldError if not)."""
        conf = self.read_conf()
        self.tgtd = self._previous_tgtd() or self._new_tgtd(conf.listen)
        errors = self.apply(conf)
        if errors:
            self.stop()
            raise CtldError("failed to apply configuration; exiting")

    def _remember(self, tgtd: Tgtd) -> None:
        self.record.write_text(f"{tgtd.pid} {tgtd.port}\n")

    def _previous_tgtd(self) -> Tgtd | None:
        recorded = recorded_tgtd(self.facts.node_paths)
        if recorded is None:
            return None
        pid, port = recorded
        title = process_title(pid) or ""
        if not (pid_alive(pid) and "tgtd" in title and f"-C {port}" in title):
            return None
        tgtd = Tgtd(pid, port)
        if not tgtd.tgtadm.answers():
            self.log(f"tgtd (pid {pid}) left by a previous ctld does not answer; killing it")
            tgtd.end()
            return None
        self.log(f"taking over tgtd (pid {pid}, control port {port}) of a previous ctld")
        return tgtd

    def _new_tgtd(self, listen: str) -> Tgtd:
        first = control_port(self.netns)
        for port in candidate_ports(self.netns):
            if port_in_use(port):
                continue
            with ports_file(self.facts.node_paths).open("a") as ports:  # before it exists
                ports.write(f"{port}\n")
            process = spawn_tgtd(self.netns, port, listen, self.tgtd_log)
            tgtd = Tgtd(process.pid, port, process)
            try:  # at once: a ctld killed now leaves a tgtd the next one finds
                self._remember(tgtd)
            except OSError:
                tgtd.end()
                raise
            if poll_until(tgtd.settled, _TGTD_START):
                if tgtd.alive():
                    self.log(f"tgtd started (pid {tgtd.pid}, control port {port})")
                    return tgtd
                if port_in_use(port):
                    continue  # another tgtd took the port between our look and its lockf
                raise CtldError(f"tgtd exited at start (see {self.tgtd_log})")
            tgtd.end()
            raise CtldError(f"tgtd did not answer within {_TGTD_START:g} s (see {self.tgtd_log})")
        raise CtldError(f"no free tgtd control port in {first}..{first + _PORT_TRIES - 1}")

    def apply(self, conf: CtlConf) -> int:
        """Make tgtd serve `conf`, touching only what differs; returns the errors logged."""
        assert self.tgtd is not None
        tgtadm = self.tgtd.tgtadm
        errors = 0
        try:
            current = {target.iqn: target for target in tgtadm.targets()}
        except TgtError as exc:
            self.log(f"cannot list targets: {exc}")
            return 1
        wanted = {target.iqn for target in conf.targets}
        next_tid = max((t.tid for t in current.values()), default=0) + 1
        for iqn, stale in current.items():
            if iqn not in wanted:
                errors += self._step(f"removing target {iqn}", self._remove_target, stale.tid)
        for target in conf.targets:
            old_target = current.get(target.iqn)
            if old_target is None:
                tid, old_luns = next_tid, {}
                next_tid += 1
                step = f"adding target {target.iqn}"
                if self._step(step, tgtadm.new_target, tid, target.iqn, target.allow_all):
                    errors += 1
                    continue
            else:
                tid, old_luns = old_target.tid, old_target.luns
            numbers = {lun.number for lun in target.luns}
            for number in sorted(set(old_luns) - numbers):
                errors += self._step(
                    f"removing lun {number} of {target.iqn}", tgtadm.delete_lun, tid, number
                )
            for lun in target.luns:
                old = old_luns.get(lun.number)
                if old is not None and old.path == lun.path and lun.serial in (None, old.serial):
                    continue
                where = f"lun {lun.number} of {target.iqn} ({lun.path})"
                if old is not None:
                    errors += self._step(f"removing {where}", tgtadm.delete_lun, tid, lun.number)
                errors += self._step(
                    f"adding {where}", tgtadm.new_lun, tid, lun.number, lun.path, lun.serial
                )
        return errors

    def _remove_target(self, tid: int) -> None:
        """Offline, then delete with --force, again while a command is still in flight."""
        assert self.tgtd is not None
        tgtadm = self.tgtd.tgtadm
        with contextlib.suppress(TgtError):
            tgtadm.offline(tid)
        deadline = time.monotonic() + _TARGET_BUSY
        while True:
            try:
                tgtadm.delete_target(tid)
                return
            except TgtBusy:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(0.02)

    def _step(self, what: str, call: Callable[..., None], *args: object) -> int:
        """Run one tgtadm step; log it (and its failure); 1 if it failed."""
        try:
            call(*args)
        except TgtError as exc:
            self.log(f"failed {what}: {exc}")
            return 1
        self.log(what)
        return 0

    def reload(self) -> None:
        """SIGHUP: re-read ctl.conf and apply it; a bad file changes nothing."""
        try:
            conf = self.read_conf()
        except CtldError as exc:
            self.log(f"{exc}; keeping the configuration")
            return
        if self.apply(conf):
            self.log("failed to reload configuration")

    def stop(self) -> None:
        """Graceful exit: remove every target (--force), end tgtd; bounded, fine if it is gone."""
        tgtd = self.tgtd
        if tgtd is None:
            return
        try:
            for target in tgtd.tgtadm.targets():
                self._remove_target(target.tid)
            tgtd.tgtadm.shutdown()
        except TgtError as exc:
            if tgtd.alive():
                self.log(f"tgtd (pid {tgtd.pid}) refused to stop: {exc}; killing it")
        if not poll_until(lambda: not tgtd.alive(), TGTD_EXIT):
            tgtd.end()
        remove_control_files(tgtd.port)
        with contextlib.suppress(FileNotFoundError):
            self.record.unlink()
        self.log("tgtd stopped; exiting")
        self.tgtd = None


def serve(ctld: Ctld, pidfile: Path, ready_fd: int | None) -> int:
    """Start, report readiness, then handle signals until SIGTERM or tgtd's death."""
    try:
        ctld.start()
        pidfile.write_text(f"{os.getpid()}\n")
    except (CtldError, TgtError, OSError) as exc:  # OSError: a full disk, an unreadable dir
        ctld.stop()  # leave no tgtd behind a start that failed
        ctld.log(str(exc))
        report_ready(ready_fd, f"error 1 ctld: {exc}")
        return 1
    report_ready(ready_fd)
    try:
        while True:
            received = signal.sigtimedwait(_SIGNALS, 0.2)
            if received is not None and received.si_signo == signal.SIGHUP:
                ctld.reload()
            elif received is not None:
                ctld.stop()
                return 0
            elif ctld.tgtd is not None and not ctld.tgtd.alive():
                ctld.log(f"tgtd (pid {ctld.tgtd.pid}) exited; exiting")
                return 1
    finally:
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()


def main(argv: list[str]) -> int:
    """`python -m carpswitch.lab.cluster.iscsi NODE_DIR ctld --ready-fd N`."""
    parser = argparse.ArgumentParser(prog="ctld")
    parser.add_argument("node")
    parser.add_argument("name")
    parser.add_argument("--ready-fd", type=int)
    args = parser.parse_args(argv)
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)  # taken with sigtimedwait
    os.environ["SPT_NOENV"] = "1"  # keep /proc/PID/environ (the node marker) intact
    import setproctitle

    setproctitle.setproctitle(args.name)
    facts = load_facts(Path(args.node))
    try:
        ctld = Ctld(facts)
    except CtldError as exc:
        report_ready(args.ready_fd, f"error 1 ctld: {exc}")
        return 1
    return serve(ctld, facts.node_paths.service_pidfile(args.name), args.ready_fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
