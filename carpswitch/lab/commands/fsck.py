"""fsck(8) -t ufs (fsck_ffs): preen (-p), repair (-y), check only (-n).

Texts from sbin/fsck_ffs (main.c checkfilesys, fsutil.c pfatal/pwarn/reply/ckfini,
pass5.c). Preen mode prints only `DEV: ` lines: no phases, and ckfini says nothing (no
`MARKED CLEAN`). The simulated file system is UFS2 without soft updates, so pfatal says
`UNEXPECTED INCONSISTENCY`. A provider that hastd does not serve yet blocks the check.
"""

from __future__ import annotations

import getopt
import os

from carpswitch.lab.commands.fsinfo import fs_key
from carpswitch.lab.commands.provider_io import wait_until_served
from carpswitch.lab.context import ShimContext
from carpswitch.lab.state import FileSystem, FileSystemState

EEXIT = 8
USAGE = (
    "usage: fsck [-dfnpvy] [-B | -F] [-T fstype:fsoptions] [-t fstype] [-c fstab]\n"
    "\t[special | node ...]\n"
)
_SUMMARY = "2 files, 2 used, 30447 free (23 frags, 3803 blocks, 0.1% fragmentation)"
_PHASES = (
    "** Phase 1 - Check Blocks and Sizes",
    "** Phase 2 - Check Pathnames",
    "** Phase 3 - Check Connectivity",
    "** Phase 4 - Check Reference Counts",
    "** Phase 5 - Check Cyl groups",
)
_DAMAGE = "PARTIALLY TRUNCATED INODE I=4"
#: pass5.c: what an unclean shutdown typically leaves (fixed by dofix).
_SUMMARY_DAMAGE = "FREE BLK COUNT(S) WRONG IN SUPERBLK"


def run(ctx: ShimContext, args: list[str]) -> int:
    """fsck with `args`."""
    try:
        options, devices = getopt.getopt(args, "dfnpvyBFT:t:c:C")
    except getopt.GetoptError:
        ctx.err.write(USAGE)
        return 1
    flags = {name for name, _ in options}
    fstype = next((value for name, value in options if name == "-t"), "ufs")
    if not devices:
        ctx.err.write(USAGE)
        return 1
    if fstype != "ufs":
        where = "/sbin:/usr/sbin"
        ctx.warn(f"fsck: exec fsck_{fstype} for {devices[0]} in {where}: No such file or directory")
        return EEXIT
    status = 0
    for device in devices:
        if "-p" in flags:
            status |= _preen(ctx, device)
        else:
            status |= _check(ctx, device, repair="-y" in flags and "-n" not in flags)
    return status


def _preen(ctx: ShimContext, device: str) -> int:
    """`fsck -p`: pwarn lines carry `DEV: `; ckfini prints nothing in preen mode."""
    if not os.path.exists(device):
        ctx.print(f"{device}: CANNOT OPEN {device}: No such file or directory")
        ctx.print(f"{device}: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.")
        return EEXIT
    wait_until_served(ctx, device)
    with ctx.store.update(FileSystemState) as filesystems:
        fs = filesystems.filesystems.setdefault(fs_key(ctx, device), FileSystem())
        if fs.condition == "clean":
            ctx.print(f"{device}: FILE SYSTEM CLEAN; SKIPPING CHECKS")
            ctx.print(f"{device}: clean, 30447 free (23 frags, 3803 blocks, 0.1% fragmentation)")
            return 0
        if fs.condition == "unrepairable":
            ctx.print(f"{device}: {_DAMAGE}")
            ctx.print(f"{device}: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.")
            return EEXIT
        fs.condition = "clean"
    ctx.print(f"{device}: {_SUMMARY_DAMAGE} (SALVAGED)")  # dofix in preen mode
    ctx.print(f"{device}: {_SUMMARY}")
    return 0


def _check(ctx: ShimContext, device: str, *, repair: bool) -> int:
    """`fsck -y` / `fsck -n`: phases, reply() questions, ckfini's closing lines."""
    if not os.path.exists(device):
        ctx.print(f"Can't open {device}: No such file or directory")
        return EEXIT
    wait_until_served(ctx, device)
    answer = "yes" if repair else "no"
    with ctx.store.update(FileSystemState) as filesystems:
        fs = filesystems.filesystems.setdefault(fs_key(ctx, device), FileSystem())
        condition = fs.condition
        ctx.print(f"** {device}{'' if repair else ' (NO WRITE)'}")
        ctx.print(f"** Last Mounted on {fs.last_mountpoint or ''}")
        for number, phase in enumerate(_PHASES, start=1):
            ctx.print(phase)
            if number == 1 and condition == "unrepairable":
                _reply(ctx, _DAMAGE, answer)
            if number == 5 and condition != "clean":
                _reply(ctx, _SUMMARY_DAMAGE, answer)
        ctx.print(_SUMMARY)
        if not repair:  # fswritefd < 0: ckfini returns before its messages
            return 0 if condition == "clean" else EEXIT
        if condition == "clean":
            ctx.print()
            ctx.print("***** FILE SYSTEM IS CLEAN *****")
            return 0
        fs.condition = "clean"
    ctx.print()
    ctx.print("***** FILE SYSTEM MARKED CLEAN *****")
    ctx.print()
    ctx.print("***** FILE SYSTEM WAS MODIFIED *****")
    return 0


def _reply(ctx: ShimContext, problem: str, answer: str) -> None:
    """dofix: pwarn(problem), then reply("SALVAGE"): `\nSALVAGE? yes\n\n`."""
    ctx.print(problem)
    ctx.print(f"SALVAGE? {answer}")
    ctx.print()
