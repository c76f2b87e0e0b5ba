"""Parse `service NAME onestatus` (rc.subr's default status command) with its exit status.

libexec/rc/rc.subr run_rc_command, `status`: `${name} is running as pid $rc_pid.` (pids
space separated) and exit 0, or `${name} is not running.` and exit 1. ${name} is the rc
script's `name`, which may differ from the script's file name, so it is not compared.
usr.sbin/service/service.sh prints a two-line "does not exist" message (exit 1) when no
executable script is found. Without the `one` prefix, rc.subr of 13.x and 14.0 refuses
`status` of a service whose rcvar is not YES: "Cannot 'status' NAME. Set NAME_enable to
YES in /etc/rc.conf or use 'onestatus' instead of 'status'." and exit 0 - carpswitch runs
`onestatus` for that reason, and the text is reported, never read as "not running".
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from carpswitch.errors import ParseError
from carpswitch.model import ServiceStatus

_RUNNING = re.compile(r"\S+ is running as pid (?P<pids>[0-9]+(?: [0-9]+)*)\.")
_NOT_RUNNING = re.compile(r"\S+ is not running\.")
_NO_SCRIPT = re.compile(r"\S+ does not exist in /etc/rc\.d or the local startup")
_NOT_ENABLED = re.compile(
    r"Cannot '(?P<directive>\w+)' \S+\. Set (?P<rcvar>\S+) to YES in /etc/rc\.conf .*"
)


def parse_service_status(name: str, text: str, exit_status: int) -> ServiceStatus:
    """Whether service `name` runs, from `service NAME onestatus` stdout and exit status."""
    source = f"service {name} onestatus"
    lines = text.splitlines()
    if any(_NO_SCRIPT.fullmatch(line) for line in lines):
        raise ParseError(source, f"service {name} does not exist (no executable rc.d script)")
    for line in lines:
        not_enabled = _NOT_ENABLED.fullmatch(line)
        if not_enabled:
            raise ParseError(
                source,
                f"{not_enabled['rcvar']} is not YES: rc.subr refuses "
                f"'{not_enabled['directive']}' (use the 'one' prefix)",
            )
    running = [match for line in lines if (match := _RUNNING.fullmatch(line))]
    stopped = [line for line in lines if _NOT_RUNNING.fullmatch(line)]
    if len(running) + len(stopped) != 1:
        raise ParseError(
            source, f"expected one 'is running as pid' or 'is not running' line: {text!r}"
        )
    if stopped:
        return _status(source, name=name, running=False)
    if exit_status != 0:
        raise ParseError(source, f"says running but exited with status {exit_status}")
    pids = tuple(int(pid) for pid in running[0]["pids"].split(" "))
    return _status(source, name=name, running=True, pids=pids)


def _status(source: str, **fields: object) -> ServiceStatus:
    try:
        return ServiceStatus.model_validate(fields)
    except ValidationError as exc:
        raise ParseError(source, str(exc)) from exc
