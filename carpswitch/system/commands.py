"""Pure argv builders for every FreeBSD command carpswitch runs.

Each returns `(command name, *args)`; the runner resolves the name to a path. Tests compare
these tuples exactly, so a change in what carpswitch runs shows up as a failing test.
"""

from __future__ import annotations

from collections.abc import Sequence

Argv = tuple[str, ...]

DEMOTION_SYSCTL = "net.inet.carp.demotion"


def hastctl_list(hast_conf: str, names: Sequence[str] = ()) -> Argv:
    """`hastctl list -c CONF [name ...]`: verbose status of resources."""
    return ("hastctl", "list", "-c", hast_conf, *names)


def hastctl_role(hast_conf: str, role: str, names: Sequence[str]) -> Argv:
    """`hastctl role -c CONF ROLE name ...`."""
    return ("hastctl", "role", "-c", hast_conf, role, *names)


def hastctl_create(hast_conf: str, names: Sequence[str]) -> Argv:
    """`hastctl create -c CONF name ...`: new metadata, a new resuid (HAST's split-brain fix)."""
    return ("hastctl", "create", "-c", hast_conf, *names)


def ifconfig_show(interface: str | None = None) -> Argv:
    """`ifconfig [IFACE]`: interface status including its carp lines."""
    return ("ifconfig", interface) if interface else ("ifconfig",)


def ifconfig_carp_state(interface: str, vhid: int, state: str) -> Argv:
    """`ifconfig IFACE vhid N state backup|master`: force a CARP state."""
    return ("ifconfig", interface, "vhid", str(vhid), "state", state.lower())


def sysctl_get(name: str) -> Argv:
    """`sysctl -n NAME`: the bare value."""
    return ("sysctl", "-n", name)


def sysctl_set(name: str, value: int) -> Argv:
    """`sysctl NAME=VALUE` (for net.inet.carp.demotion the value is added)."""
    return ("sysctl", f"{name}={value}")


def mount_list() -> Argv:
    """`mount -p`: mounted file systems in fstab format."""
    return ("mount", "-p")


def zpool_list() -> Argv:
    """`zpool list -H -o name,health`: imported pools, scripted form."""
    return ("zpool", "list", "-H", "-o", "name,health")


def service(name: str, action: str) -> Argv:
    """`service NAME ACTION` (onestart, onestop, onereload, ...)."""
    return ("service", name, action)


def service_status(name: str) -> Argv:
    """`service NAME onestatus`: runs or not, also while NAME_enable is not YES.

    HA services stay disabled in rc.conf, and rc.subr before the newest one refuses plain
    `status` of such a service ("Cannot 'status' NAME. ...", exit 0).
    """
    return service(name, "onestatus")


def fsck_ufs(device: str, *, repair: bool) -> Argv:
    """`fsck -t ufs -p DEV` (preen: safe fixes only) or `fsck -t ufs -y DEV` (fix all)."""
    return ("fsck", "-t", "ufs", "-y" if repair else "-p", device)


def mount_ufs(device: str, mountpoint: str, options: Sequence[str] = ()) -> Argv:
    """`mount -t ufs [-o OPTS] DEV MNT`."""
    opts = ("-o", ",".join(options)) if options else ()
    return ("mount", "-t", "ufs", *opts, device, mountpoint)


def umount(mountpoint: str, *, force: bool = False) -> Argv:
    """`umount [-f] MNT`."""
    return ("umount", "-f", mountpoint) if force else ("umount", mountpoint)


def zpool_import(pool: str, device_dir: str) -> Argv:
    """`zpool import -o cachefile=none -f -N -d /dev/hast POOL`.

    Only HAST providers, forced (last used by the peer), datasets not mounted, and never
    written to zpool.cache: a pool opened from the cache at boot has no /dev/hast yet, shows
    UNAVAIL and blocks the next import.
    """
    return ("zpool", "import", "-o", "cachefile=none", "-f", "-N", "-d", device_dir, pool)


def zpool_export(pool: str, *, force: bool = False) -> Argv:
    """`zpool export [-f] POOL`."""
    return ("zpool", "export", "-f", pool) if force else ("zpool", "export", pool)


def zfs_mount_all() -> Argv:
    """`zfs mount -a`: mount the datasets of imported pools."""
    return ("zfs", "mount", "-a")


def watchdog_pat(timeout: int) -> Argv:
    """`watchdog -t TIMEOUT`: arm watchdog(4), or pat it, for TIMEOUT seconds; 0 disarms
    (usr.sbin/watchdogd/watchdogd.c, watchdog(8); docs/freebsd/watchdog.md)."""
    return ("watchdog", "-t", str(timeout))


def ping_once(address: str, timeout: int) -> Argv:
    """`ping [-6] -c 1 -t TIMEOUT -q ADDRESS`: one echo request, exit 0 when a reply came.

    FreeBSD 13+ ping takes -6 (ping6 is the old name); -t is whole seconds before ping
    exits regardless (sbin/ping/ping.8, docs/freebsd/ping.md).
    """
    family = ("-6",) if ":" in address else ()
    return ("ping", *family, "-c", "1", "-t", str(timeout), "-q", address)
