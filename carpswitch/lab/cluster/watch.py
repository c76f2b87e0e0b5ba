"""The chaos tests' referee: samples both hosts every 100 ms and records who serves.

A host *serves* a resource when its hastd has a running (not stopped) primary worker
for it, /dev/hast/NAME is mounted (the FUSE provider the worker serves), and the host
can talk to the client (the scenario says which hosts it cut off). Two hosts serving the
same resource in one sample is the failure the whole project exists to prevent.

The referee reads only /proc and the node's files: it never asks a hastd (a frozen one
would not answer) and never runs a shim.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from carpswitch.lab.daemons import process_title
from carpswitch.lab.hastd.provider import mount_path
from carpswitch.lab.paths import NodePaths

#: How often the referee looks (the issue's "every 100 ms").
INTERVAL = 0.1


@dataclass(frozen=True)
class HostView:
    """What one host looked like in one sample."""

    primaries: frozenset[str]  # resources with a running primary worker
    providers: frozenset[str]  # resources whose /dev/hast/NAME is mounted
    reachable: bool

    def serves(self, resource: str) -> bool:
        """This host could acknowledge a client's write to `resource` now."""
        return self.reachable and resource in self.primaries and resource in self.providers


@dataclass(frozen=True)
class Sample:
    """Both hosts at one moment (monotonic time)."""

    at: float
    hosts: dict[str, HostView]

    def serving(self, resource: str) -> list[str]:
        """Hosts serving `resource` in this sample."""
        return [name for name, view in self.hosts.items() if view.serves(resource)]


def primary_workers(paths: NodePaths) -> frozenset[str]:
    """Resources with a running `hastd: NAME (primary)` child of the node's hastd."""
    try:
        pid = int(paths.hastd_pidfile.read_text().split()[0])
        children = psutil.Process(pid).children()
    except (OSError, ValueError, IndexError, psutil.Error):
        return frozenset()  # no hastd: no primary
    found = set()
    for child in children:
        try:
            if child.status() == psutil.STATUS_STOPPED:
                continue
        except psutil.Error:
            continue
        title = process_title(child.pid) or ""  # setproctitle pads the command line
        if title.startswith("hastd: ") and title.endswith(" (primary)"):
            found.add(title[len("hastd: ") : -len(" (primary)")])
    return frozenset(found)


def mounted_providers(paths: NodePaths, mounts: str) -> frozenset[str]:
    """Resources whose provider is mounted in /proc/mounts text `mounts`.

    The FUSE file behind /dev/hast/NAME is DIR/dev/hast/.NAME.ggate (lab.hastd.provider).
    """
    names = set()
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        mountpoint = Path(fields[1])
        if mountpoint.parent == paths.dev_hast and mountpoint == mount_path(
            paths.provider(name := mountpoint.name[1:].removesuffix(".ggate"))
        ):
            names.add(name)
    return frozenset(names)


@dataclass
class Referee:
    """Samples `hosts` (name -> node directory) in a thread until stopped."""

    hosts: dict[str, Path]
    resources: tuple[str, ...]
    interval: float = INTERVAL
    samples: list[Sample] = field(default_factory=list)
    cut_off: set[str] = field(default_factory=set)  # hosts the client cannot reach now
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Referee:
        """Start sampling."""
        self._thread = threading.Thread(target=self._run, name="referee", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling (waits for the sampling thread)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Referee:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sample(self) -> Sample:
        """Look at both hosts once."""
        mounts = Path("/proc/mounts").read_text()
        views = {}
        for name, root in self.hosts.items():
            paths = NodePaths.of(root)
            views[name] = HostView(
                primaries=primary_workers(paths),
                providers=mounted_providers(paths, mounts),
                reachable=name not in self.cut_off,
            )
        return Sample(time.monotonic(), views)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.sample())
            self._stop.wait(self.interval)

    def two_primaries(self) -> list[str]:
        """One line per sample in which two hosts served the same resource."""
        start = self.samples[0].at if self.samples else 0.0
        return [
            f"+{sample.at - start:.1f}s: {resource} served by {' and '.join(hosts)}"
            for sample in self.samples
            for resource in self.resources
            if len(hosts := sample.serving(resource)) > 1
        ]

    def served_by(self, resource: str) -> list[tuple[float, tuple[str, ...]]]:
        """(time, serving hosts) at each change, for a report of who served when."""
        changes: list[tuple[float, tuple[str, ...]]] = []
        for sample in self.samples:
            now = tuple(sample.serving(resource))
            if not changes or changes[-1][1] != now:
                changes.append((sample.at, now))
        return changes
