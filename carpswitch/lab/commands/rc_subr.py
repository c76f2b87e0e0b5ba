"""rc.subr's run_rc_command for the lab's services (libexec/rc/rc.subr).

The order of its checks decides what an administrator sees, so it is kept: the prefix
(`fast`, `force`, `one`, `quiet`) is stripped first; an unknown directive is reported
without its prefix; a service whose rcvar is not YES refuses every directive except
rcvar, stop (while it runs), delete, enable and describe - and `status`, but only in the
newest rc.subr (13.x and 14.0 refuse it too); `start` of a running service fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from carpswitch.lab.commands.hastd import start_hastd
from carpswitch.lab.context import ShimContext
from carpswitch.lab.daemons import DaemonStartError, pid_alive, process_title, spawn_daemon
from carpswitch.lab.hastd.protocol import (
    ControlConnectError,
    ControlExchangeError,
    Request,
    send_request,
)
from carpswitch.lab.rcd import RcScript
from carpswitch.lab.state import ServiceRecord, ServiceState

_PREFIXES = ("fast", "force", "one", "quiet")
#: Directives rc.subr runs without looking at the rcvar (newest rc.subr adds status).
_NO_RCVAR_CHECK = ("rcvar", "stop", "delete", "enable", "describe")
_STOP_WAIT = 10.0


@dataclass(frozen=True)
class _Call:
    script: RcScript
    prefix: str
    directive: str  # without its prefix: rc.subr's $rc_arg

    @property
    def fast(self) -> bool:
        return self.prefix == "fast"

    @property
    def quiet(self) -> bool:
        return self.prefix in ("fast", "quiet")

    @property
    def forced(self) -> bool:
        """`one` and `force` set ${rcvar}=YES for this run."""
        return self.prefix in ("one", "force")


def run_rc_command(ctx: ShimContext, script: RcScript, argument: str) -> int:
    """`/etc/rc.d/NAME ARGUMENT` as rc.subr runs it; returns the script's exit status."""
    prefix = next((p for p in _PREFIXES if argument.startswith(p)), "")
    call = _Call(script, prefix, argument[len(prefix) :])
    if not call.directive:
        ctx.warn(script.usage())
        return 1
    enabled = call.forced or _enabled(ctx, script.name)
    if call.directive == "enabled":
        return 0 if enabled else 1
    if call.directive not in script.keywords:
        ctx.warn(f"{script.path}: unknown directive '{call.directive}'.")
        ctx.warn(script.usage())
        return 1
    pid = running_pid(ctx, script.name)
    exempt = (*_NO_RCVAR_CHECK, "status") if ctx.facts.rc_subr_exempts_status else _NO_RCVAR_CHECK
    checked = call.directive not in exempt or (call.directive == "stop" and pid is None)
    if checked and not enabled:
        if not call.quiet:
            ctx.print(
                f"Cannot '{call.directive}' {script.name}. Set {script.rcvar} to YES in "
                f"/etc/rc.conf or use 'one{call.directive}' instead of '{call.directive}'."
            )
        return 0
    if call.directive == "start" and not call.fast and pid is not None:
        if not call.quiet:
            # echo 1>&2 "${name} already running? " "(pid=$rc_pid)." - two words, two spaces
            ctx.warn(f"{script.name} already running?  (pid={pid}).")
        return 1
    return _directive(ctx, call, pid)


def _directive(ctx: ShimContext, call: _Call, pid: int | None) -> int:
    name, directive = call.script.name, call.directive
    if directive == "status":
        if pid is None:
            ctx.print(f"{name} is not running.")
            return 1
        ctx.print(f"{name} is running as pid {pid}.")
        return 0
    if directive == "start":
        return _start(ctx, call.script)
    if directive == "stop":
        if pid is None:
            return 0 if call.fast else _not_running(ctx, call.script)
        return _stop(ctx, call.script, pid)
    if directive == "reload":
        if pid is None:
            return _not_running(ctx, call.script)
        os.kill(pid, signal.SIGHUP)  # default reload: kill -HUP, nothing printed
        return 0
    if directive == "restart":
        # ( run_rc_command ${_rc_prefix}stop ); ( run_rc_command ${_rc_prefix}start )
        run_rc_command(ctx, call.script, f"{call.prefix}stop")
        return run_rc_command(ctx, call.script, f"{call.prefix}start")
    if directive == "poll":
        _wait_for_pids(ctx, pid, report=False)
        return 0
    return _rc_conf(ctx, call)


