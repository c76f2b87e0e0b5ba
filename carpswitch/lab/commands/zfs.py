"""zfs(8): `mount -a`/`unmount -a` for the controller, volumes for set-up.

Volumes live in the node's local pools (NodeFacts.local_pools, each a directory
DIR/dev/zvol/POOL); a volume POOL/VOL is the sparse file DIR/dev/zvol/POOL/VOL, so its
provider is /dev/zvol/POOL/VOL as on FreeBSD (docs/freebsd/zfs-volumes.md has the texts).
"""

from __future__ import annotations

import getopt
import re

from carpswitch.lab.context import ShimContext
from carpswitch.lab.state import PoolState

EX_USAGE = 2
_SHIFTS = {"": 0, "B": 0, "K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}
_NUMBER = re.compile(r"([0-9]*\.?[0-9]+|[0-9]+\.)(.*)")


class SizeError(ValueError):
    """zfs_nicestrtonum's reason (libzfs_error_description)."""


def parse_size(text: str) -> int:
    """zfs_nicestrtonum: `10G`, `512M`, `1.5T`, `4096`, `1KB`, `1KiB` -> bytes."""
    match = _NUMBER.fullmatch(text)
    if match is None:
        raise SizeError(f"bad numeric value '{text}'")
    number, suffix = match.groups()
    unit = suffix.upper()
    if unit[1:] in ("B", "IB"):  # 1KB, 1KiB
        unit = unit[0]
    if unit not in _SHIFTS:
        raise SizeError(f"invalid numeric suffix '{suffix}'")
    shift = _SHIFTS[unit]
    value = int(float(number) * (1 << shift)) if "." in number else int(number) << shift
    if value >= 1 << 64:
        raise SizeError("numeric value is too large")
    return value


def run(ctx: ShimContext, args: list[str]) -> int:
    """zfs with `args`."""
    if args in (["mount", "-a"], ["unmount", "-a"], ["umount", "-a"], ["unmount", "-fa"]):
        return 0
    handlers = {"list": _list, "create": _create, "get": _get}
    if args and args[0] in handlers:
        return handlers[args[0]](ctx, args[1:])
    return _usage(ctx)


def _usage(ctx: ShimContext) -> int:
    ctx.err.write(
        "usage: zfs mount -a | zfs unmount -a | zfs list [-H] [-o name] [DATASET] | "
        "zfs create [-s] -V SIZE POOL/VOL | zfs get -Hp -o value volsize DATASET "
        "(simulated subset)\n"
    )
    return EX_USAGE


def _exists(ctx: ShimContext, dataset: str) -> bool:
    pool, _, volume = dataset.partition("/")
    if pool not in ctx.facts.local_pools:
        return False
    return not volume or ctx.paths.zvol(dataset).is_file()


def _cannot_open(ctx: ShimContext, dataset: str) -> int:
    ctx.warn(f"cannot open '{dataset}': dataset does not exist")
    return 1


def _list(ctx: ShimContext, args: list[str]) -> int:
    try:
        options, names = getopt.getopt(args, "Ho:")
    except getopt.GetoptError:
        return _usage(ctx)
    settings = dict(options)
    if settings.get("-o", "name") != "name":
        return _usage(ctx)
    scripted = "-H" in settings
    if names:
        status = 0
        for name in names:
            if _exists(ctx, name):
                ctx.print(name if scripted else f"NAME\n{name}")
            else:
                status = _cannot_open(ctx, name)
        return status
    imported = [p.name for p in ctx.store.read(PoolState).pools if p.imported]
    local = [*ctx.facts.local_pools, *_volumes(ctx)]
    for name in imported:
        ctx.print(name if scripted or "-o" in settings else f"{name}\t1.05M\t61.5M\t96K\t/{name}")
    for name in local:
        ctx.print(name)
    return 0


def _volumes(ctx: ShimContext) -> list[str]:
    found = []
    for pool in ctx.facts.local_pools:
        directory = ctx.paths.dev_zvol / pool
        if directory.is_dir():
            found += sorted(f"{pool}/{p.name}" for p in directory.iterdir() if p.is_file())
    return found


def _create(ctx: ShimContext, args: list[str]) -> int:
    try:
        options, names = getopt.getopt(args, "sV:")
    except getopt.GetoptError as exc:
        ctx.warn(f"invalid option '{exc.opt}'")
        return _usage(ctx)
    settings = dict(options)
    if "-V" not in settings or len(names) != 1:
        return _usage(ctx)
    dataset = names[0]
    try:
        size = parse_size(settings["-V"])
    except SizeError as exc:
        ctx.warn(f"bad volume size '{settings['-V']}': {exc}")
        return 1
    pool, _, volume = dataset.partition("/")
    if not volume or "/" in volume:
        ctx.warn(f"cannot create '{dataset}': parent does not exist")
        return 1
    if pool not in ctx.facts.local_pools:
        ctx.warn(f"cannot create '{dataset}': no such pool '{pool}'")
        return 1
    if size == 0:
        ctx.warn(f"cannot create '{dataset}': volume size cannot be zero")
        return 1
    path = ctx.paths.zvol(dataset)
    if path.exists():
        ctx.warn(f"cannot create '{dataset}': dataset already exists")
        return 1
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("xb") as zvol:  # sparse with or without -s: the lab has no space to reserve
        zvol.truncate(size)
    return 0


def _get(ctx: ShimContext, args: list[str]) -> int:
    try:
        options, operands = getopt.getopt(args, "Hpo:")
    except getopt.GetoptError:
        return _usage(ctx)
    settings = dict(options)
    if len(operands) != 2 or operands[0] != "volsize" or settings.get("-o") != "value":
        return _usage(ctx)
    dataset = operands[1]
    if not _exists(ctx, dataset):
        return _cannot_open(ctx, dataset)
    if "/" not in dataset:  # a file system has no volsize: zfs get prints "-"
        ctx.print("-")
        return 0
    size = ctx.paths.zvol(dataset).stat().st_size
    ctx.print(str(size) if "-p" in settings else _nicenum(size))
    return 0


def _nicenum(size: int) -> str:
    """zfs_nicenum for whole units (what `zfs get` prints without -p)."""
    for letter in "EPTGMK":
        shift = _SHIFTS[letter]
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift}{letter}"
    return str(size)
