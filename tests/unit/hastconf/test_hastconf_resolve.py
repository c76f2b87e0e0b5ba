"""Resolving hast.conf for one node: hastd's node matching, inheritance, defaults, errors."""

import os
import time
from pathlib import Path

import pytest

from carpswitch.errors import CarpswitchError
from carpswitch.parse.hastconf import (
    Checksum,
    Compression,
    HastConf,
    HastConfError,
    HastResourceNode,
    HastResourceSection,
    Replication,
    ResolvedNode,
    ResolvedResource,
    control_socket_path,
    node_names_for_host,
    parse_hast_conf,
    resolve_control_address,
    resolve_listen,
    resolve_node,
    resolve_pidfile,
    resolve_resources,
)
from carpswitch.parse.hastconf_resolve import c_atoi

FIXTURES = Path(__file__).parents[2] / "fixtures" / "hastconf"
HASTA = node_names_for_host("hasta.example.org")
HASTB = node_names_for_host("hastb.example.org")


def fixture(name: str) -> HastConf:
    return parse_hast_conf((FIXTURES / name).read_text())


def refusal(text: str, names: list[str] = HASTA) -> str:
    with pytest.raises(HastConfError) as caught:
        resolve_resources(parse_hast_conf(text), names)
    return str(caught.value)


def only_resource(text: str, names: list[str] = HASTA) -> ResolvedResource:
    (resource,) = resolve_resources(parse_hast_conf(text), names)
    return resource


# --- node names -----------------------------------------------------------------------------


def test_node_names_list_first_label_full_name_uuid_and_hostid_in_hastds_order():
    names = node_names_for_host("hasta.example.org", "3F2504E0-4F89-11D3-9A0C-0305E82C3301", 42)
    assert names == [
        "hasta",
        "hasta.example.org",
        "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
        "hostid42",
    ]


def test_hostname_without_dot_is_its_only_name():
    assert node_names_for_host("hasta") == ["hasta"]


def test_negative_hostid_is_refused_because_kern_hostid_is_unsigned():
    with pytest.raises(ValueError, match="unsigned"):
        node_names_for_host("hasta", hostid=-1)


@pytest.mark.parametrize(
    ("written", "matches"),
    [
        ("hasta", True),
        ("hasta.example.org", True),
        ("hasta.example", False),
        ("HASTA", False),
        ("3f2504e0-4f89-11d3-9a0c-0305e82c3301", True),
        ("3F2504E0-4F89-11D3-9A0C-0305E82C3301", True),
        ("hostid42", True),
        ("hostid042", False),
    ],
)
def test_on_block_applies_to_the_names_isitme_accepts(written, matches):
    names = node_names_for_host("hasta.example.org", "3F2504E0-4f89-11D3-9A0C-0305E82C3301", 42)
    conf = parse_hast_conf(f"resource r {{ on {written} {{ local /x remote none }} }}")
    if matches:
        assert resolve_resources(conf, names)[0].local_path == "/x"
    else:
        with pytest.raises(HastConfError):
            resolve_resources(conf, names)


# --- resources ------------------------------------------------------------------------------


def test_handbook_example_resolves_with_hastds_defaults_on_each_node():
    conf = fixture("handbook.conf")
    expected = ResolvedResource(
        name="test",
        provider_name="test",
        local_path="/dev/ad6",
        remote_address="172.16.0.2",
        source_address=None,
        replication=Replication.MEMSYNC,
        checksum=Checksum.NONE,
        compression=Compression.HOLE,
        timeout=20,
        exec_path=None,
        metaflush=True,
    )
    assert resolve_resources(conf, HASTA) == [expected]
    assert resolve_resources(conf, ["hastb"])[0].remote_address == "172.16.0.1"


def test_hast_conf_5_example_resolves_both_resources_in_file_order():
    shared, tank = resolve_resources(fixture("hast_conf_5_example.conf"), HASTB)
    assert (shared.name, shared.local_path, shared.remote_address) == (
        "shared",
        "/dev/da0",
        "tcp://10.0.0.1",
    )
    assert (tank.local_path, tank.source_address) == ("/dev/mirror/tankb", "tcp://10.0.0.2")


def test_resource_node_settings_beat_resource_settings_which_beat_global_ones():
    (shared, tank) = resolve_resources(fixture("every_keyword.conf"), HASTA)
    assert shared == ResolvedResource(
        name="shared",
        provider_name="shared-a",
        local_path="/dev/da1",
        remote_address="tcp4://10.0.0.2:8457",
        source_address="tcp4://10.0.0.1",
        replication=Replication.ASYNC,
        checksum=Checksum.SHA256,
        compression=Compression.NONE,
        timeout=30,
        exec_path="/usr/local/sbin/shared-hook",
        metaflush=False,
    )
    assert tank == ResolvedResource(
        name="tank",
        provider_name="tank",
        local_path="/dev/mirror/tanka",
        remote_address="10.0.0.2",
        replication=Replication.FULLSYNC,
        checksum=Checksum.CRC32,
        compression=Compression.LZF,
        timeout=10,
        exec_path="/usr/local/sbin/hast-hook",
        metaflush=False,
    )


