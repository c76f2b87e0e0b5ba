"""Fixtures for the two-node lab tests (carpswitch.lab.cluster): root, namespaces, ucarp.

`make_cluster(**kwargs)` records and brings up a cluster (Cluster.create's keywords) with
a unique id; every cluster is taken down at teardown, also when the test fails, and the
test fails if anything of it is left: a namespace, a process, a mount, a file, the record.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from carpswitch.lab.cluster import registry
from carpswitch.lab.cluster.cluster import Cluster
from carpswitch.lab.cluster.command import missing_requirement
from carpswitch.lab.cluster.iscsi import candidate_ports
from carpswitch.lab.cluster.net import existing_namespaces
from carpswitch.lab.cluster.teardown import cluster_pids, mounts_under
from carpswitch.lab.cluster.tgt import TGT_RUN_DIR, port_in_use


@pytest.fixture(autouse=True)
def _need_cluster_tools() -> None:
    reason = missing_requirement()
    if reason is not None:
        pytest.skip(reason)


def unique_id() -> str:
    """A fresh cluster id (`t` + 6 hex digits): tests can run side by side."""
    return "t" + secrets.token_hex(3)


def leftovers(record: registry.ClusterRecord) -> list[str]:
    """What of the cluster still exists (empty when it is all gone)."""
    found = [f"namespace {n}" for n in record.namespaces if n in existing_namespaces()]
    found += [f"process {pid}" for pid in sorted(cluster_pids(record))]
    found += [f"mount {m}" for m in mounts_under(Path(record.directory))]
    found += [
        f"tgtd control file {path}"
        for netns in record.namespaces
        for port in candidate_ports(netns)
        if (path := TGT_RUN_DIR / f"socket.{port}").exists() and not port_in_use(port)
    ]
    if Path(record.directory).exists():
        found.append(f"directory {record.directory}")
    if record.path.exists():
        found.append(f"record {record.path}")
    return found


@pytest.fixture
def make_cluster() -> Iterator[Callable[..., Cluster]]:
    """Factory: `make_cluster(resources=[...], services=[...])` -> a cluster that is up."""
    clusters: list[Cluster] = []

    def make(*, up: bool = True, **kwargs: Any) -> Cluster:
        cluster = Cluster.create(unique_id(), **kwargs)
        clusters.append(cluster)
        if up:
            cluster.up()
        return cluster

    yield make
    left = []
    for cluster in clusters:
        cluster.down()
        left += leftovers(cluster.record)
    assert not left, f"cluster left behind: {left}"


@pytest.fixture
def cluster(make_cluster: Callable[..., Cluster]) -> Cluster:
    """A cluster that is up: hasta MASTER and primary for `tank` (raw), hastb secondary."""
    return make_cluster()
