"""hastd(8): start the simulated HAST daemon (daemonised unless -F)."""

from __future__ import annotations

import dataclasses
import getopt
from pathlib import Path

from carpswitch.lab.context import ShimContext
from carpswitch.lab.daemons import DaemonStartError, spawn_daemon
from carpswitch.lab.hastd.daemon import HastDaemon, StartupError
from carpswitch.lab.hastsetup import HastSetupError
from carpswitch.lab.node_identity import host_identity, load_setup_for
from carpswitch.lab.paths import inside_node

EX_USAGE = 64
USAGE = "usage: hastd [-dFh] [-c config] [-P pidfile]\n"


def run(ctx: ShimContext, args: list[str]) -> int:
    """hastd with `args`: check hast.conf, then start the daemon."""
    try:
        options, rest = getopt.getopt(args, "c:dFhP:")
    except getopt.GetoptError:
        ctx.err.write(USAGE)
        return EX_USAGE
    settings = dict(options)
    if "-h" in settings or rest:
        ctx.err.write(USAGE)
        return EX_USAGE
    config = Path(inside_node(ctx.paths.root, settings.get("-c", str(ctx.paths.hast_conf))))
    pidfile = settings.get("-P")
    if pidfile is not None:
        pidfile = inside_node(ctx.paths.root, pidfile)
    if "-F" in settings:
        return _foreground(ctx, config, pidfile)
    return start_hastd(ctx, config, pidfile)


def start_hastd(ctx: ShimContext, config: Path, pidfile: str | None = None) -> int:
    """Daemonise hastd for the node; print hastd's error and return its status on failure."""
    try:
        load_setup_for(
            config, host_identity(ctx.paths), ctx.paths.hast_setup_cache, root=ctx.paths.root
        )
    except HastSetupError as exc:
        ctx.warn(f"[ERROR] {exc.message}")
        return exc.exit_code
    args = [str(ctx.paths.root), "-c", str(config)]
    if pidfile is not None:
        args += ["-P", pidfile]
    try:
        spawn_daemon("carpswitch.lab.hastd", args, ctx.paths.root)
    except DaemonStartError as exc:
        ctx.warn(f"[ERROR] {exc.message}")
        return exc.exit_code
    return 0


def _foreground(ctx: ShimContext, config: Path, pidfile: str | None) -> int:
    try:
        setup = load_setup_for(
            config, host_identity(ctx.paths), ctx.paths.hast_setup_cache, root=ctx.paths.root
        )
    except HastSetupError as exc:
        ctx.warn(f"[ERROR] {exc.message}")
        return exc.exit_code
    if pidfile is not None:
        setup = dataclasses.replace(setup, pidfile=Path(pidfile))
    daemon = HastDaemon(ctx.paths, setup, lambda message: ctx.print(f"[INFO] {message}"))
    try:
        daemon.start()
    except StartupError as exc:
        ctx.warn(f"[ERROR] {exc.message}")
        return exc.exit_code
    return daemon.run()
