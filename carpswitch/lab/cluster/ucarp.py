"""ucarp as a lab host's CARP speaker, and the lab's answers to CARP demotion.

One ucarp per host, in the host's network namespace: vhid, password, advbase and advskew
from the node's vhid state, `--neutral` (no downscript at start: the vhid starts BACKUP,
as the node's state says), up/down scripts that do the kernel's part
(carpswitch.lab.cluster.kernel). Known here (ucarp 1.5.2): SIGUSR2 makes a MASTER go
BACKUP at once (downscript, no adverts; the peer takes over ~2.4 s later); SIGTERM ends
it without a script (no --shutdown), SIGKILL too.

FreeBSD's demotion in ucarp terms:
* `ifconfig IF vhid N state backup` (kernel: BACKUP now, adverts stop) -> SIGUSR2, and
  the shim returns once the downscript has recorded BACKUP.
* `net.inet.carp.demotion` (added to every vhid's advertised skew, capped at 240) and
  `ifconfig ... advskew N` -> ucarp restarted with the new skew, but only while it is
  BACKUP: ucarp cannot change its skew while running, and a restarted ucarp starts
  BACKUP. A MASTER's skew decides nothing while no peer preempts (preempt is 0 in the lab,
  as by default), so a MASTER keeps its ucarp and gets the skew when it is next forced
  to BACKUP (which is how the controller gives the address away: demotion, then state
  backup).

Stdlib and light lab modules only: the sysctl and ifconfig shims call this.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from carpswitch.lab.carp import DEMOTION
from carpswitch.lab.cluster.command import in_netns
from carpswitch.lab.cluster.detach import spawn_detached
from carpswitch.lab.daemons import pid_alive
from carpswitch.lab.facts import NodeFacts, load_facts
from carpswitch.lab.paths import NODE_MARKER_ENV, NodePaths
from carpswitch.lab.state import NetworkState, StateStore, SysctlState, Vhid

#: The vhid's password (`ifconfig ... pass`): adverts stay on the lab's own bridge.
PASSWORD = "carpswitch-lab"  # noqa: S105 - not a secret
#: ip_carp.c DEMOTE_ADVSKEW: the advertised skew is advskew + demotion, within 0..240.
MAX_DEMOTED_SKEW = 240
#: How long `state backup` waits for ucarp's downscript.
DEMOTE_WAIT = 5.0
_STOP_WAIT = 5.0


@dataclass(frozen=True)
class Speaker:
    """The ucarp running for a node: its pid and the skew it advertises."""

    pid: int
    advskew: int


def record_path(paths: NodePaths) -> Path:
    return paths.var_run / "ucarp.json"


def script_path(paths: NodePaths, state: str) -> Path:
    return paths.root / "libexec" / f"ucarp-{'up' if state == 'MASTER' else 'down'}"


def write_scripts(paths: NodePaths) -> None:
    """DIR/libexec/ucarp-up and ucarp-down: the kernel's part of a state change."""
    for state in ("MASTER", "BACKUP"):
        script = script_path(paths, state)
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(
            f"#!{sys.executable}\n"
            f"# ucarp {state} script of the carpswitch lab node {paths.root}\n"
            "import sys\n"
            "from carpswitch.lab.cluster.kernel import script_main\n"
            f"sys.exit(script_main({str(paths.root)!r}, {state!r}, sys.argv[1:]))\n"
        )
        script.chmod(0o755)


def _vhid(store: StateStore, facts: NodeFacts) -> Vhid:
    interface = store.read(NetworkState).interface(facts.interface)
    vhid = None if interface is None else interface.vhid(facts.vhid)
    if vhid is None:
        raise LookupError(f"no vhid {facts.vhid} on {facts.interface}")
    return vhid


def advertised_skew(store: StateStore, facts: NodeFacts) -> int:
    """The vhid's advskew plus net.inet.carp.demotion, capped as DEMOTE_ADVSKEW caps it."""
    demotion = store.read(SysctlState).values.get(DEMOTION, 0)
    total = _vhid(store, facts).advskew + (demotion if isinstance(demotion, int) else 0)
    return max(0, min(MAX_DEMOTED_SKEW, total))


