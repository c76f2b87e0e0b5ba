"""`setup check`'s comparison of two nodes' facts: one line per difference."""

from __future__ import annotations

from typing import Any

from carpswitch.setup.check import differences

SAME: dict[str, Any] = {
    "version": "0.1.0",
    "shared_digest": "d1",
    "hast_conf_sha256": "h1",
    "provider_sizes": {"hastvol": 10 << 30},
    "carp_netif": True,
    "carp_vhid": True,
    "hastd_running": True,
}


def _facts(host: str, **changed: Any) -> dict[str, Any]:
    return {**SAME, "host": host, **changed}


def test_identical_nodes_have_no_differences() -> None:
    assert differences(_facts("hasta"), _facts("hastb")) == []


def test_every_difference_is_one_line() -> None:
    peer = _facts(
        "hastb",
        version="0.2.0",
        shared_digest="d2",
        hast_conf_sha256="h2",
        provider_sizes={"hastvol": None},
        carp_netif=False,
        hastd_running=False,
    )
    assert differences(_facts("hasta", carp_vhid=False), peer) == [
        "hast.conf differs",
        "provider sizes differ for hastvol (10737418240 vs missing)",
        "carpswitch version differs (0.1.0 vs 0.2.0)",
        "shared config differs (carpswitch.toml's shared sections)",
        "CARP not configured on hasta (ifconfig shows no such vhid)",
        "CARP not configured on hastb (rc.conf.d/netif missing or different)",
        "hastd not running on hastb",
    ]


def test_unknown_facts_are_never_fine() -> None:
    peer = _facts("hastb", carp_vhid=None, hastd_running=None)
    assert differences(_facts("hasta"), peer) == [
        "CARP state unknown on hastb (ifconfig could not be read)",
        "hastd state unknown on hastb",
    ]
