"""ifconfig(8): interface status with CARP lines; `vhid N state|advskew`, `up`/`down`.

Texts and checks from sbin/ifconfig/ifcarp.c (errx messages, SIOCSVH errors) and the
kernel's answers from sys/netinet/ip_carp.c (see carpswitch.lab.carp).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from carpswitch.lab.carp import MAX_ADVBASE, MAX_ADVSKEW, MAX_VHID, carp_linkstate
from carpswitch.lab.context import ShimContext
from carpswitch.lab.state import Interface, NetworkState, SysctlState, Vhid

_CARP_STATES = ("INIT", "BACKUP", "MASTER")
_CARP_WORDS = ("vhid", "state", "advskew", "advbase", "pass")

_LOOPBACK = (
    "lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> metric 0 mtu 16384\n"
    "\toptions=680003<RXCSUM,TXCSUM,LINKSTATE,RXCSUM_IPV6,TXCSUM_IPV6>\n"
    "\tinet 127.0.0.1 netmask 0xff000000\n"
    "\tinet6 ::1 prefixlen 128\n"
    "\tinet6 fe80::1%lo0 prefixlen 64 scopeid 0x2\n"
    "\tgroups: lo\n"
    "\tnd6 options=21<PERFORMNUD,AUTO_LINKLOCAL>\n"
)


class _Fail(Exception):
    pass


def run(ctx: ShimContext, args: list[str]) -> int:
    """ifconfig with `args`."""
    if args[:1] == ["-a"] or not args:
        network = ctx.store.read(NetworkState)
        ctx.out.write(
            "".join(interface_block(i, ctx.facts.freebsd_version) for i in network.interfaces)
        )
        ctx.out.write(_LOOPBACK)
        return 0
    name, settings = args[0], args[1:]
    if name == "lo0" and not settings:
        ctx.out.write(_LOOPBACK)
        return 0
    try:
        interface = ctx.store.read(NetworkState).interface(name)
        if interface is None:
            raise _Fail(f"interface {name} does not exist")
        if not settings:
            ctx.out.write(interface_block(interface, ctx.facts.freebsd_version))
            return 0
        _configure(ctx, name, settings)
    except _Fail as exc:
        ctx.warn(f"ifconfig: {exc}")
        return 1
    return 0


def interface_block(interface: Interface, freebsd_version: int) -> str:
    """What `ifconfig IFACE` prints (sbin/ifconfig: af_link, af_inet, ifcarp.c, ifmedia)."""
    flags = (
        "8863<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST>"
        if interface.up
        else ("8862<BROADCAST,RUNNING,SIMPLEX,MULTICAST>")
    )
    lines = [
        f"{interface.name}: flags={flags} metric 0 mtu 1500",
        "\toptions=4c07bb<RXCSUM,TXCSUM,VLAN_MTU,VLAN_HWTAGGING,JUMBO_MTU,VLAN_HWCSUM,TSO4,"
        "TSO6,LRO,VLAN_HWTSO,LINKSTATE,TXCSUM_IPV6>",
        f"\tether {interface.ether}",
        f"\tinet {interface.address} netmask {interface.netmask} broadcast {interface.broadcast}",
    ]
    lines += [
        f"\tinet {v.address} netmask 0xffffffff broadcast {v.address} vhid {v.vhid}"
        for v in interface.vhids
        if v.address is not None
    ]
    for vhid in interface.vhids:
        lines.append(
            f"\tcarp: {vhid.state} vhid {vhid.vhid} advbase {vhid.advbase} advskew {vhid.advskew}"
        )
        if freebsd_version >= 14:
            lines.append("\t      peer 224.0.0.18 peer6 ff02::12")
    lines += [
        "\tmedia: Ethernet autoselect (10Gbase-T <full-duplex>)",
        f"\tstatus: {'active' if interface.up else 'no carrier'}",
        "\tnd6 options=29<PERFORMNUD,IFDISABLED,AUTO_LINKLOCAL>",
    ]
    return "\n".join(lines) + "\n"


@dataclass
class _CarpRequest:
    """What ifcarp.c collects from the arguments before its SIOCSVH callback runs."""

    vhid: int | None = None
    state: str | None = None
    advskew: int = -1  # -1: not given (ifcarp.c keeps the current value)
    advbase: int = -1


def _configure(ctx: ShimContext, name: str, settings: list[str]) -> None:
    """Arguments in order, as ifconfig does: `up`/`down` at once, carp settings at the end."""
    request = _CarpRequest()
    words = iter(settings)
    for word in words:
        if word in ("up", "down"):
            _set_link(ctx, name, word == "up")
            continue
        if word not in _CARP_WORDS:
            raise _Fail(f"{word}: bad value")
        value = next(words, None)
        if value is None:
            raise _Fail(f"'{word}' requires argument")
        _carp_word(request, word, value)
    if request.vhid is not None:
        _siocsvh(ctx, name, request)


def _carp_word(request: _CarpRequest, word: str, value: str) -> None:
    """ifcarp.c setcarp_vhid / _state / _advskew / _advbase / _passwd."""
    if word == "vhid":
        request.vhid = _atoi(value)
        if not 0 < request.vhid <= MAX_VHID:
            raise _Fail(f"vhid must be greater than 0 and less than {MAX_VHID}")
        return
    if request.vhid is None:
        raise _Fail(f"{'passwd' if word == 'pass' else word} requires vhid")
    if word == "state":
        if value.upper() not in _CARP_STATES:
            raise _Fail("unknown state")
        request.state = value.upper()
    elif word == "advskew":
        request.advskew = _atoi(value)
    elif word == "advbase":
        request.advbase = _atoi(value)


def _siocsvh(ctx: ShimContext, name: str, request: _CarpRequest) -> None:
    """SIOCSVH as ip_carp.c carp_nl_set / carp_ioctl_set handle it."""
    assert request.vhid is not None
    with ctx.store.locked():
        network = ctx.store.read(NetworkState)
        interface = network.interface(name)
        if interface is None:
            raise _Fail(f"interface {name} does not exist")
        entry = interface.vhid(request.vhid)
        advskew = request.advskew if request.advskew > -1 else (entry.advskew if entry else 0)
        advbase = request.advbase if request.advbase > -1 else (entry.advbase if entry else 0)
        if advskew > MAX_ADVSKEW or advbase > MAX_ADVBASE:
            raise _Fail("SIOCSVH: Invalid argument")
        if entry is None:  # carp_alloc: a new vhid starts in INIT, without an address
            entry = Vhid(vhid=request.vhid)
            interface.vhids.append(entry)
        entry.advskew = advskew
        if advbase > 0:
            entry.advbase = advbase
        # A forced state change is ignored while the vhid is INIT (sc_state != INIT), and
        # `state init` is accepted by ifconfig but changes nothing in the kernel.
        forced = request.state if request.state in ("BACKUP", "MASTER") else None
        if forced is not None and entry.state != "INIT" and ctx.facts.netns is None:
            entry.state = forced  # validated
        ctx.store.write(network)
    if ctx.facts.netns is not None:
        _tell_ucarp(ctx, forced if entry.state != "INIT" else None)


def _tell_ucarp(ctx: ShimContext, forced: str | None) -> None:
    """In the two-node lab ucarp is the kernel's CARP: `state backup` demotes it for real
    (and waits for its downscript), a new advskew restarts a BACKUP ucarp with it.
    `state master` is not passed on: ucarp cannot be told to become MASTER."""
    from carpswitch.lab.cluster import ucarp

    if forced == "BACKUP":
        if not ucarp.force_backup(ctx.paths.root):
            raise _Fail("SIOCSVH: Operation timed out")  # lab: ucarp did not go BACKUP
    else:
        ucarp.follow_skew(ctx.paths.root)


def _set_link(ctx: ShimContext, name: str, up: bool) -> None:
    """if_up / if_down: the interface flag, then carp_linkstate for its vhids."""
    with ctx.store.locked():
        network = ctx.store.read(NetworkState)
        interface = network.interface(name)
        if interface is None:
            raise _Fail(f"interface {name} does not exist")
        if interface.up == up:
            return
        interface.up = up
        sysctls = ctx.store.read(SysctlState)
        carp_linkstate(interface, sysctls)
        ctx.store.write(sysctls)
        ctx.store.write(network)


def _atoi(text: str) -> int:
    """atoi(3): the leading decimal number, 0 if there is none."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0