def test_resource_level_name_local_and_metaflush_fill_in_for_the_node_block():
    shared = resolve_resources(fixture("every_keyword.conf"), HASTB)[0]
    assert shared.provider_name == "shared-provider"
    assert shared.local_path == "/dev/da0"
    assert shared.metaflush is True
    assert shared.remote_address == "none"


def test_global_section_fills_in_whatever_the_resource_leaves_out():
    text = "exec /g\nmetaflush off\ntimeout 7\nresource r { on hasta { local /x remote none } }"
    resource = only_resource(text)
    assert (resource.exec_path, resource.metaflush, resource.timeout) == ("/g", False, 7)


def test_blocks_for_other_nodes_are_ignored_and_later_blocks_for_this_node_win():
    text = (
        "resource r {\n on hastb { local /b remote 10.0.0.1 }\n"
        " on hasta { local /a1 remote 10.0.0.2 }\n on hasta.example.org { local /a2 }\n}"
    )
    resource = only_resource(text)
    assert (resource.local_path, resource.remote_address) == ("/a2", "10.0.0.2")


def test_resource_without_a_block_for_this_node_is_refused_with_hastds_message():
    message = refusal(
        "resource shared { on hastb { local /x remote none } }",
        node_names_for_host("hasta.example.org", "abc", 7),
    )
    assert message == (
        "No resource shared configuration for this node "
        "(acceptable node names: hasta, hasta.example.org, abc, hostid7)."
    )


def test_resource_without_remote_is_refused():
    assert refusal("resource r { on hasta { local /x } }") == (
        "Remote address not configured for resource r."
    )


def test_resource_without_local_path_is_refused():
    assert refusal("resource r { on hasta { remote 10.0.0.2 } }") == (
        "Path to local component not configured for resource r."
    )


def test_resource_configured_twice_is_refused():
    text = "resource r { on hasta { local /x remote none } }\n" * 2
    assert refusal(text) == "Resource r configured more than once."


def test_zero_timeout_is_refused_globally_and_per_resource():
    assert refusal("timeout 0") == "Negative or zero timeout."
    assert refusal("resource r { timeout 0 on hasta { local /x remote none } }") == (
        "Negative or zero timeout."
    )


def test_timeout_past_int_range_wraps_like_atoi():
    assert c_atoi(20) == 20
    assert c_atoi(2**31) == -(2**31)
    assert c_atoi(2**32 + 20) == 20
    assert c_atoi(10**30) == -1
    text = "timeout 4294967316\nresource r { on hasta { local /x remote none } }"
    assert only_resource(text).timeout == 20
    assert refusal("timeout 2147483648") == "Negative or zero timeout."


def test_overlong_values_are_refused_with_hastds_messages():
    long_name = "r" * 255
    assert refusal(f"resource {long_name} {{ }}") == "Resource name is too long."
    assert refusal(f"exec /{'x' * 1023}") == "Exec path is too long."
    assert refusal(f"listen {'a' * 1024}") == "listen argument is too long."
    text = f"resource r {{ on hasta {{ name {'n' * 255} local /x remote none }} }}"
    assert refusal(text) == "name argument is too long."


def test_overlong_values_in_another_nodes_block_are_not_checked():
    text = (
        f"resource r {{ on hastb {{ local /{'x' * 2000} }} on hasta {{ local /x remote none }} }}"
    )
    assert only_resource(text).local_path == "/x"


def test_resource_level_provider_name_is_truncated_to_name_max_like_hastd():
    text = f"resource r {{ name {'p' * 300} on hasta {{ local /x remote none }} }}"
    assert only_resource(text).provider_name == "p" * 254


def test_hastconf_error_is_a_carpswitch_error():
    assert issubclass(HastConfError, CarpswitchError)


# --- control, pidfile, listen ---------------------------------------------------------------


def test_control_pidfile_and_listen_default_like_hastd():
    conf = parse_hast_conf("")
    assert resolve_control_address(conf, HASTA) == "uds:///var/run/hastctl"
    assert resolve_pidfile(conf, HASTA) == "/var/run/hastd.pid"
    assert resolve_listen(conf, HASTA) == ("tcp4://0.0.0.0:8457", "tcp6://[::]:8457")
    assert resolve_listen(conf, HASTA, inet6=False) == ("tcp4://0.0.0.0:8457",)


def test_no_address_family_means_nothing_to_listen_on():
    with pytest.raises(HastConfError, match=r"^No address to listen on\.$"):
        resolve_listen(parse_hast_conf(""), HASTA, inet=False, inet6=False)


def test_node_section_beats_global_section_for_control_and_pidfile():
    conf = fixture("every_keyword.conf")
    assert resolve_control_address(conf, HASTA) == "unix:///var/run/hastctl-a"
    assert resolve_pidfile(conf, HASTA) == "/var/run/hastd-a.pid"
    assert resolve_control_address(conf, HASTB) == "uds:///var/run/hastctl-global"
    assert resolve_pidfile(conf, HASTB) == "/var/run/hastd-global.pid"


