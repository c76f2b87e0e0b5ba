"""The hosts' watchdog(4) hardware: a host whose watchdog is not patted in time is reset.

    python -m carpswitch.lab.cluster.watchdog CLUSTER_ID

One process per cluster, started with the hosts (Cluster._make_hosts: `lab up`, `lab up
--empty`, Cluster.up) in the bridge's namespace and marked with the cluster directory
(NODE_MARKER_ENV). So it is no process of a host (ClusterHost.pids: the host's namespace,
the host's node marker) and Cluster.freeze does not stop it, while teardown finds it by
the namespace and the directory the record names, also after an `up` that crashed.

Every CHECK seconds it reads each host's WatchdogState (what the host's `watchdog -t N`
set, commands/watchdog.py); when a deadline has passed it appends RESET_LINE to the host's
var/log/messages and power-cycles the host as Cluster.reboot does (everything SIGKILLed,
kernel state reset, watchdog disarmed, boot once the peer is MASTER or POWER_OFF s have
passed). Hosts are reset one after the other. It ends when the cluster's record is gone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from carpswitch.lab.cluster import registry
from carpswitch.lab.cluster.command import ClusterError, in_netns
from carpswitch.lab.cluster.detach import spawn_detached
from carpswitch.lab.cluster.net import bridge_netns
from carpswitch.lab.node import LabError
from carpswitch.lab.paths import NODE_MARKER_ENV, NodePaths
from carpswitch.lab.state import StateStore, WatchdogState

if TYPE_CHECKING:
    from carpswitch.lab.cluster.cluster import Cluster

#: How often the deadlines are looked at (seconds).
CHECK = 0.1
#: How often the watcher looks whether its cluster is still recorded.
_RECORD_CHECK = 1.0
#: The lab's line in a reset host's var/log/messages (FreeBSD's hardware reset logs nothing).
RESET_LINE = "kernel: watchdog timeout: reset"
#: The watcher's files in the cluster directory (teardown removes them).
PIDFILE = "watchdog.pid"
LOG = "watchdog.log"


def start(record: registry.ClusterRecord) -> int:
    """Start the cluster's watcher (detached, in the bridge's namespace); its pid."""
    directory = Path(record.directory)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL": "C",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        NODE_MARKER_ENV: str(directory),
    }
    argv = [sys.executable, "-m", "carpswitch.lab.cluster.watchdog", record.id]
    pid = spawn_detached(in_netns(bridge_netns(record.id), argv), env, directory / LOG)
    (directory / PIDFILE).write_text(f"{pid}\n")
    return pid


def main(argv: list[str]) -> int:
    """Watch the hosts of cluster argv[0] until its record is gone."""
    from carpswitch.lab.cluster.cluster import Cluster  # it starts this module's process

    if len(argv) != 1:
        sys.stderr.write("usage: python -m carpswitch.lab.cluster.watchdog CLUSTER_ID\n")
        return 64
    cluster = Cluster.load(argv[0])
    stores = {name: StateStore(NodePaths.of(path)) for name, path in cluster.record.hosts.items()}
    looked = time.monotonic()
    while True:
        for name, store in stores.items():
            if store.read(WatchdogState).expired(time.monotonic()):
                reset(cluster, name, store)
        if time.monotonic() - looked >= _RECORD_CHECK:
            if not cluster.record.path.exists():
                return 0
            looked = time.monotonic()
        time.sleep(CHECK)


def reset(cluster: Cluster, name: str, store: StateStore) -> None:
    """The watchdog fired on `name`: log it, power-cycle and boot the host."""
    stamp = time.strftime("%b %e %H:%M:%S")
    with (store.paths.var_log / "messages").open("a") as messages:
        messages.write(f"{stamp} {name} {RESET_LINE}\n")
    print(f"{stamp} {name}: watchdog timeout: reset", flush=True)
    try:
        cluster.reboot(name)
    except (ClusterError, LabError, OSError, subprocess.SubprocessError) as exc:
        print(f"{stamp} {name}: boot after the reset failed: {exc}", flush=True)
        with store.locked():  # the reset happened: the watchdog is not armed any more
            store.write(WatchdogState())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
