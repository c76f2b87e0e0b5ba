"""zpool(8): import, export and list pools built on the node's HAST providers."""

from __future__ import annotations

import getopt
import time
from pathlib import Path

from carpswitch.lab.commands.provider_io import wait_until_served
from carpswitch.lab.context import ShimContext
from carpswitch.lab.paths import NodePaths
from carpswitch.lab.state import PoolRecord, PoolState

EX_USAGE = 2
_SIZE = {"size": "63.5M", "alloc": "1.05M", "free": "62.5M", "cap": "1%", "frag": "0%"}
_PROPERTIES = {
    "name": "NAME",
    "size": "SIZE",
    "alloc": "ALLOC",
    "allocated": "ALLOC",
    "free": "FREE",
    "ckpoint": "CKPOINT",
    "checkpoint": "CKPOINT",
    "expandsz": "EXPANDSZ",
    "expandsize": "EXPANDSZ",
    "frag": "FRAG",
    "fragmentation": "FRAG",
    "cap": "CAP",
    "capacity": "CAP",
    "dedup": "DEDUP",
    "dedupratio": "DEDUP",
    "health": "HEALTH",
    "altroot": "ALTROOT",
    "guid": "GUID",
}
_DEFAULT_COLUMNS = "name,size,alloc,free,ckpoint,expandsz,frag,cap,dedup,health,altroot"


def run(ctx: ShimContext, args: list[str]) -> int:
    """zpool with `args`."""
    if not args:
        ctx.err.write("missing command\n")
        return EX_USAGE
    verb, rest = args[0], args[1:]
    if verb == "import":
        return _import(ctx, rest)
    if verb == "export":
        return _export(ctx, rest)
    if verb == "list":
        return _list(ctx, rest)
    ctx.err.write(f"unrecognized command '{verb}'\n")
    return EX_USAGE


def pool_health(pool: PoolRecord, paths: NodePaths) -> str:
    """ONLINE while every provider exists, else UNAVAIL (SUSPENDED if so set).

    A pool opened from zpool.cache at boot without its providers stays UNAVAIL, even once
    they appear, until it is exported.
    """
    if pool.unavail_from_cache:
        return "UNAVAIL"
    if all(paths.provider(p).exists() for p in pool.providers):
        return "ONLINE"
    return "SUSPENDED" if pool.suspended else "UNAVAIL"


def _import(ctx: ShimContext, args: list[str]) -> int:
    try:
        options, names = getopt.getopt(args, "afFmnNDd:o:R:c:sX")
    except getopt.GetoptError as exc:
        ctx.err.write(f"invalid option '{exc.opt}'\n")
        return EX_USAGE
    flags = {name for name, _ in options}
    search = [Path(value) for name, value in options if name == "-d"] or [ctx.paths.dev]
    # `-o cachefile=none`: not written to zpool.cache (any other cachefile value is)
    cached = "cachefile=none" not in [value for name, value in options if name == "-o"]
    for provider in _providers_in(ctx, search):
        wait_until_served(ctx, str(provider))  # the import reads every label it finds
    with ctx.store.locked():
        pools = ctx.store.read(PoolState)
        if not names:
            return _list_importable(ctx, pools, search)
        name = names[0]
        pool = pools.pool(name)
        if pool is not None and pool.imported:
            ctx.warn(f"cannot import '{name}': a pool with that name already exists")
            ctx.warn("use the form 'zpool import <pool | id> <newpool>' to give it a new name")
            return 1
        if pool is None or not _findable(ctx, pool, search):
            ctx.warn(f"cannot import '{name}': no such pool available")
            return 1
        if not pool.exported and pool.last_hostid != ctx.facts.hostid and "-f" not in flags:
            accessed = time.ctime(pool.last_accessed)
            ctx.warn(f"cannot import '{name}': pool was previously in use from another system.")
            ctx.warn(
                f"Last accessed by {pool.last_hostname} (hostid={pool.last_hostid:x}) at {accessed}"
            )
            ctx.warn("The pool can be imported, use 'zpool import -f' to import the pool.")
            return 1
        pool.imported = True
        pool.exported = False
        pool.cachefile = cached
        pool.last_hostid = ctx.facts.hostid
        pool.last_hostname = ctx.facts.name
        pool.last_accessed = time.time()
        ctx.store.write(pools)
    return 0


def _findable(ctx: ShimContext, pool: PoolRecord, search: list[Path]) -> bool:
    """True if every provider of the pool is found in one of the search directories."""
    return all(_searched(ctx.paths.provider(p), search) for p in pool.providers)


