"""The per-node part: plan on an empty node, apply, a second plan is empty; guards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from carpswitch.setup.files import SetupError
from carpswitch.setup.node import apply_node, plan_node
from tests.unit.setup.simnode import SimNode, node_config


def _setup(tmp_path: Path, cluster_data: dict[str, Any]) -> tuple[Any, SimNode, str]:
    config = node_config(cluster_data, str(tmp_path))
    return config, SimNode(config.paths.hast_conf), str(tmp_path / "carpswitch.toml")


def test_empty_node_plan_lists_commands_in_order(
    tmp_path: Path, cluster_data: dict[str, Any]
) -> None:
    config, node, config_file = _setup(tmp_path, cluster_data)
    plan = plan_node(config, "hasta", config_file, node)
    assert [c.line for c in plan.commands] == [
        "zfs create -V 10G tank/hastvol",
        "hastctl create hastvol",
        "hastctl create disk1",
        "service hastd onestart",
        "hastctl role secondary hastvol",
        "hastctl role secondary disk1",
    ]
    assert {Path(c.file.path).name for c in plan.files} >= {"hast.conf", "netif", "carpswitch.toml"}
    assert not any(call[:2] == ("zfs", "create") for call in node.calls)  # plan changes nothing
    assert not Path(config.paths.hast_conf).exists()


def test_apply_then_plan_is_empty(tmp_path: Path, cluster_data: dict[str, Any]) -> None:
    config, node, config_file = _setup(tmp_path, cluster_data)
    done = apply_node(config, plan_node(config, "hasta", config_file, node), node)
    assert done[0] == "zfs create -V 10G tank/hastvol"
    assert f"wrote {config.paths.hast_conf}" in done
    assert node.metadata == {"hastvol", "disk1"}
    assert node.hastd and node.roles == {"hastvol": "secondary", "disk1": "secondary"}
    again = plan_node(config, "hasta", config_file, node)
    assert again.empty, again


def test_changed_hast_conf_reloads_a_running_hastd_and_keeps_roles(
    tmp_path: Path, cluster_data: dict[str, Any]
) -> None:
    config, node, config_file = _setup(tmp_path, cluster_data)
    apply_node(config, plan_node(config, "hasta", config_file, node), node)
    node.roles["hastvol"] = "primary"  # the running carpswitch promoted it
    cluster_data["cluster"]["resource"].append({"name": "disk2", "local": "/dev/ada2"})
    bigger = node_config(cluster_data, str(tmp_path))
    plan = plan_node(bigger, "hasta", config_file, node)
    assert [c.line for c in plan.commands] == [
        "hastctl create disk2",
        "service hastd onereload",
        "hastctl role secondary disk2",
    ]
    apply_node(bigger, plan, node)
    assert node.roles == {"hastvol": "primary", "disk1": "secondary", "disk2": "secondary"}
    assert ("service", "hastd", "onestart") not in node.calls[-6:]


def test_create_is_not_run_over_existing_metadata(
    tmp_path: Path, cluster_data: dict[str, Any]
) -> None:
    config, node, config_file = _setup(tmp_path, cluster_data)
    plan = plan_node(config, "hasta", config_file, node)
    node.metadata.add("disk1")  # appeared between plan and apply (another admin)
    apply_node(config, plan, node)
    assert ("hastctl", "create", "disk1") not in node.calls
    assert ("hastctl", "create", "hastvol") in node.calls


def test_role_is_not_set_on_a_resource_that_is_no_longer_init(
    tmp_path: Path, cluster_data: dict[str, Any]
) -> None:
    config, node, config_file = _setup(tmp_path, cluster_data)
    apply_node(config, plan_node(config, "hasta", config_file, node), node)
    node.roles["disk1"] = "init"
    plan = plan_node(config, "hasta", config_file, node)
    assert [c.line for c in plan.commands] == ["hastctl role secondary disk1"]
    node.roles["disk1"] = "primary"  # promoted meanwhile: never demoted by set-up
    apply_node(config, plan, node)
    assert node.roles["disk1"] == "primary"


def test_a_hanging_read_is_an_error_not_a_reason_to_act(
    tmp_path: Path, cluster_data: dict[str, Any]
) -> None:
    config, node, config_file = _setup(tmp_path, cluster_data)
    node.hang.add(("zfs", "list", "-H", "-o", "name", "tank/hastvol"))
    with pytest.raises(SetupError, match="cannot tell whether zvol tank/hastvol exists"):
        plan_node(config, "hasta", config_file, node)
    node.hang = {("service", "hastd", "onestatus")}
    with pytest.raises(SetupError, match="cannot tell whether hastd runs"):
        plan_node(config, "hasta", config_file, node)


def test_a_failing_command_stops_apply_with_one_line(
    tmp_path: Path, cluster_data: dict[str, Any]
) -> None:
    config, node, config_file = _setup(tmp_path, cluster_data)
    plan = plan_node(config, "hasta", config_file, node)
    node.hang.add(("zfs", "create", "-V", "10G", "tank/hastvol"))
    with pytest.raises(SetupError, match="zfs create -V 10G tank/hastvol: timed out"):
        apply_node(config, plan, node)
    assert not Path(config.paths.hast_conf).exists()  # the zvol comes before any file
