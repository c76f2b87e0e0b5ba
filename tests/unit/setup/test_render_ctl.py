"""ctl.conf: one target per iSCSI resource, the same IQN, serial and device-id on both."""

from __future__ import annotations

import copy

from carpswitch.config import parse_config
from carpswitch.lab.cluster.ctl_conf import parse_ctl_conf
from carpswitch.setup.render import render_node
from carpswitch.setup.render_files import ctl_conf_text


def ctl_of(data, host="hasta"):
    files = {f.path: f for f in render_node(parse_config(data), host, "/c.toml")}
    return files["/etc/ctl.conf"].text


def test_ctl_conf_is_identical_on_both_nodes(cluster_data):
    text = ctl_of(cluster_data, "hasta")
    assert text == ctl_of(cluster_data, "hastb")
    body = text.split("carpswitch starts ctld.\n", 1)[1]
    serial_line, device_line = (
        line.strip() for line in body.splitlines() if line.strip().startswith(("serial", "device"))
    )
    assert body == (
        "portal-group pg0 {\n"
        "\tdiscovery-auth-group no-authentication\n"
        "\tlisten 0.0.0.0:3260\n"
        "}\n\n"
        "target iqn.2026-01.org.carpswitch:hastvol {\n"
        "\tauth-group no-authentication\n"
        "\tportal-group pg0\n"
        "\tlun 0 {\n"
        "\t\tpath /dev/hast/hastvol\n"
        f"\t\t{serial_line}\n"
        f"\t\t{device_line}\n"
        "\t}\n"
        "}\n"
    )
    serial = serial_line.split()[1]
    device_id = device_line.split()[1]
    assert serial.startswith("CSW") and len(serial) == 16  # CTL_SN_LEN
    assert device_id.startswith("CSW-") and len(device_id) <= 64  # CTL_DEVID_LEN


def ids(data):
    text = ctl_of(data)
    return [
        line.split()[1]
        for line in text.splitlines()
        if line.strip().startswith(("serial", "device"))
    ]


def test_serial_and_device_id_are_stable_and_name_this_disk_of_this_pair(cluster_data):
    first = ids(cluster_data)
    assert ids(copy.deepcopy(cluster_data)) == first
    swapped = copy.deepcopy(cluster_data)
    swapped["cluster"]["host"].reverse()
    assert ids(swapped) == first  # which host is preferred does not rename the disk
    other_pair = copy.deepcopy(cluster_data)
    other_pair["cluster"]["address"] = "198.18.1.100/24"
    assert set(ids(other_pair)).isdisjoint(first)
    renamed = copy.deepcopy(cluster_data)
    renamed["cluster"]["resource"][0]["name"] = "hastvol2"
    assert set(ids(renamed)).isdisjoint(first)


def test_every_iscsi_resource_is_a_target_and_the_prefix_is_configurable(cluster_data):
    cluster_data["cluster"]["iqn_prefix"] = "iqn.2025-12.org.example"
    cluster_data["cluster"]["resource"][1].update(name="Disk1", iscsi=True)
    text = ctl_of(cluster_data)
    targets = [line for line in text.splitlines() if line.startswith("target ")]
    assert targets == [
        "target iqn.2025-12.org.example:hastvol {",
        "target iqn.2025-12.org.example:disk1 {",
    ]
    assert "\t\tpath /dev/hast/Disk1\n" in text


def test_an_ipv6_carp_address_gets_an_ipv6_portal(cluster_data):
    cluster_data["cluster"]["address"] = "fd00::100/64"
    assert "\tlisten [::]:3260\n" in ctl_conf_text(parse_config(cluster_data))


def test_the_labs_ctld_reads_everything_as_ctld_does(cluster_data):
    """The lab's ctld reads any LUN number (ctl.conf LUN N is tgt LUN N+1)."""
    conf = parse_ctl_conf(ctl_of(cluster_data).replace("lun 0 {", "lun 1 {"))
    [target] = conf.targets
    assert target.iqn == "iqn.2026-01.org.carpswitch:hastvol"
    assert target.allow_all
    assert [(lun.path, lun.serial) for lun in target.luns] == [
        ("/dev/hast/hastvol", ids(cluster_data)[0])
    ]


def test_the_labs_ctld_reads_lun_0(cluster_data):
    [target] = parse_ctl_conf(ctl_of(cluster_data)).targets
    assert [lun.number for lun in target.luns] == [1]  # ctld's LUN 0 is tgt's LUN 1