def _searched(device: Path, search: list[Path]) -> bool:
    """True if `device` exists and lies in (or below) one of the search directories."""
    if not device.exists():
        return False
    for directory in search:
        absolute = directory.absolute()
        if device.parent == absolute or absolute in device.parents:
            return True
    return False


def _providers_in(ctx: ShimContext, search: list[Path]) -> list[Path]:
    """The node's /dev/hast providers that an import searching `search` tastes."""
    return [d for d in sorted(ctx.paths.dev_hast.iterdir()) if _searched(d, search)]


def _list_importable(ctx: ShimContext, pools: PoolState, search: list[Path]) -> int:
    candidates = [p for p in pools.pools if not p.imported and _findable(ctx, p, search)]
    if not candidates:
        ctx.warn("no pools available to import")
        return 0
    for pool in candidates:
        ctx.print(f"   pool: {pool.name}")
        ctx.print(f"     id: {pool.guid}")
        ctx.print("  state: ONLINE")
        if not pool.exported and pool.last_hostid != ctx.facts.hostid:
            ctx.print(" status: The pool was last accessed by another system.")
            ctx.print(" action: The pool can be imported using its name or numeric identifier and")
            ctx.print("\tthe '-f' flag.")
        else:
            ctx.print(" action: The pool can be imported using its name or numeric identifier.")
        ctx.print(" config:")
        ctx.print()
        ctx.print(f"\t{pool.name:<12}ONLINE")
        for provider in pool.providers:
            ctx.print(f"\t  {'hast/' + provider:<10}ONLINE")
    return 0


def _export(ctx: ShimContext, args: list[str]) -> int:
    try:
        options, names = getopt.getopt(args, "af")
    except getopt.GetoptError as exc:
        ctx.err.write(f"invalid option '{exc.opt}'\n")
        return EX_USAGE
    if not names:
        ctx.err.write("missing pool argument\n")
        return EX_USAGE
    force = any(name == "-f" for name, _ in options)
    status = 0
    with ctx.store.locked():
        pools = ctx.store.read(PoolState)
        for name in names:
            pool = pools.pool(name)
            if pool is None or not pool.imported:
                ctx.warn(f"cannot open '{name}': no such pool")
                status = 1
                continue
            if pool.busy and not force:
                # libzfs zpool_standard_error: EBUSY -> EZFS_BUSY's description
                ctx.warn(f"cannot export '{name}': pool or dataset is busy")
                status = 1
                continue
            pool.imported = False
            pool.exported = True
            pool.cachefile = False  # export removes the pool from zpool.cache
            pool.unavail_from_cache = False
            pool.last_accessed = time.time()
        ctx.store.write(pools)
    return status


def _list(ctx: ShimContext, args: list[str]) -> int:
    try:
        options, names = getopt.getopt(args, "gHLo:pPT:v")
    except getopt.GetoptError as exc:
        ctx.err.write(f"invalid option '{exc.opt}'\n")
        return EX_USAGE
    scripted = any(name == "-H" for name, _ in options)
    columns = next((value for name, value in options if name == "-o"), _DEFAULT_COLUMNS)
    wanted = [c.strip() for c in columns.split(",")]
    unknown = [c for c in wanted if c not in _PROPERTIES]
    if unknown:
        ctx.err.write(f"invalid property '{unknown[0]}'\n")
        return EX_USAGE
    pools = [p for p in ctx.store.read(PoolState).pools if p.imported]
    status = 0
    selected = []
    for name in names:
        pool = next((p for p in pools if p.name == name), None)
        if pool is None:
            ctx.warn(f"cannot open '{name}': no such pool")
            status = 1
        else:
            selected.append(pool)
    if not names:
        selected = pools
        if not pools:
            # zpool_main.c zpool_do_list: only when not scripted (-H) and no names given
            if not scripted:
                ctx.print("no pools available")
            return 0
    rows = [[_value(ctx, pool, column) for column in wanted] for pool in selected]
    if scripted:
        for row in rows:
            ctx.print("\t".join(row))
        return status
    header = [_PROPERTIES[c] for c in wanted]
    widths = [max(len(x) for x in column) for column in zip(header, *rows, strict=False)]
    for row in [header, *rows]:
        ctx.print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return status


def _value(ctx: ShimContext, pool: PoolRecord, column: str) -> str:
    key = _PROPERTIES[column]
    if key == "NAME":
        return pool.name
    if key == "HEALTH":
        return pool_health(pool, ctx.paths)
    if key == "GUID":
        return str(pool.guid)
    if key in ("CKPOINT", "EXPANDSZ", "ALTROOT") or pool_health(pool, ctx.paths) == "UNAVAIL":
        return "-"  # an UNAVAIL pool has no sizes to show
    if key == "DEDUP":
        return "1.00x"
    return _SIZE[key.lower()]