def _rc_conf(ctx: ShimContext, call: _Call) -> int:
    """rcvar, enable, disable, delete, describe, extracommands."""
    script, directive = call.script, call.directive
    if directive == "describe":
        if script.desc:
            ctx.print(script.desc)
    elif directive == "extracommands":
        ctx.print(" ".join(script.extra_commands))
    elif directive == "rcvar":
        value = "YES" if call.forced or _enabled(ctx, script.name) else "NO"
        ctx.print(f"# {script.name}" + (f" : {script.desc}" if script.desc else ""))
        ctx.print("#")
        ctx.print(f'{script.rcvar}="{value}"')
        ctx.print('#   (default: "")')
        ctx.print()
    elif directive in ("enable", "disable", "delete"):
        set_enabled(ctx, script.name, directive == "enable")
        if directive == "delete":
            ctx.print(f"{script.rcvar} deleted in /etc/rc.conf")
        else:
            ctx.print(f"{script.name} {directive}d in /etc/rc.conf")
    return 0


def _enabled(ctx: ShimContext, name: str) -> bool:
    if name == "hastd":
        return True
    record = ctx.store.read(ServiceState).services.get(name)
    return record is not None and record.enabled


def set_enabled(ctx: ShimContext, name: str, enabled: bool) -> None:
    """Write ${rcvar}=YES|NO to the node's rc.conf (the service state)."""
    if name == "hastd":
        return
    with ctx.store.update(ServiceState) as services:
        services.services.setdefault(name, ServiceRecord()).enabled = enabled


def pidfile(ctx: ShimContext, name: str) -> Path:
    """Where the simulated service keeps its pid (also for scripts without `pidfile=`)."""
    return ctx.paths.hastd_pidfile if name == "hastd" else ctx.paths.service_pidfile(name)


def running_pid(ctx: ShimContext, name: str) -> int | None:
    """rc.subr check_pidfile: the pid in the pid file, if that process runs as `name`."""
    try:
        words = pidfile(ctx, name).read_text().split()
    except OSError:
        return None
    if not words or not words[0].isdigit():
        return None
    pid = int(words[0])
    if not pid_alive(pid):
        return None
    if name != "hastd" and process_title(pid) != name:
        return None
    return pid


def _not_running(ctx: ShimContext, script: RcScript) -> int:
    """_run_rc_notrunning: `NAME not running? (check PIDFILE).` (no suffix without pidfile)."""
    suffix = f" (check {pidfile(ctx, script.name)})." if script.has_pidfile else ""
    ctx.warn(f"{script.name} not running?{suffix}")
    return 1


def _start(ctx: ShimContext, script: RcScript) -> int:
    ctx.print(f"Starting {script.name}.")
    ctx.out.flush()
    if script.name == "hastd":
        status = start_hastd(ctx, ctx.paths.hast_conf)
    else:
        # Two-node lab: ctld is a real iSCSI target, tgt driven by carpswitch.lab.cluster.iscsi.
        cluster_ctld = script.name == "ctld" and ctx.facts.netns is not None
        try:
            spawn_daemon(
                "carpswitch.lab.cluster.iscsi"
                if cluster_ctld
                else "carpswitch.lab.service_process",
                [str(ctx.paths.root), script.name],
                ctx.paths.root,
            )
            status = 0
        except DaemonStartError as exc:
            ctx.warn(exc.message)
            status = 1
    if status != 0:
        ctx.warn(f"{script.path}: WARNING: failed to start {script.name}")
        return 1
    return 0


def _stop(ctx: ShimContext, script: RcScript, pid: int) -> int:
    if script.name == "hastd":  # rc.d/hastd stop_precmd: hastctl role init all
        with contextlib.suppress(ControlConnectError, ControlExchangeError):
            request = Request(cmd="setrole", role="init", resources=["all"])
            send_request(ctx.paths.control_socket, request)
    ctx.print(f"Stopping {script.name}.")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    _wait_for_pids(ctx, pid, report=True)
    return 0


def _wait_for_pids(ctx: ShimContext, pid: int | None, *, report: bool) -> None:
    """rc.subr wait_for_pids: `Waiting for PIDS: N` and a final `.` while it still runs."""
    if pid is None or not pid_alive(pid):
        return
    if report:
        ctx.out.write(f"Waiting for PIDS: {pid}")
    deadline = time.monotonic() + _STOP_WAIT
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    if report:
        ctx.print(".")
