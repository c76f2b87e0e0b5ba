"""A valid two-host [cluster] config for the set-up tests."""

from __future__ import annotations

import copy
from typing import Any

import pytest

CLUSTER_DATA: dict[str, Any] = {
    "interface": "vtnet0",
    "vhid": 7,
    "address": "198.18.0.100/24",
    "password": "s3cret-pass",
    "host": [
        {"name": "hasta", "address": "198.18.0.1"},
        {"name": "hastb", "address": "198.18.0.2"},
    ],
    "resource": [
        {"name": "hastvol", "zvol": "tank/hastvol", "size": "10G", "iscsi": True},
        {"name": "disk1", "local": "/dev/ada1"},
    ],
}


@pytest.fixture
def cluster_data() -> dict[str, Any]:
    """`{"cluster": ...}` as tomllib decodes it; each test may change its own copy."""
    return {"cluster": copy.deepcopy(CLUSTER_DATA)}
