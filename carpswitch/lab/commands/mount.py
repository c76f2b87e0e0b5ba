"""mount(8): list mounts (plain and -p) and mount UFS, refusing unclean file systems."""

from __future__ import annotations

import getopt
import os
from pathlib import Path

from carpswitch.lab.commands.fsinfo import fs_key
from carpswitch.lab.commands.provider_io import wait_until_served
from carpswitch.lab.context import ShimContext
from carpswitch.lab.state import FileSystem, FileSystemState, MountEntry, MountState

USAGE = (
    "usage: mount [-adflpruvw] [-F fstab] [-o options] [-t ufs | external_type]\n"
    "       mount [-dfpruvw] special | node\n"
    "       mount [-dfpruvw] [-o options] [-t ufs | external_type] special node\n"
)


def run(ctx: ShimContext, args: list[str]) -> int:
    """mount with `args`."""
    try:
        options, rest = getopt.getopt(args, "adF:flo:prt:uvw")
    except getopt.GetoptError:
        ctx.err.write(USAGE)
        return 1
    flags = {name for name, _ in options}
    if not rest:
        if "-p" in flags:
            _print_fstab(ctx)
        else:
            _print_mounts(ctx)
        return 0
    if len(rest) != 2:
        if len(rest) == 1:
            ctx.warn(f"mount: {rest[0]}: unknown special file or file system")
            return 1
        ctx.err.write(USAGE)
        return 1
    fstype = "ufs"
    mount_options: list[str] = []
    for name, value in options:
        if name == "-t":
            fstype = value
        elif name == "-o":
            mount_options += [o for o in value.split(",") if o]
        elif name == "-r":
            mount_options.append("ro")
        elif name == "-w":
            mount_options.append("rw")
    return _mount(ctx, rest[0], rest[1], fstype, mount_options, force="-f" in flags)


#: The node's root file system. The lab does not model it, but FreeBSD always has one
#: mounted and lists it first (sbin/mount/mount.c: getmntinfo(3) order), so `mount` and
#: `mount -p` always print it.
ROOT = MountEntry(device="/dev/ada0p2", mountpoint="/", fstype="ufs", options=["rw"])


def _table(ctx: ShimContext) -> list[MountEntry]:
    return [ROOT, *ctx.store.read(MountState).mounts]


def _print_mounts(ctx: ShimContext) -> None:
    for entry in _table(ctx):
        extra = [o for o in entry.options if o not in ("rw",)]
        description = ", ".join([entry.fstype, "local", *extra])
        ctx.print(f"{entry.device} on {entry.mountpoint} ({description})")


def _print_fstab(ctx: ShimContext) -> None:
    for entry in _table(ctx):
        ctx.out.write(putfsent(entry))


def putfsent(entry: MountEntry) -> str:
    """The `mount -p` line of `entry` (sbin/mount/mount.c putfsent), newline included.

    Device and mount point each padded with "\t" if shorter than 8, another "\t" if
    shorter than 16, then "\t" if shorter than 24 else " "; fstype and "\t"; the options
    and "\t" if shorter than 8 else " "; then "\t%u %u\n". Lengths are strlen(): bytes.
    """
    freq, passno = _fstab_numbers(entry)
    options = ",".join(entry.options)
    return (
        _padded(entry.device)
        + _padded(entry.mountpoint)
        + f"{entry.fstype}\t{options}"
        + ("\t" if _strlen(options) < 8 else " ")
        + f"\t{freq} {passno}\n"
    )


def _padded(name: str) -> str:
    length = _strlen(name)
    return (
        name
        + ("\t" if length < 8 else "")
        + ("\t" if length < 16 else "")
        + ("\t" if length < 24 else " ")
    )


def _strlen(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def _fstab_numbers(entry: MountEntry) -> tuple[int, int]:
    """putfsent: fstab's freq/passno; without an fstab line `1 1` for a UFS on /, `2 2` for
    any other UFS, `0 0` otherwise (the lab has no fstab)."""
    if entry.fstype != "ufs":
        return (0, 0)
    return (1, 1) if entry.mountpoint == "/" else (2, 2)


def _mount(
    ctx: ShimContext,
    device: str,
    mountpoint: str,
    fstype: str,
    options: list[str],
    *,
    force: bool,
) -> int:
    target = Path(mountpoint)
    if not target.exists():
        ctx.warn(f"mount: {mountpoint}: No such file or directory")
        return 1
    if not target.is_dir():
        ctx.warn(f"mount: {mountpoint}: Not a directory")
        return 1
    if fstype != "ufs":
        ctx.warn(f"mount: {device}: Operation not supported by device")
        return 1
    mountpoint = os.path.abspath(mountpoint)
    read_only = "ro" in options and options.index("ro") >= max(
        (i for i, o in enumerate(options) if o == "rw"), default=-1
    )
    final_options = ["ro" if read_only else "rw", *(o for o in options if o not in ("ro", "rw"))]
    key = fs_key(ctx, device)
    if os.path.exists(device):
        wait_until_served(ctx, device)  # reading the superblock is I/O on the provider
    with ctx.store.locked():
        mounts = ctx.store.read(MountState)
        if not os.path.exists(device):
            ctx.warn(f"mount: {device}: No such file or directory")
            return 1
        if any(m.device == device or m.mountpoint == mountpoint for m in mounts.mounts):
            ctx.warn(f"mount: {device}: Device busy")
            return 1
        filesystems = ctx.store.read(FileSystemState)
        fs = filesystems.filesystems.setdefault(key, FileSystem())
        if fs.condition != "clean" and not read_only and not force:
            # ffs_vfsops.c ffs_mountfs -> vfs_mount_error; mount_fs.c prints errmsg + errno.
            ctx.warn(
                f"mount: {device}: R/W mount of {fs.last_mountpoint or mountpoint} denied. "
                "Filesystem is not clean - run fsck.: Operation not permitted"
            )
            return 1
        fs.last_mountpoint = mountpoint
        mounts.mounts.append(
            MountEntry(device=device, mountpoint=mountpoint, fstype=fstype, options=final_options)
        )
        ctx.store.write(filesystems)
        ctx.store.write(mounts)
    return 0
