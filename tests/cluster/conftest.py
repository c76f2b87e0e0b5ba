"""Fixtures for the two-node lab tests (carpswitch.lab.cluster): root, namespaces, ucarp.

`make_cluster(**kwargs)` records and brings up a cluster (Cluster.create's keywords) with
a unique id; every cluster is taken down at teardown, also when the test fails, and the
test fails if anything of it is left: a namespace, a process, a mount, a file, the record.
When a test fails, the end of every host's logs joins its report: teardown removes them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from carpswitch.lab.cluster import registry, watchdog
from carpswitch.lab.cluster.cluster import HOSTS, Cluster
from carpswitch.lab.cluster.command import missing_requirement
from carpswitch.lab.cluster.net import existing_namespaces
from carpswitch.lab.cluster.teardown import cluster_pids, mounts_under, tgtd_ports
from carpswitch.lab.cluster.tgt import TGT_RUN_DIR, port_in_use
from carpswitch.lab.paths import NodePaths

#: Where a test's clusters are kept, so a failed call's report can show their logs.
CLUSTERS = pytest.StashKey[list[Cluster]]()
#: The logs of a host a failed test's report shows, and how many of their last lines.
LOGS = ("carpswitch.log", "ucarp.log", "hastd.log", "messages", "devd.log", "ctld.log")
LOG_LINES = 80


def log_tails(cluster: Cluster) -> list[tuple[str, str]]:
    """(title, the last LOG_LINES lines) of the lab watchdog's log and each host's logs."""
    record = cluster.record
    logs = [(watchdog.LOG, Path(record.directory) / watchdog.LOG)]
    logs += [
        (f"{name} /var/log/{log}", NodePaths.of(record.hosts[name]).var_log / log)
        for name in HOSTS
        for log in LOGS
    ]
    sections = []
    for title, path in logs:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        heading = f"{cluster.id} {title} (last {LOG_LINES} lines)"
        sections.append((heading, "\n".join(lines[-LOG_LINES:])))
    return sections


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when in ("setup", "call") and report.failed:  # setup: `up` itself failed
        for cluster in item.stash.get(CLUSTERS, []):
            report.sections.extend(log_tails(cluster))
    return report


@pytest.fixture(autouse=True)
def _need_cluster_tools() -> None:
    reason = missing_requirement()
    if reason is not None:
        pytest.skip(reason)


def unique_id() -> str:
    """A fresh cluster id (`t` + 6 hex digits): tests can run side by side."""
    return "t" + secrets.token_hex(3)


def leftovers(record: registry.ClusterRecord, ports: set[int]) -> list[str]:
    """What of the cluster still exists (empty when it is all gone); `ports`: tgtd_ports,
    read before teardown removes the nodes' directories.

    tgtd control files are looked for at the ports the cluster's ctlds recorded only:
    /var/run/tgtd is shared, and another cluster's may be in the same candidate range.
    """
    found = [f"namespace {n}" for n in record.namespaces if n in existing_namespaces()]
    found += [f"process {pid}" for pid in sorted(cluster_pids(record))]
    found += [f"mount {m}" for m in mounts_under(Path(record.directory))]
    found += [
        f"tgtd control file {path}"
        for port in sorted(ports)
        if (path := TGT_RUN_DIR / f"socket.{port}").exists() and not port_in_use(port)
    ]
    if Path(record.directory).exists():
        found.append(f"directory {record.directory}")
    if record.path.exists():
        found.append(f"record {record.path}")
    return found


@pytest.fixture
def make_cluster(request: pytest.FixtureRequest) -> Iterator[Callable[..., Cluster]]:
    """Factory: `make_cluster(resources=[...], services=[...])` -> a cluster that is up."""
    clusters: list[Cluster] = []
    request.node.stash[CLUSTERS] = clusters

    def make(*, up: bool = True, **kwargs: Any) -> Cluster:
        cluster = Cluster.create(unique_id(), **kwargs)
        clusters.append(cluster)
        if up:
            cluster.up()
        return cluster

    yield make
    left = []
    for cluster in clusters:
        ports = tgtd_ports(cluster.record)
        cluster.down()
        left += leftovers(cluster.record, ports)
    assert not left, f"cluster left behind: {left}"


@pytest.fixture
def cluster(make_cluster: Callable[..., Cluster]) -> Cluster:
    """A cluster that is up: hasta MASTER and primary for `tank` (raw), hastb secondary."""
    return make_cluster()
