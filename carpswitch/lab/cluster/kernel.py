"""What FreeBSD's kernel does when a vhid changes state, done for ucarp's scripts.

ucarp runs its up/down script and waits for it (ucarp src/spawn.c: fork, execl, waitpid),
so the script does only the kernel's part, at once: the vhid's new state (what the lab's
ifconfig prints), the CARP address on or off the interface, and devctl's event
`!system=CARP subsystem=VHID@IFACE type=STATE` (ip_carp.c carp_set_state: only on a
real change). The event goes to the host's devd (carpswitch.lab.cluster.devd), which runs
the devd.conf action and waits for it, one event after the other, without holding up
ucarp: on FreeBSD too the CARP speaker is the kernel, which never waits for devd.

Stdlib and light lab modules only: this runs in every ucarp script.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

from carpswitch.lab.cluster.command import in_netns
from carpswitch.lab.facts import load_facts
from carpswitch.lab.paths import NodePaths
from carpswitch.lab.state import NetworkState, StateStore

_IP_TIMEOUT = 10.0


def devctl_path(paths: NodePaths) -> Path:
    """The FIFO the host's devd reads events from (the lab's /dev/devctl)."""
    return paths.var_run / "devctl"


def carp_transition(root: Path, state: str, interface: str, address: str) -> str | None:
    """Put the node's vhid into `state` (MASTER or BACKUP) as the kernel would.

    Returns the devctl event sent, or None when the state did not change.
    """
    paths = NodePaths.of(root)
    facts = load_facts(paths.root)
    store = StateStore(paths)
    with store.locked():
        network = store.read(NetworkState)
        found = network.interface(interface)
        vhid = None if found is None else found.vhid(facts.vhid)
        if found is None or vhid is None:
            raise LookupError(f"no vhid {facts.vhid} on {interface}")
        changed = vhid.state != state
        if state == "MASTER":
            _ip(facts.netns, "replace", address, interface)
        vhid.state = state
        store.write(network)
        if state != "MASTER":
            _ip(facts.netns, "del", address, interface)
    if not changed:
        return None
    event = f"!system=CARP subsystem={facts.vhid}@{interface} type={state}\n"
    devctl_notify(paths, event)
    return event


def devctl_notify(paths: NodePaths, event: str) -> bool:
    """Queue `event` for devd; False when no devd reads (the kernel drops it then)."""
    try:
        fd = os.open(devctl_path(paths), os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ENOENT):
            return False
        raise
    try:
        os.write(fd, event.encode())  # < PIPE_BUF: one atomic write
    except BlockingIOError:
        return False  # devctl's queue is full: dropped, as the kernel's would be
    finally:
        os.close(fd)
    return True


def _ip(netns: str | None, action: str, address: str, interface: str) -> None:
    """`ip addr replace|del ADDRESS/32 dev IFACE` in the host's namespace.

    Always named, never the caller's: a shim may be run from outside the host.
    """
    if netns is None:
        raise LookupError("not a cluster node (no netns): no interface to change")
    subprocess.run(
        in_netns(netns, ["ip", "addr", action, f"{address}/32", "dev", interface]),
        capture_output=True,
        timeout=_IP_TIMEOUT,
        check=False,  # del of an address that is gone already is fine
    )


def script_main(root: str, state: str, argv: list[str]) -> int:
    """ucarp's up/down script: `SCRIPT IFACE ADDRESS [XPARAM]`."""
    if len(argv) < 2:
        sys.stderr.write(f"usage: {state.lower()}script IFACE ADDRESS\n")
        return 64
    event = carp_transition(Path(root), state, argv[0], argv[1])
    sys.stderr.write(f"carp: {argv[0]} {state}{'' if event else ' (no change)'}\n")
    if state == "BACKUP":
        # A MASTER demoted meanwhile advertises its demoted skew from now on (ucarp).
        from carpswitch.lab.cluster.ucarp import follow_skew

        follow_skew(Path(root))
    return 0
