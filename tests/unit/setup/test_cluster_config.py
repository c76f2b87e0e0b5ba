"""`[cluster]`: every rule of setup11.md, and the hook's rules and the models agree."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from carpswitch.config import ClusterSection, Config, parse_config
from carpswitch.config_cluster import (
    CLUSTER_KEYS,
    HOST_KEYS,
    RESOURCE_KEYS,
    SSH_KEYS,
    zfs_size,
)
from carpswitch.config_rules import config_problems
from carpswitch.errors import ConfigError
from tests.unit.test_config_rules import loader_accepts

CLUSTER: dict[str, Any] = {
    "interface": "vtnet0",
    "vhid": 1,
    "address": "198.18.0.100/24",
    "password": "s3cret-pass",
    "host": [
        {"name": "hasta", "address": "198.18.0.1"},
        {"name": "hastb", "address": "198.18.0.2", "advskew": 50},
    ],
    "ssh": {"identity": "/root/.ssh/id_ed25519", "connect_timeout": 5},
    "resource": [
        {"name": "hastvol", "zvol": "tank/hastvol", "size": "10G", "iscsi": True},
        {"name": "disk1", "local": "/dev/ada1"},
    ],
}


def with_cluster(change=None) -> dict[str, Any]:
    cluster = copy.deepcopy(CLUSTER)
    if change is not None:
        change(cluster)
    return {"cluster": cluster}


def problems_of(change) -> list[str]:
    data = with_cluster(change)
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return caught.value.problems


def test_a_valid_cluster_builds_its_models():
    config = parse_config(with_cluster())
    cluster = config.cluster
    assert cluster is not None
    assert [host.name for host in cluster.host] == ["hasta", "hastb"]
    assert cluster.advskew(cluster.host[0]) == 0
    assert cluster.advskew(cluster.host[1]) == 50
    assert cluster.peer(cluster.host[0]).name == "hastb"
    assert cluster.resource[0].provider == "/dev/zvol/tank/hastvol"
    assert cluster.resource[0].size_bytes == 10 * 2**30
    assert cluster.resource[1].provider == "/dev/ada1"
    assert cluster.ssh.connect_timeout == 5


def test_hast_exec_and_hast_timeout_default_to_the_wrapper_and_hastds_own():
    cluster = parse_config(with_cluster()).cluster
    assert cluster is not None
    assert (cluster.hast_exec, cluster.hast_timeout) == (
        "/usr/local/sbin/carpswitch-hast-event",
        None,
    )

    def chosen(c):
        c.update(hast_exec="", hast_timeout=3600)

    cluster = parse_config(with_cluster(chosen)).cluster
    assert cluster is not None
    assert (cluster.hast_exec, cluster.hast_timeout) == ("", 3600)  # "" = no exec


def test_the_second_host_defaults_to_advskew_100():
    def no_skew(c):
        del c["host"][1]["advskew"]

    cluster = parse_config(with_cluster(no_skew)).cluster
    assert cluster is not None
    assert cluster.advskew(cluster.host[1]) == 100


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("address", "198.18.0.300/24", "cluster.address: expected a unicast address"),
        ("address", "198.18.0.100", "cluster.address: expected a unicast address"),
        ("address", "198.18.0.0/24", "cluster.address: expected a unicast address"),
        ("address", "198.18.0.255/24", "cluster.address: expected a unicast address"),
        ("address", "224.0.0.18/24", "cluster.address: expected a unicast address"),
        ("vhid", 0, "cluster.vhid: expected an integer from 1 to 255, not 0"),
        ("vhid", 256, "cluster.vhid: expected an integer from 1 to 255, not 256"),
        ("vhid", True, "cluster.vhid: expected an integer from 1 to 255, not true"),
        ("advbase", 0, "cluster.advbase: expected an integer from 1 to 255, not 0"),
        ("password", "x" * 21, "cluster.password: expected a CARP password of 1 to 20"),
        ("password", "", "cluster.password: expected a CARP password"),
        ("password", "two words", "cluster.password: expected a CARP password"),
        ("password", 'quo"te', "cluster.password: expected a CARP password"),
        ("password", "$HOME", "cluster.password: expected a CARP password"),
        ("interface", "vtnet0 up", "cluster.interface: expected an interface name"),
        ("iqn_prefix", "IQN.2026-01.org.x", "cluster.iqn_prefix: expected an iSCSI name"),
        ("hast_timeout", 0, "cluster.hast_timeout: expected an integer from 1 to 3600, not 0"),
        ("hast_timeout", 3601, "cluster.hast_timeout: expected an integer from 1 to 3600"),
        ("hast_timeout", "5", 'cluster.hast_timeout: expected an integer from 1 to 3600, not "5"'),
        ("hast_timeout", 2.5, "cluster.hast_timeout: expected an integer from 1 to 3600"),
        ("hast_exec", "carpswitch-hast-event", "cluster.hast_exec: expected a program's absolute"),
        ("hast_exec", "/usr/local/sbin/", "cluster.hast_exec: expected a program's absolute"),
        ("hast_exec", "/opt/my hook", "cluster.hast_exec: expected a program's absolute"),
        ("hast_exec", "/opt/$HOOK", "cluster.hast_exec: expected a program's absolute"),
        ("hast_exec", "/" + "x" * 1023, "cluster.hast_exec: expected a program's absolute"),
        ("hast_exec", False, "cluster.hast_exec: expected a program's absolute"),
        ("bogus", 1, "cluster.bogus: unknown key"),
    ],
)
def test_bad_cluster_values_are_named_by_key(key, value, problem):
    found = problems_of(lambda c: c.__setitem__(key, value))
    assert any(p.startswith(problem) for p in found), found


@pytest.mark.parametrize("key", ["interface", "vhid", "address", "password"])
def test_required_cluster_keys(key):
    found = problems_of(lambda c: c.pop(key))
    assert f"cluster.{key}: required key is missing" in found


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("address", "198.18.0.300", "cluster.host[1].address: expected a unicast IPv4 or IPv6"),
        ("address", "hastb.example", "cluster.host[1].address: expected a unicast IPv4 or IPv6"),
        ("address", "0.0.0.0", "cluster.host[1].address: expected a unicast"),
        ("advskew", 255, "cluster.host[1].advskew: expected an integer from 0 to 254"),
        ("advskew", -1, "cluster.host[1].advskew: expected an integer from 0 to 254"),
        ("name", "on", "cluster.host[1].name: expected a host name"),
        ("name", "has tb", "cluster.host[1].name: expected a host name"),
        ("ssh_port", 0, "cluster.host[1].ssh_port: expected an integer from 1 to 65535"),
        ("pidfile", "run/hastd.pid", "cluster.host[1].pidfile: expected an absolute path"),
        ("listen", ["0.0.0.0 8457"], "cluster.host[1].listen[0]: expected a hast.conf word"),
    ],
)
def test_bad_host_values_are_named_by_key(key, value, problem):
    found = problems_of(lambda c: c["host"][1].__setitem__(key, value))
    assert any(p.startswith(problem) for p in found), found


def test_two_hosts_exactly():
    assert "cluster.host: expected exactly 2 hosts ([[cluster.host]]), not 1" in problems_of(
        lambda c: c["host"].pop()
    )
    assert "cluster.host: expected exactly 2 hosts ([[cluster.host]]), not 0" in problems_of(
        lambda c: c.pop("host")
    )


def test_hosts_differ_in_name_and_address():
    def same(c):
        c["host"][1]["name"] = "hasta"
        c["host"][1]["address"] = "198.18.0.1"

    found = problems_of(same)
    assert 'cluster.host: name "hasta" is given more than once' in found
    assert 'cluster.host: address "198.18.0.1" is given more than once' in found


def test_ipv6_host_addresses_compare_as_addresses():
    def same(c):
        c["host"][0]["address"] = "fd00::1"
        c["host"][1]["address"] = "fd00:0::1"

    assert 'cluster.host: address "fd00::1" is given more than once' in problems_of(same)


def test_the_carp_address_is_not_a_host_address():
    found = problems_of(lambda c: c.__setitem__("address", "198.18.0.2/24"))
    assert found == ["cluster.address: expected an address of its own, not host[1]'s 198.18.0.2"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.__setitem__("size", "10Q"), "cluster.resource[0].size: expected a size"),
        (lambda r: r.__setitem__("size", "0"), "cluster.resource[0].size: expected a size"),
        (lambda r: r.__setitem__("size", "1.5"), "cluster.resource[0].size: expected a size"),
        (lambda r: r.__setitem__("size", 10), "cluster.resource[0].size: expected a size"),
        (lambda r: r.__setitem__("size", "1000000"), "cluster.resource[0].size: expected a size"),
        (lambda r: r.__setitem__("size", "8K"), "cluster.resource[0].size: expected a size of "),
        (lambda r: r.__setitem__("name", "on"), "cluster.resource[0].name: expected a HAST"),
        (lambda r: r.__setitem__("name", "has tvol"), "cluster.resource[0].name: expected"),
        (lambda r: r.__setitem__("name", "1234"), "cluster.resource[0].name: expected"),
        (lambda r: r.__setitem__("name", "a" * 255), "cluster.resource[0].name: expected"),
        (lambda r: r.__setitem__("name", "vol/a"), "cluster.resource[0].name: expected letters"),
        (lambda r: r.__setitem__("zvol", "tank"), "cluster.resource[0].zvol: expected a zvol"),
        (lambda r: r.__setitem__("zvol", "mirror/v"), "cluster.resource[0].zvol: expected"),
        (lambda r: r.__setitem__("local", "/dev/ada1"), "cluster.resource[0]: expected either"),
        (lambda r: r.pop("zvol"), "cluster.resource[0]: expected either zvol"),
        (lambda r: r.pop("size"), "cluster.resource[0]: zvol needs size"),
        (lambda r: r.__setitem__("iscsi", "yes"), "cluster.resource[0].iscsi: expected true"),
    ],
)
def test_bad_resource_values_are_named_by_key(change, problem):
    found = problems_of(lambda c: change(c["resource"][0]))
    assert any(p.startswith(problem) for p in found), found


def test_size_without_zvol_is_refused():
    found = problems_of(lambda c: c["resource"][1].__setitem__("size", "1G"))
    assert "cluster.resource[1]: size is only for zvol (local is an existing provider)" in found


def test_resource_names_and_providers_are_unique():
    def twice(c):
        c["resource"].append(copy.deepcopy(c["resource"][0]))

    found = problems_of(twice)
    assert 'cluster.resource: name "hastvol" is given more than once' in found
    assert 'cluster.resource: zvol "tank/hastvol" is given more than once' in found


def test_iscsi_target_names_differ_in_more_than_case():
    def cased(c):
        c["resource"][1].update(name="HASTVOL", iscsi=True)

    assert 'cluster.resource: iSCSI target name "hastvol" is given more than once' in (
        problems_of(cased)
    )


def test_every_problem_is_reported_at_once():
    def many(c):
        c["vhid"] = 0
        c["host"][0]["address"] = "300.1.1.1"
        c["resource"][0]["size"] = "lots"
        c["resource"][1]["name"] = "on"

    found = problems_of(many)
    assert len(found) == 4, found


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("10G", 10 * 2**30),
        ("10g", 10 * 2**30),
        ("10GB", 10 * 2**30),
        ("10GiB", 10 * 2**30),
        ("512M", 512 * 2**20),
        ("1.5T", 3 * 2**39),
        ("1073741824", 2**30),
        ("100B", 100),
        ("16E", None),  # more than 2**64 - 1
        ("0", None),
        ("0G", None),
        ("G", None),
        ("1BB", None),
        ("1BiB", None),
        ("1Q", None),
        ("1 G", None),
        ("-1G", None),
        ("1.5", None),
        ("", None),
    ],
)
def test_zfs_sizes(text, size):
    assert zfs_size(text) == size


def test_the_new_paths_have_freebsd_defaults():
    paths = Config().paths
    assert paths.devd_conf == "/usr/local/etc/devd/carpswitch.conf"
    assert paths.rc_conf_d == "/etc/rc.conf.d"
    assert paths.loader_conf_d == "/boot/loader.conf.d"
    assert paths.ctl_conf == "/etc/ctl.conf"
    found = config_problems({"paths": {"ctl_conf": "etc/ctl.conf"}})
    assert found == [
        'paths.ctl_conf: expected an absolute path (at most 1023 bytes), not "etc/ctl.conf"'
    ]


def test_models_given_as_values_are_checked_too():
    cluster = parse_config(with_cluster()).cluster
    assert cluster is not None
    assert ClusterSection(**{**cluster.__dict__}) == cluster
    with pytest.raises(ValueError, match="expected exactly 2 hosts"):
        ClusterSection(**{**cluster.__dict__, "host": cluster.host[:1]})


CANDIDATES: list[object] = [
    True,
    0,
    1,
    20,
    100,
    254,
    255,
    256,
    65536,
    -1,
    1.5,
    "",
    "x",
    "on",
    "1234",
    "a b",
    "vtnet0",
    "198.18.0.9",
    "198.18.0.9/24",
    "fd00::9",
    "tank/v2",
    "10G",
    "1.5",
    "/abs",
    "/usr/local/sbin/carpswitch-hast-event",
    3600,
    3601,
    "rel/path",
    "x" * 21,
    "iqn.2026-01.org.example",
    [],
    ["0.0.0.0"],
    {},
    {"a": 1},
]


def variants() -> list[tuple[str, dict[str, Any]]]:
    cases: list[tuple[str, dict[str, Any]]] = [("valid", with_cluster())]
    places = [
        ("cluster", lambda c: c, CLUSTER_KEYS),
        ("host[0]", lambda c: c["host"][0], HOST_KEYS),
        ("host[1]", lambda c: c["host"][1], HOST_KEYS),
        ("ssh", lambda c: c["ssh"], SSH_KEYS),
        ("resource[0]", lambda c: c["resource"][0], RESOURCE_KEYS),
        ("resource[1]", lambda c: c["resource"][1], RESOURCE_KEYS),
    ]
    for name, where, keys in places:
        for key, value in itertools.product([*keys, "bogus"], CANDIDATES):
            data = with_cluster()
            where(data["cluster"])[key] = value
            cases.append((f"{name}.{key}={value!r}", data))
    for key, value in itertools.product(["host", "ssh", "resource"], CANDIDATES):
        data = with_cluster()
        data["cluster"][key] = value
        cases.append((f"cluster.{key}={value!r}", data))
    cases += [(f"cluster={value!r}", {"cluster": value}) for value in CANDIDATES]
    return cases


CASES = variants()


def test_both_kinds_of_answer():
    answers = [not config_problems(data) for _name, data in CASES]
    assert answers.count(True) > 30 and answers.count(False) > 500


@pytest.mark.parametrize(("name", "data"), CASES, ids=[name for name, _data in CASES])
def test_the_hook_rules_and_the_models_agree(name, data):
    problems = config_problems(data)
    assert loader_accepts(data) == (not problems), problems
