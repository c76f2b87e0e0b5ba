"""Entry of the detached simulated hastd: `python -m carpswitch.lab.hastd NODE_DIR ...`."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

from carpswitch.lab.daemons import report_ready
from carpswitch.lab.hastd.daemon import HastDaemon, StartupError
from carpswitch.lab.hastsetup import HastSetupError
from carpswitch.lab.node_identity import host_identity, load_setup_for
from carpswitch.lab.paths import NodePaths


def main(argv: list[str]) -> int:
    """Run hastd for the node in argv[0]; report readiness on --ready-fd."""
    parser = argparse.ArgumentParser(prog="hastd")
    parser.add_argument("node")
    parser.add_argument("-c", dest="config", required=True)
    parser.add_argument("-P", dest="pidfile")
    parser.add_argument("--ready-fd", type=int)
    args = parser.parse_args(argv)
    paths = NodePaths.of(args.node)
    log_path = paths.root / "var" / "log" / "hastd.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        stamp = time.strftime("%b %d %H:%M:%S")
        with log_path.open("a") as handle:
            handle.write(f"{stamp} hastd[{os.getpid()}]: {message}\n")

    try:
        setup = load_setup_for(
            Path(args.config), host_identity(paths), paths.hast_setup_cache, root=paths.root
        )
    except HastSetupError as exc:
        report_ready(args.ready_fd, f"error {exc.exit_code} {exc.message}")
        return exc.exit_code
    if args.pidfile:
        setup = dataclasses.replace(setup, pidfile=Path(args.pidfile))
    daemon = HastDaemon(paths, setup, log)
    try:
        daemon.start()
    except StartupError as exc:
        report_ready(args.ready_fd, f"error {exc.exit_code} {exc.message}")
        return exc.exit_code
    report_ready(args.ready_fd)
    return daemon.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