def running(paths: NodePaths) -> Speaker | None:
    """The node's ucarp, if it runs."""
    try:
        data = json.loads(record_path(paths).read_text())
        speaker = Speaker(pid=int(data["pid"]), advskew=int(data["advskew"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return speaker if pid_alive(speaker.pid) and _is_ucarp(speaker.pid) else None


def _is_ucarp(pid: int) -> bool:
    try:
        # nsenter until it has exec'd ucarp
        return Path(f"/proc/{pid}/comm").read_text().strip() in ("ucarp", "nsenter")
    except OSError:
        return False


@contextlib.contextmanager
def _speaker_lock(paths: NodePaths) -> Iterator[None]:
    """One start, stop or restart of the node's ucarp at a time (two shims may restart
    it together: without the lock both would start one)."""
    fd = os.open(paths.var_run / "ucarp.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def start(root: Path) -> Speaker:
    """Start the node's ucarp in its namespace, advertising the node's current skew
    (nothing if one runs already)."""
    paths = NodePaths.of(root)
    with _speaker_lock(paths):
        return running(paths) or _start(paths)


def _start(paths: NodePaths) -> Speaker:
    facts = load_facts(paths.root)
    if facts.netns is None:
        raise LookupError(f"{paths.root} is not a cluster node (no netns)")
    store = StateStore(paths)
    vhid = _vhid(store, facts)
    skew = advertised_skew(store, facts)
    argv = in_netns(
        facts.netns,
        [
            "ucarp",
            f"--interface={facts.interface}",
            f"--srcip={facts.address}",
            f"--vhid={facts.vhid}",
            f"--pass={vhid.password or PASSWORD}",
            f"--addr={vhid.address or facts.vip}",
            f"--advbase={vhid.advbase}",
            f"--advskew={skew}",
            "--neutral",
            f"--upscript={script_path(paths, 'MASTER')}",
            f"--downscript={script_path(paths, 'BACKUP')}",
            f"--xparam={paths.root}",
        ],
    )
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL": "C",
        NODE_MARKER_ENV: str(paths.root),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    pid = spawn_detached(argv, env, paths.var_log / "ucarp.log")
    speaker = Speaker(pid=pid, advskew=skew)
    record_path(paths).write_text(json.dumps({"pid": pid, "advskew": skew}) + "\n")
    return speaker


def stop(root: Path, sig: signal.Signals = signal.SIGTERM) -> None:
    """Stop the node's ucarp (no downscript runs: the address stays where it is)."""
    paths = NodePaths.of(root)
    with _speaker_lock(paths):
        _stop(paths, sig)


def _stop(paths: NodePaths, sig: signal.Signals) -> None:
    speaker = running(paths)
    if speaker is None:
        return
    os.kill(speaker.pid, sig)
    deadline = time.monotonic() + _STOP_WAIT
    while pid_alive(speaker.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    if pid_alive(speaker.pid):
        os.kill(speaker.pid, signal.SIGKILL)


def force_backup(root: Path) -> bool:
    """`ifconfig IF vhid N state backup` on a cluster node: SIGUSR2, wait for BACKUP.

    Then the skew follows a demotion made while it was MASTER. Without a running ucarp
    the kernel's part is done directly. False if the downscript did not record BACKUP
    within DEMOTE_WAIT.
    """
    paths = NodePaths.of(root)
    facts = load_facts(paths.root)
    store = StateStore(paths)
    with _speaker_lock(paths):
        speaker = running(paths)
        if _vhid(store, facts).state == "MASTER":
            if speaker is None:
                from carpswitch.lab.cluster.kernel import carp_transition

                carp_transition(paths.root, "BACKUP", facts.interface, facts.vip)
            else:
                os.kill(speaker.pid, signal.SIGUSR2)
                deadline = time.monotonic() + DEMOTE_WAIT
                while _vhid(store, facts).state == "MASTER":
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(0.01)
    follow_skew(root)
    return True


def follow_skew(root: Path) -> None:
    """Restart a BACKUP ucarp whose skew is not the node's advertised skew any more."""
    paths = NodePaths.of(root)
    facts = load_facts(paths.root)
    store = StateStore(paths)
    with _speaker_lock(paths):
        speaker = running(paths)
        if speaker is None or speaker.advskew == advertised_skew(store, facts):
            return
        if _vhid(store, facts).state == "MASTER":
            return  # see the module docstring: it gets the skew at its next forced BACKUP
        _stop(paths, signal.SIGTERM)
        if _vhid(store, facts).state == "MASTER":
            # It became MASTER just before it stopped: what it added is undone, as a
            # downscript would, so that ifconfig keeps telling what the new ucarp is in.
            from carpswitch.lab.cluster.kernel import carp_transition

            carp_transition(paths.root, "BACKUP", facts.interface, facts.vip)
        _start(paths)
