"""The rc.d scripts a lab node knows: what rc.subr's run_rc_command needs from each.

Scripts in the base system (libexec/rc/rc.d) are described as FreeBSD ships them; any
other name is a local script (/usr/local/etc/rc.d/NAME) with rc.subr's defaults: rcvar
NAME_enable, pidfile /var/run/NAME.pid and no extra commands (so no `reload`).
"""

from __future__ import annotations

from dataclasses import dataclass

BASE_RC_D = "/etc/rc.d"
LOCAL_RC_D = "/usr/local/etc/rc.d"

#: rc.subr run_rc_command: `_keywords` before `$extra_commands`, and after them the two
#: it adds when it can find the process (procname or pidfile).
_KEYWORDS = (
    "start",
    "stop",
    "restart",
    "rcvar",
    "enable",
    "disable",
    "delete",
    "enabled",
    "describe",
    "extracommands",
)
_PROCESS_KEYWORDS = ("status", "poll")


@dataclass(frozen=True)
class RcScript:
    """One rc.d script: its path, rc.conf variable, pid file use and extra commands."""

    name: str
    directory: str = LOCAL_RC_D
    rcvar: str = ""
    has_pidfile: bool = True
    extra_commands: tuple[str, ...] = ()
    desc: str = ""

    @property
    def path(self) -> str:
        """`$0` of the script (what rc.subr's messages start with)."""
        return f"{self.directory}/{self.name}"

    @property
    def keywords(self) -> tuple[str, ...]:
        """Every directive the script accepts, in rc.subr's order."""
        return (*_KEYWORDS, *self.extra_commands, *_PROCESS_KEYWORDS)

    def usage(self) -> str:
        """rc.subr rc_usage: `Usage: $0 [fast|force|one|quiet](kw|kw|...)`."""
        return f"Usage: {self.path} [fast|force|one|quiet]({'|'.join(self.keywords)})"


#: libexec/rc/rc.d/ctld, nfsd, hastd: name, rcvar, pidfile, extra_commands, desc as shipped.
_BASE = {
    "ctld": RcScript(
        "ctld",
        BASE_RC_D,
        "ctld_enable",
        True,
        ("reload",),
        "CAM Target Layer / iSCSI target daemon",
    ),
    "nfsd": RcScript("nfsd", BASE_RC_D, "nfs_server_enable", False, (), "Remote NFS server"),
    "hastd": RcScript(
        "hastd", BASE_RC_D, "hastd_enable", True, ("reload",), "Highly Available Storage daemon"
    ),
}


def rc_script(name: str) -> RcScript:
    """The rc.d script called `name` (a local script with defaults if not in base)."""
    return _BASE.get(name) or RcScript(name, LOCAL_RC_D, f"{name}_enable")