def test_listen_is_every_global_address_plus_this_nodes_own():
    conf = fixture("every_keyword.conf")
    assert resolve_listen(conf, HASTB) == (
        "0.0.0.0:8457",
        "tcp6://[::]:8457",
        "10.0.0.2",
        "tcp6://[2001:db8::2]:8457",
    )
    node_only = fixture("hast_conf_5_example.conf").model_copy(update={"listen": ()})
    assert resolve_listen(node_only, HASTA) == ("tcp://2001:db8::1/64",)


def test_control_address_is_refused_like_hastctl_when_the_file_is_invalid():
    conf = parse_hast_conf("resource r { on hastb { local /x remote none } }")
    with pytest.raises(HastConfError, match="No resource r configuration"):
        resolve_control_address(conf, HASTA)


@pytest.mark.parametrize(
    ("address", "path"),
    [
        ("uds:///var/run/hastctl", "/var/run/hastctl"),
        ("unix:///var/run/hastctl", "/var/run/hastctl"),
        ("UDS:///var/run/hastctl", "/var/run/hastctl"),
        ("/var/run/hastctl", "/var/run/hastctl"),
        ("uds://relative/ctl", "relative/ctl"),
    ],
)
def test_control_socket_path_accepts_the_forms_proto_uds_accepts(address, path):
    assert control_socket_path(address) == path


@pytest.mark.parametrize(
    "address", ["tcp4://127.0.0.1:8458", "var/run/hastctl", "/x://y", "uds://", "/" + "x" * 103]
)
def test_control_socket_path_refuses_what_is_not_a_unix_socket_path(address):
    with pytest.raises(HastConfError):
        control_socket_path(address)


# --- cost: linear in the number of resources, resolved once (issue 8, item 30) -----------


def many_resources(count: int) -> HastConf:
    node = HastResourceNode(node="hasta", local_path="/dev/ada1", remote_address="10.0.0.2")
    return HastConf(
        resources=tuple(HastResourceSection(name=f"r{i}", on=(node,)) for i in range(count))
    )


class CountingList(list[ResolvedResource]):
    """A list that counts how often something walks it."""

    walks = 0

    def __iter__(self):
        CountingList.walks += 1
        return super().__iter__()


def test_the_duplicate_check_never_walks_the_resources_found_so_far():
    """10,000 resources took `check` 32.6 s: each one was compared with every earlier one."""
    CountingList.walks = 0
    node = ResolvedNode(["hasta"], resources=CountingList())
    node.load(many_resources(2000))
    assert len(node.resources) == 2000
    assert CountingList.walks == 0


def test_resolving_ten_times_the_resources_costs_about_ten_times_as_much():
    def cpu_seconds(conf: HastConf) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            resolve_node(conf, ["hasta"])
            best = min(best, time.process_time() - started)
        return best

    small, large = many_resources(800), many_resources(8000)
    ratio = cpu_seconds(large) / max(cpu_seconds(small), 1e-6)
    assert ratio < 40  # linear: ~10; quadratic: ~100


def test_a_duplicate_is_still_refused_as_hastd_refuses_it():
    conf = many_resources(3)
    doubled = HastConf(resources=(*conf.resources, conf.resources[1]))
    with pytest.raises(HastConfError, match=r"Resource r1 configured more than once\."):
        resolve_node(doubled, ["hasta"])


def test_one_resolve_gives_resources_pidfile_and_control():
    node = resolve_node(parse_hast_conf("pidfile /x.pid\n" + HAST_ONE), HASTA)
    assert [r.name for r in node.resources] == ["tank"]
    assert (node.pidfile, node.control) == ("/x.pid", "uds:///var/run/hastctl")


def test_the_topology_resolves_hast_conf_once(monkeypatch):
    from carpswitch.config import parse_config
    from carpswitch.topology import build_topology

    loads: list[HastConf] = []
    original = ResolvedNode.load

    def counting_load(self: ResolvedNode, conf: HastConf) -> None:
        loads.append(conf)
        original(self, conf)

    monkeypatch.setattr(ResolvedNode, "load", counting_load)
    topology = build_topology(parse_config({}), parse_hast_conf(HAST_ONE), HASTA)
    assert list(topology.resources) == ["tank"]
    assert len(loads) == 1


HAST_ONE = """resource tank {
    on hasta {
        local /dev/ada1
        remote 10.0.0.2
    }
}
"""


def test_a_hast_conf_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    from carpswitch.topology import read_hast_conf

    fifo = tmp_path / "hast.conf"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="a FIFO, not a regular file"):
        read_hast_conf(str(fifo))  # a blocking open() would hang here (pytest-timeout)


def test_a_hast_conf_that_is_not_utf8_reads_as_hastd_reads_it(tmp_path):
    from carpswitch.topology import read_hast_conf

    path = tmp_path / "hast.conf"
    path.write_bytes(b"# caf\xe9\n" + HAST_ONE.encode())
    assert [r.name for r in read_hast_conf(str(path)).resources] == ["tank"]
