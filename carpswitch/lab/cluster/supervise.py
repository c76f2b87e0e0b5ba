"""daemon(8) -R for a lab host: restart `carpswitch daemon` after it dies, as rc.d does.

rc.d/carpswitch runs the daemon as `daemon -R 5 ... carpswitch daemon`: FreeBSD's daemon(8)
restarts its child RESTART seconds after the child ends, whatever ended it, and on SIGTERM
passes the signal on and exits with the child. The lab's host boots the daemon under this
so a SIGKILLed controller comes back as it would on FreeBSD.

    python -m carpswitch.lab.cluster.supervise RESTART ARGV...
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from types import FrameType

#: daemon(8)'s title for a supervisor: `daemon: NAME[PID]` (daemon.c setproctitle).
TITLE = "daemon: {name}[{pid}]"


def main(argv: list[str]) -> int:
    """Run argv[1:] and restart it argv[0] seconds after each end, until SIGTERM."""
    if len(argv) < 2:
        sys.stderr.write("usage: python -m carpswitch.lab.cluster.supervise RESTART ARGV...\n")
        return 64
    restart, command = float(argv[0]), argv[1:]
    stopping = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def on_term(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    while True:
        child = subprocess.Popen(command)
        _title(command, child.pid)
        status = child.wait()
        if stopping.is_set() or stopping.wait(restart):
            return status if status >= 0 else 128 - status


def _title(command: list[str], pid: int) -> None:
    import setproctitle

    name = "carpswitch" if "carpswitch" in " ".join(command) else command[0]
    setproctitle.setproctitle(TITLE.format(name=name, pid=pid))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
