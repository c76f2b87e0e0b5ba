"""The kernel side of CARP (sys/netinet/ip_carp.c), shared by the ifconfig and sysctl shims.

carp_sc_state: when the interface goes down (or net.inet.carp.allow becomes 0) a vhid
goes INIT and - once, while it is not yet "suppressed" - adds
net.inet.carp.ifdown_demotion_factor to net.inet.carp.demotion; when both are back it
goes INIT, then BACKUP through carp_setrun (only with an address), and takes the factor
back. Each vhid counts on its own, so two vhids on a downed interface add it twice.
"""

from __future__ import annotations

from carpswitch.lab.state import Interface, SysctlState, Vhid

DEMOTION = "net.inet.carp.demotion"
IFDOWN_FACTOR = "net.inet.carp.ifdown_demotion_factor"
ALLOW = "net.inet.carp.allow"
#: ip_carp.c CARP_MAXVHID; SIOCSVH refuses advskew >= 255 and advbase > 255 (EINVAL).
MAX_VHID = 255
MAX_ADVSKEW = 254
MAX_ADVBASE = 255


def carp_allowed(sysctls: SysctlState) -> bool:
    """net.inet.carp.allow is not 0."""
    return sysctls.values.get(ALLOW, 1) != 0


def carp_linkstate(interface: Interface, sysctls: SysctlState) -> None:
    """carp_sc_state for every vhid of `interface` (its link or carp.allow changed).

    Demotion changes go into `sysctls`; the caller writes both back.
    """
    running = interface.up and carp_allowed(sysctls)
    for vhid in interface.vhids:
        _sc_state(vhid, running, sysctls)


def _sc_state(vhid: Vhid, running: bool, sysctls: SysctlState) -> None:
    factor = _int(sysctls, IFDOWN_FACTOR)
    vhid.state = "INIT"
    if not running:
        if not vhid.suppressed:
            _adjust_demotion(sysctls, factor)  # "interface down"
        vhid.suppressed = True
        return
    if vhid.address is not None:
        vhid.state = "BACKUP"  # carp_setrun: "initialization complete"
    if vhid.suppressed:
        _adjust_demotion(sysctls, -factor)  # "interface up"
    vhid.suppressed = False


def _adjust_demotion(sysctls: SysctlState, amount: int) -> None:
    """carp_demote_adj: atomic add, no clamping."""
    sysctls.values[DEMOTION] = _int(sysctls, DEMOTION) + amount


def _int(sysctls: SysctlState, name: str) -> int:
    value = sysctls.values.get(name, 0)
    return value if isinstance(value, int) else 0
