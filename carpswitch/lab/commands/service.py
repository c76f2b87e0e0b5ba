"""service(8) with rc.subr's texts, for hastd and the node's registered services."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from carpswitch.lab.commands.hastd import start_hastd
from carpswitch.lab.context import ShimContext
from carpswitch.lab.hastd.protocol import (
    ControlConnectError,
    ControlExchangeError,
    Request,
    send_request,
)
from carpswitch.lab.procs import DaemonStartError, pid_alive, process_title, spawn_daemon
from carpswitch.lab.state import ServiceState

_LOCAL_STARTUP = "/usr/local/etc/rc.d"
_VERBS = ("start", "stop", "restart", "status", "reload")
_STOP_WAIT = 10.0


def run(ctx: ShimContext, args: list[str]) -> int:
    """service NAME VERB."""
    if len(args) < 2:
        ctx.print()
        ctx.print("Usage:")
        ctx.print("service [-j <jail name or id>] [-v] <rc.d script> start|stop|etc.")
        ctx.print()
        return 1
    name, verb = args[0], args[1]
    services = ctx.store.read(ServiceState).services
    if name != "hastd" and name not in services:
        ctx.print(f"{name} does not exist in /etc/rc.d or the local startup")
        ctx.print(f"directories ({_LOCAL_STARTUP}), or is not executable")
        return 1
    one = verb.startswith("one")
    base = verb[3:] if one else verb.removeprefix("force").removeprefix("fast")
    if base not in _VERBS:
        script = "/etc/rc.d/hastd" if name == "hastd" else f"{_LOCAL_STARTUP}/{name}"
        ctx.warn(
            f"{script}: unknown directive '{verb}'.\n"
            f"Usage: {script} [fast|force|one|quiet](start|stop|restart|rcvar|enable|"
            "disable|delete|enabled|describe|extracommands|status|poll|reload)"
        )
        return 1
    enabled = name == "hastd" or services[name].enabled
    pid = _running_pid(ctx, name)
    stopping_running = base == "stop" and pid is not None
    if not enabled and not one and not stopping_running and base != "status":
        ctx.print(
            f"Cannot '{verb}' {name}. Set {name}_enable to YES in /etc/rc.conf or use "
            f"'one{verb}' instead of '{verb}'."
        )
        return 0
    if base == "status":
        if pid is None:
            ctx.print(f"{name} is not running.")
            return 1
        ctx.print(f"{name} is running as pid {pid}.")
        return 0
    if base == "start":
        return _start(ctx, name, pid)
    if base == "stop":
        return _stop(ctx, name, pid)
    if base == "reload":
        if pid is None:
            ctx.warn(f"{name} not running? (check {_pidfile(ctx, name)}).")
            return 1
        ctx.print(f"Reloading {name} config files.")
        os.kill(pid, signal.SIGHUP)
        return 0
    if pid is not None and _stop(ctx, name, pid) != 0:  # restart
        return 1
    return _start(ctx, name, None)


def _pidfile(ctx: ShimContext, name: str) -> Path:
    return ctx.paths.hastd_pidfile if name == "hastd" else ctx.paths.service_pidfile(name)


def _running_pid(ctx: ShimContext, name: str) -> int | None:
    """rc.subr check_pidfile: the pid in the pid file, if that process runs as `name`."""
    try:
        words = _pidfile(ctx, name).read_text().split()
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


def _start(ctx: ShimContext, name: str, pid: int | None) -> int:
    if pid is not None:
        ctx.warn(f"{name} already running? (pid={pid}).")
        return 1
    ctx.print(f"Starting {name}.")
    ctx.out.flush()
    if name == "hastd":
        status = start_hastd(ctx, ctx.paths.hast_conf)
    else:
        try:
            spawn_daemon(
                "carpswitch.lab.service_process", [str(ctx.paths.root), name], ctx.paths.root
            )
            status = 0
        except DaemonStartError as exc:
            ctx.warn(exc.message)
            status = 1
    if status != 0:
        ctx.warn(f"/etc/rc.d/{name}: WARNING: failed to start {name}")
        return 1
    return 0


def _stop(ctx: ShimContext, name: str, pid: int | None) -> int:
    if pid is None:
        ctx.warn(f"{name} not running? (check {_pidfile(ctx, name)}).")
        return 1
    if name == "hastd":  # rc.d/hastd stop_precmd: hastctl role init all
        with contextlib.suppress(ControlConnectError, ControlExchangeError):
            request = Request(cmd="setrole", role="init", resources=["all"])
            send_request(ctx.paths.control_socket, request)
    ctx.print(f"Stopping {name}.")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if pid_alive(pid):
        ctx.out.write(f"Waiting for PIDS: {pid}")
        deadline = time.monotonic() + _STOP_WAIT
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        ctx.print(".")
    return 0
