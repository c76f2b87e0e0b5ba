"""render_node: every file set-up writes, per node, from one carpswitch.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from carpswitch.config import Config, parse_config
from carpswitch.errors import ConfigError
from carpswitch.parse.hastconf import parse_hast_conf, resolve_resources
from carpswitch.setup.render import NodeFile, render_node, this_host

CONFIG_FILE = "/usr/local/etc/carpswitch.toml"
REPO = Path(__file__).resolve().parents[3]


def files_of(data: dict[str, Any], host: str) -> dict[str, NodeFile]:
    return {f.path: f for f in render_node(parse_config(data), host, CONFIG_FILE)}


def test_the_files_of_a_freebsd_node(cluster_data):
    files = files_of(cluster_data, "hasta")
    assert list(files) == [
        "/etc/hast.conf",
        "/usr/local/etc/devd/carpswitch.conf",
        "/etc/rc.conf.d/hastd",
        "/etc/rc.conf.d/carpswitch",
        "/etc/rc.conf.d/ctld",
        "/etc/rc.conf.d/netif",
        "/boot/loader.conf.d/carpswitch.conf",
        "/etc/ctl.conf",
        CONFIG_FILE,
    ]
    private = {path for path, f in files.items() if f.mode == 0o600}
    assert private == {"/etc/rc.conf.d/netif", "/etc/ctl.conf", CONFIG_FILE}
    assert all(f.mode in (0o600, 0o644) and f.why and "\n" not in f.why for f in files.values())


def test_hast_conf_is_identical_on_both_nodes_and_names_the_peer(cluster_data):
    a = files_of(cluster_data, "hasta")["/etc/hast.conf"].text
    b = files_of(cluster_data, "hastb")["/etc/hast.conf"].text
    assert a == b
    assert a == (
        "exec /usr/local/sbin/carpswitch-hast-event\n\n"  # the default [cluster] hast_exec
        "resource hastvol {\n"
        "\ton hasta {\n\t\tlocal /dev/zvol/tank/hastvol\n\t\tremote 198.18.0.2\n\t}\n"
        "\ton hastb {\n\t\tlocal /dev/zvol/tank/hastvol\n\t\tremote 198.18.0.1\n\t}\n"
        "}\n\n"
        "resource disk1 {\n"
        "\ton hasta {\n\t\tlocal /dev/ada1\n\t\tremote 198.18.0.2\n\t}\n"
        "\ton hastb {\n\t\tlocal /dev/ada1\n\t\tremote 198.18.0.1\n\t}\n"
        "}\n"
    )
    conf = parse_hast_conf(a)
    [vol_a, _] = resolve_resources(conf, ["hasta"])
    [vol_b, _] = resolve_resources(conf, ["hastb"])
    assert (vol_a.local_path, vol_a.remote_address) == ("/dev/zvol/tank/hastvol", "198.18.0.2")
    assert (vol_b.local_path, vol_b.remote_address) == ("/dev/zvol/tank/hastvol", "198.18.0.1")


def test_hast_timeout_and_hast_exec_are_global_statements_hastd_reads_back(cluster_data):
    cluster_data["cluster"].update(hast_timeout=5, hast_exec="/opt/hooks/hast-event")
    text = files_of(cluster_data, "hasta")["/etc/hast.conf"].text
    assert text == files_of(cluster_data, "hastb")["/etc/hast.conf"].text
    assert text.startswith("timeout 5\nexec /opt/hooks/hast-event\n\nresource hastvol {\n")
    conf = parse_hast_conf(text)
    assert (conf.timeout, conf.exec_path) == (5, "/opt/hooks/hast-event")
    for host in ("hasta", "hastb"):
        resolved = resolve_resources(conf, [host])
        assert [(r.timeout, r.exec_path) for r in resolved] == [(5, "/opt/hooks/hast-event")] * 2


def test_an_empty_hast_exec_and_no_hast_timeout_write_neither(cluster_data):
    cluster_data["cluster"]["hast_exec"] = ""
    text = files_of(cluster_data, "hasta")["/etc/hast.conf"].text
    assert text.startswith("resource hastvol {\n")
    assert "exec" not in text and "timeout" not in text
    [vol, _] = resolve_resources(parse_hast_conf(text), ["hasta"])
    assert (vol.timeout, vol.exec_path) == (20, None)  # hastd's HAST_TIMEOUT, no hook


def test_hast_exec_and_hast_timeout_are_written_back_only_when_chosen(cluster_data):
    default = files_of(cluster_data, "hasta")[CONFIG_FILE].text
    assert "hast_exec" not in default and "hast_timeout" not in default
    cluster_data["cluster"].update(hast_exec="", hast_timeout=7)
    chosen = files_of(cluster_data, "hasta")[CONFIG_FILE].text
    assert 'hast_exec = ""\nhast_timeout = 7\n' in chosen
    assert parse_config(tomllib.loads(chosen)).cluster == parse_config(cluster_data).cluster


def test_per_host_hast_settings_get_a_top_level_on_block(cluster_data):
    cluster_data["cluster"]["host"][1].update(
        control="uds:///var/run/hastctl.b", pidfile="/var/run/hastd.b.pid", listen=["0.0.0.0"]
    )
    text = files_of(cluster_data, "hasta")["/etc/hast.conf"].text
    assert text.startswith(
        "exec /usr/local/sbin/carpswitch-hast-event\n\n"
        "on hastb {\n\tcontrol uds:///var/run/hastctl.b\n\tpidfile /var/run/hastd.b.pid\n"
        "\tlisten 0.0.0.0\n}\n\nresource hastvol {"
    )
    assert text == files_of(cluster_data, "hastb")["/etc/hast.conf"].text


def test_an_ipv6_peer_is_written_as_a_tcp_url(cluster_data):
    cluster_data["cluster"]["host"][0]["address"] = "fd00::1"
    cluster_data["cluster"]["host"][1]["address"] = "fd00::2"
    text = files_of(cluster_data, "hasta")["/etc/hast.conf"].text
    assert "\t\tremote tcp://[fd00::2]\n" in text
    assert "\t\tremote tcp://[fd00::1]\n" in text
    parse_hast_conf(text)


def test_the_longest_values_the_config_takes_are_ones_hastd_takes(cluster_data):
    """render_node resolves hast.conf for each host as hastd would: the limits agree."""
    resource = cluster_data["cluster"]["resource"][1]
    resource.update(name="r" * 254, local="/dev/" + "d" * 1018)  # NAME_MAX, PATH_MAX - 1
    text = files_of(cluster_data, "hasta")["/etc/hast.conf"].text
    [_, longest] = resolve_resources(parse_hast_conf(text), ["hastb"])
    assert longest.local_path == resource["local"]
    resource["name"] += "r"
    with pytest.raises(ConfigError, match=r"cluster.resource\[1\].name"):
        files_of(cluster_data, "hasta")


def test_netif_carries_the_hosts_own_advskew(cluster_data):
    cluster_data["cluster"]["advbase"] = 2
    a = files_of(cluster_data, "hasta")["/etc/rc.conf.d/netif"].text
    b = files_of(cluster_data, "hastb")["/etc/rc.conf.d/netif"].text
    assert a.splitlines()[-1] == (
        'ifconfig_vtnet0_alias0="inet vhid 7 advbase 2 advskew 0 pass s3cret-pass 198.18.0.100/24"'
    )
    assert b.splitlines()[-1] == (
        'ifconfig_vtnet0_alias0="inet vhid 7 advbase 2 advskew 100 pass s3cret-pass '
        '198.18.0.100/24"'
    )


def test_netif_names_a_vlan_interface_as_rc_conf_does(cluster_data):
    cluster_data["cluster"]["interface"] = "vtnet0.100"
    cluster_data["cluster"]["address"] = "fd00::100/64"
    cluster_data["cluster"]["host"][1]["advskew"] = 20
    text = files_of(cluster_data, "hastb")["/etc/rc.conf.d/netif"].text
    assert text.splitlines()[-1] == (
        'ifconfig_vtnet0_100_alias0="inet6 vhid 7 advbase 1 advskew 20 pass s3cret-pass '
        'fd00::100/64"'
    )


def test_rc_conf_d_and_loader_conf_d(cluster_data):
    files = files_of(cluster_data, "hasta")
    assert files["/etc/rc.conf.d/hastd"].text.splitlines()[-1] == 'hastd_enable="YES"'
    assert files["/etc/rc.conf.d/carpswitch"].text.splitlines()[-1] == 'carpswitch_enable="YES"'
    assert files["/etc/rc.conf.d/ctld"].text.splitlines()[-1] == 'ctld_enable="NO"'
    loader = files["/boot/loader.conf.d/carpswitch.conf"].text
    assert loader.splitlines()[-1] == 'carp_load="YES"'
    assert all(line.startswith("#") for line in loader.splitlines()[:-1])


def test_without_iscsi_there_is_no_ctl_conf_nor_ctld(cluster_data):
    cluster_data["cluster"]["resource"][0]["iscsi"] = False
    files = files_of(cluster_data, "hasta")
    assert "/etc/ctl.conf" not in files
    assert "/etc/rc.conf.d/ctld" not in files


def test_the_paths_are_the_nodes_own(cluster_data):
    cluster_data["paths"] = {
        "hast_conf": "/lab/a/etc/hast.conf",
        "devd_conf": "/lab/a/usr/local/etc/devd/carpswitch.conf",
        "rc_conf_d": "/lab/a/etc/rc.conf.d/",
        "loader_conf_d": "/lab/a/boot/loader.conf.d",
        "ctl_conf": "/lab/a/etc/ctl.conf",
        "dev_hast": "/lab/a/dev/hast",
    }
    files = render_node(parse_config(cluster_data), "hasta", "/lab/a/carpswitch.toml")
    assert [f.path for f in files] == [
        "/lab/a/etc/hast.conf",
        "/lab/a/usr/local/etc/devd/carpswitch.conf",
        "/lab/a/etc/rc.conf.d/hastd",
        "/lab/a/etc/rc.conf.d/carpswitch",
        "/lab/a/etc/rc.conf.d/ctld",
        "/lab/a/etc/rc.conf.d/netif",
        "/lab/a/boot/loader.conf.d/carpswitch.conf",
        "/lab/a/etc/ctl.conf",
        "/lab/a/carpswitch.toml",
    ]
    ctl = files[-2].text
    assert "\t\tpath /lab/a/dev/hast/hastvol\n" in ctl


def test_the_devd_rule_is_the_projects_with_the_freebsd_command(cluster_data):
    text = files_of(cluster_data, "hasta")["/usr/local/etc/devd/carpswitch.conf"].text
    assert text == (REPO / "conf" / "devd-carp.conf").read_text()
    assert 'action "/usr/local/sbin/carpswitch $type $subsystem";' in text


def test_render_node_refuses_an_unknown_host_and_a_config_without_cluster(cluster_data):
    with pytest.raises(ConfigError, match="no host 'hastc'"):
        files_of(cluster_data, "hastc")
    with pytest.raises(ConfigError, match="cluster: required for setup"):
        render_node(Config(), "hasta", CONFIG_FILE)


def test_this_host_by_node_name_or_host_name(cluster_data):
    config = parse_config(cluster_data)
    assert this_host(config, "hastb.example.org").name == "hastb"
    assert this_host(config, "hasta").name == "hasta"
    named = parse_config({**cluster_data, "node": {"name": "hastb"}})
    assert this_host(named, "hasta").name == "hastb"
    with pytest.raises(ConfigError, match=r"node is 'hastc\.example\.org', not hasta or hastb"):
        this_host(config, "hastc.example.org")


def test_a_hast_conf_that_would_not_read_back_is_refused(cluster_data, monkeypatch):
    """The parse-back check is live: a renderer that lost a resource is caught."""
    from carpswitch.parse.hastconf import render_hast_conf

    monkeypatch.setattr(
        "carpswitch.setup.render_files.render_hast_conf",
        lambda conf: render_hast_conf(conf).split("\n\nresource disk1")[0],
    )
    with pytest.raises(ConfigError, match="does not parse back as written"):
        files_of(cluster_data, "hasta")


def test_render_node_is_deterministic(cluster_data):
    config = parse_config(cluster_data)
    assert render_node(config, "hastb", CONFIG_FILE) == render_node(config, "hastb", CONFIG_FILE)
