"""The NodeFacts of a lab node `hasta` (peer hastb) at a directory, for unit tests."""

from __future__ import annotations

import uuid
from pathlib import Path

from carpswitch.lab.facts import NodeFacts


def node_facts(root: Path, pools: tuple[str, ...] = ()) -> NodeFacts:
    """An empty node (no HAST resources), with local pools `pools`."""
    return NodeFacts(
        root=str(root),
        name="hasta",
        peer="hastb",
        hostuuid=str(uuid.uuid4()),
        hostid=1,
        peer_hostid=2,
        freebsd_version=14,
        interface="vtnet0",
        address="198.18.0.1",
        peer_address="198.18.0.2",
        vhid=1,
        vip="198.18.0.100",
        resources=(),
        local_pools=pools,
    )
