"""ifconfig(8): interface status with CARP lines; `vhid N state|advskew`, `up`/`down`."""

from __future__ import annotations

from carpswitch.lab.context import ShimContext
from carpswitch.lab.state import Interface, NetworkState, SysctlState

_CARP_STATES = ("INIT", "BACKUP", "MASTER")
_IFDOWN_DEMOTION = 240

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
        if not settings:
            interface = ctx.store.read(NetworkState).interface(name)
            if interface is None:
                raise _Fail(f"interface {name} does not exist")
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


def _configure(ctx: ShimContext, name: str, settings: list[str]) -> None:
    vhid: int | None = None
    state: str | None = None
    advskew: int | None = None
    advbase: int | None = None
    link: str | None = None
    words = iter(settings)
    for word in words:
        if word in ("up", "down"):
            link = word
            continue
        if word not in ("vhid", "state", "advskew", "advbase"):
            raise _Fail(f"{word}: bad value")
        value = next(words, None)
        if value is None:
            raise _Fail(f"'{word}' requires argument")
        if word == "vhid":
            vhid = _number(value)
            if not 0 < vhid <= 255:
                raise _Fail("vhid must be greater than 0 and less than 255")
        elif word == "state":
            if value.upper() not in _CARP_STATES:
                raise _Fail("unknown state")
            state = value.upper()
        elif word == "advskew":
            advskew = _number(value)
        else:
            advbase = _number(value)
    with ctx.store.locked():
        network = ctx.store.read(NetworkState)
        interface = network.interface(name)
        if interface is None:
            raise _Fail(f"interface {name} does not exist")
        if link is not None:
            _set_link(ctx, interface, link == "up")
        if vhid is not None or state is not None or advskew is not None or advbase is not None:
            _set_carp(interface, vhid, state, advskew, advbase)
        ctx.store.write(network)


def _set_carp(
    interface: Interface,
    vhid: int | None,
    state: str | None,
    advskew: int | None,
    advbase: int | None,
) -> None:
    if vhid is None:
        raise _Fail("vhid must be set")  # SIOCSVH without a vhid
    entry = interface.vhid(vhid)
    if entry is None:
        raise _Fail(f"SIOCSVH: vhid {vhid} has no address on {interface.name}")
    if advskew is not None:
        entry.advskew = max(0, min(advskew, 254))
    if advbase is not None:
        entry.advbase = max(1, min(advbase, 255))
    # ip_carp.c carp_ioctl: a forced state change is ignored while the vhid is INIT, and
    # `state init` is accepted by ifconfig but ignored by the kernel.
    if state in ("BACKUP", "MASTER") and entry.state != "INIT":
        entry.state = state  # type: ignore[assignment]  # validated


def _set_link(ctx: ShimContext, interface: Interface, up: bool) -> None:
    if interface.up == up:
        return
    interface.up = up
    for entry in interface.vhids:
        entry.state = "BACKUP" if up else "INIT"
    with ctx.store.update(SysctlState) as sysctls:
        current = sysctls.values.get("net.inet.carp.demotion", 0)
        assert isinstance(current, int)
        sysctls.values["net.inet.carp.demotion"] = current + (
            -_IFDOWN_DEMOTION if up else _IFDOWN_DEMOTION
        )


def _number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0  # atoi(3)
