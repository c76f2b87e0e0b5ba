"""sysctl(8): read and write the node's sysctls (sbin/sysctl/sysctl.c, newest texts)."""

from __future__ import annotations

import getopt
import time
from dataclasses import dataclass

from carpswitch.lab.carp import ALLOW, DEMOTION, carp_linkstate
from carpswitch.lab.context import ShimContext
from carpswitch.lab.state import NetworkState, SysctlState

USAGE = (
    "usage: sysctl [-bdehiNnoqTWx] [ -B <bufsize> ] [-f filename] name[=value] ...\n"
    "       sysctl [-bdehNnoqTWx] [ -B <bufsize> ] -a\n"
)


@dataclass(frozen=True)
class Oid:
    """A sysctl the node knows: its type and whether it can be written."""

    kind: str  # "integer", "unsigned integer" or "string"
    writable: bool = True


#: Known oids in the order `sysctl -a` would list them.
OIDS: dict[str, Oid] = {
    "kern.osrelease": Oid("string", writable=False),
    "kern.boottime": Oid("struct timeval", writable=False),
    "kern.hostname": Oid("string"),
    "kern.hostuuid": Oid("string"),
    "kern.hostid": Oid("unsigned integer"),
    "net.inet.carp.allow": Oid("integer"),
    "net.inet.carp.dscp": Oid("integer"),
    "net.inet.carp.preempt": Oid("integer"),
    "net.inet.carp.log": Oid("integer"),
    "net.inet.carp.demotion": Oid("integer"),
    "net.inet.carp.senderr_demotion_factor": Oid("integer"),
    "net.inet.carp.ifdown_demotion_factor": Oid("integer"),
    "security.jail.jailed": Oid("integer", writable=False),
}


@dataclass
class _Flags:
    names_only: bool = False  # -N
    values_only: bool = False  # -n
    quiet: bool = False  # -q
    ignore_unknown: bool = False  # -i
    equals: bool = False  # -e


def run(ctx: ShimContext, args: list[str]) -> int:
    """sysctl with `args`; returns the number of failed names (as sysctl does)."""
    try:
        options, names = getopt.getopt(args, "AabB:def:hiNnoqTwWxX")
    except getopt.GetoptError:
        ctx.err.write(USAGE)
        return 1
    flags = _Flags()
    show_all = False
    for option, _ in options:
        if option == "-n":
            flags.values_only = True
        elif option == "-N":
            flags.names_only = True
        elif option == "-q":
            flags.quiet = True
        elif option == "-i":
            flags.ignore_unknown = True
        elif option == "-e":
            flags.equals = True
        elif option in ("-a", "-A", "-X"):
            show_all = True
    if flags.names_only and flags.values_only:
        ctx.err.write(USAGE)
        return 1
    if show_all and not names:
        for name in OIDS:
            _show(ctx, flags, name)
        return 0
    if not names:
        ctx.err.write(USAGE)
        return 1
    return sum(_one(ctx, flags, argument) for argument in names)


def _values(ctx: ShimContext) -> dict[str, int | str]:
    state = ctx.store.read(SysctlState)
    values = dict(state.values)
    values["kern.osrelease"] = ctx.facts.osrelease
    values["kern.boottime"] = format_timeval(state.boottime_sec, state.boottime_usec)
    values["security.jail.jailed"] = 0
    return values


def format_timeval(sec: int, usec: int) -> str:
    """sysctl.c S_timeval: `{ sec = %jd, usec = %ld } ` and ctime(3) without its newline."""
    return f"{{ sec = {sec}, usec = {usec} }} {time.ctime(sec)}"


def _format(ctx: ShimContext, flags: _Flags, name: str, value: int | str) -> str:
    if flags.names_only:
        return name
    if flags.values_only:
        return str(value)
    return f"{name}{'=' if flags.equals else ': '}{value}"


def _show(ctx: ShimContext, flags: _Flags, name: str) -> None:
    ctx.print(_format(ctx, flags, name, _values(ctx)[name]))


def _one(ctx: ShimContext, flags: _Flags, argument: str) -> int:
    name, has_value, new_text = argument.partition("=")
    name = name.rstrip()
    new_text = new_text.lstrip()
    if len(new_text) >= 2 and new_text[0] in "\"'" and new_text[-1] == new_text[0]:
        new_text = new_text[1:-1]
    if name not in OIDS:
        children = [oid for oid in OIDS if oid.startswith(name + ".")]
        if children and not has_value:
            for child in children:
                _show(ctx, flags, child)
            return 0
        if children:
            ctx.warn(f"sysctl: oid '{name}' isn't a leaf node")
            return 1
        if flags.ignore_unknown:
            return 0
        if not flags.quiet:
            ctx.warn(f"sysctl: unknown oid '{name}'")
        return 1
    if not has_value:
        _show(ctx, flags, name)
        return 0
    return _write(ctx, flags, name, new_text)


def _write(ctx: ShimContext, flags: _Flags, name: str, text: str) -> int:
    oid = OIDS[name]
    if not oid.writable:
        ctx.warn(f"sysctl: oid '{name}' is read only")
        return 1
    new_value: int | str
    if oid.kind == "string":
        new_value = text
    else:
        if not text:
            ctx.warn("sysctl: empty numeric value")
            return 1
        try:
            new_value = int(text, 0)
        except ValueError:
            ctx.warn(f"sysctl: invalid {oid.kind} '{text}'")
            return 1
    with ctx.store.locked():
        state = ctx.store.read(SysctlState)
        old = state.values.get(name, 0)
        if name == DEMOTION:
            assert isinstance(old, int) and isinstance(new_value, int)
            new_value = old + new_value  # carp_demote_adj: a write adds to the demotion
        state.values[name] = new_value
        if name == ALLOW and new_value != old:
            _allow_changed(ctx, state)  # carp_allow_sysctl, only when the value changes
        ctx.store.write(state)
    if name == DEMOTION and ctx.facts.netns is not None:
        # two-node lab: ucarp advertises the demoted skew (carpswitch.lab.cluster.ucarp)
        from carpswitch.lab.cluster.ucarp import follow_skew

        follow_skew(ctx.paths.root)
    before = _format(ctx, flags, name, old)
    ctx.print(f"{before} -> {new_value}")
    return 0


def _allow_changed(ctx: ShimContext, sysctls: SysctlState) -> None:
    """carp_allow_sysctl: carp_sc_state for every vhid (INIT and demoted when 0)."""
    with ctx.store.update(NetworkState) as network:
        for interface in network.interfaces:
            carp_linkstate(interface, sysctls)
