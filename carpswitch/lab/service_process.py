"""A simulated rc.d service daemon: a detached process titled NAME with a pid file.

`python -m carpswitch.lab.service_process NODE_DIR NAME --ready-fd N` (started by the
`service` shim). SIGHUP counts a reload in the node state; SIGTERM removes the pid file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from types import FrameType

from carpswitch.lab.daemons import report_ready
from carpswitch.lab.paths import NodePaths
from carpswitch.lab.state import ServiceRecord, ServiceState, StateStore


class _Stop(Exception):
    pass


def main(argv: list[str]) -> int:
    """Run the service until SIGTERM."""
    parser = argparse.ArgumentParser(prog="service_process")
    parser.add_argument("node")
    parser.add_argument("name")
    parser.add_argument("--ready-fd", type=int)
    args = parser.parse_args(argv)
    paths = NodePaths.of(args.node)
    store = StateStore(paths)
    pidfile = paths.service_pidfile(args.name)

    def reload(signum: int, frame: FrameType | None) -> None:
        with store.update(ServiceState) as services:
            record = services.services.setdefault(args.name, ServiceRecord())
            record.reloads += 1

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop

    os.environ["SPT_NOENV"] = "1"  # keep /proc/PID/environ (the node marker) intact
    import setproctitle

    setproctitle.setproctitle(args.name)
    signal.signal(signal.SIGHUP, reload)
    signal.signal(signal.SIGTERM, stop)
    pidfile.write_text(f"{os.getpid()}\n")
    report_ready(args.ready_fd)
    try:
        while True:
            signal.pause()
    except _Stop:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
