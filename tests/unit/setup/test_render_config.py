"""render_config: canonical TOML of a whole Config; shared_digest and with_node_part."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from carpswitch.config import Config, parse_config
from carpswitch.setup.render import render_config, shared_digest, with_node_part

FULL: dict[str, Any] = {
    "node": {"name": "hasta"},
    "paths": {"state_dir": "/lab/a/db", "run_dir": "/lab/a/run", "ctl_conf": "/lab/a/ctl.conf"},
    "commands": {"zfs": "/lab/a/bin/zfs", "hastctl": "/lab/a/bin/hastctl"},
    "timeouts": {"release": 200, "umount_grace": 0, "import": 60.5, "observe": 0.25},
    "failover": {"demotion": 100, "force_backup": False},
    "hooks": {"notify": '/usr/local/libexec/notify "quoted" \\ é'},
    "intake": {"settle": 0.5},
    "resource": [
        {"name": "tank", "kind": "zfs", "pool": "tank"},
        {
            "name": "data",
            "kind": "ufs",
            "mountpoint": "/hast/data",
            "mount_options": ["ro", "noatime"],
        },
        {"name": "hastvol"},
    ],
    "group": [
        {
            "name": "storage",
            "vhid": 7,
            "interface": "vtnet0",
            "resources": ["tank", "data", "hastvol"],
            "services": ["ctld", "nfsd"],
        }
    ],
}


@pytest.fixture
def full(cluster_data):
    data = copy.deepcopy(FULL)
    data["cluster"] = cluster_data["cluster"]
    data["cluster"]["ssh"] = {"identity": "/root/.ssh/id_ed25519", "connect_timeout": 3}
    data["cluster"]["host"][1].update(advskew=20, ssh_port=2222, listen=["0.0.0.0", "[::]"])
    return parse_config(data)


@pytest.mark.parametrize("which", ["default", "cluster only", "full"])
def test_render_config_round_trips(which, cluster_data, full):
    config = {"default": Config(), "cluster only": parse_config(cluster_data), "full": full}[which]
    text = render_config(config)
    assert parse_config(tomllib.loads(text)) == config
    assert render_config(parse_config(tomllib.loads(text))) == text


def test_only_values_that_differ_from_defaults_are_written(cluster_data):
    explicit = copy.deepcopy(cluster_data)
    explicit["cluster"]["advbase"] = 1  # the default, written out
    explicit["timeouts"] = {"release": 300}
    text = render_config(parse_config(explicit))
    assert text == render_config(parse_config(cluster_data))
    assert "advbase" not in text and "[timeouts]" not in text


def test_the_text_of_a_small_config(cluster_data):
    cluster_data["cluster"]["resource"] = [{"name": "hastvol", "local": "/dev/ada1"}]
    cluster_data["node"] = {"name": "hasta"}
    body = render_config(parse_config(cluster_data)).split("(setup check).\n", 1)[1]
    assert body == (
        "\n[node]\n"
        'name = "hasta"\n\n'
        "[cluster]\n"
        'interface = "vtnet0"\nvhid = 7\naddress = "198.18.0.100/24"\npassword = "s3cret-pass"\n\n'
        '[[cluster.host]]\nname = "hasta"\naddress = "198.18.0.1"\n\n'
        '[[cluster.host]]\nname = "hastb"\naddress = "198.18.0.2"\n\n'
        '[[cluster.resource]]\nname = "hastvol"\nlocal = "/dev/ada1"\n'
    )


def test_strings_are_escaped_as_toml_reads_them(full):
    text = render_config(full)
    assert 'notify = "/usr/local/libexec/notify \\"quoted\\" \\\\ é"' in text


def test_shared_digest_ignores_the_node_local_sections(full):
    other_node = with_node_part(full, parse_config({"node": {"name": "hastb"}}))
    assert other_node.node.name == "hastb"
    assert other_node.paths == Config().paths and other_node.commands == {}
    assert other_node.cluster == full.cluster and other_node.group == full.group
    assert shared_digest(other_node) == shared_digest(full)
    assert render_config(other_node) != render_config(full)


def test_shared_digest_changes_with_any_shared_value(full):
    digest = shared_digest(full)
    for change in (
        {"failover": {"demotion": 99}},
        {"cluster": {**cluster_table(full), "vhid": 8}},
        {"intake": {"settle": 0.75}},
    ):
        data = tomllib.loads(render_config(full))
        data.update(change)
        assert shared_digest(parse_config(data)) != digest, change


def cluster_table(config):
    return tomllib.loads(render_config(config))["cluster"]


def test_with_node_part_without_local_takes_defaults(full):
    merged = with_node_part(full, None)
    assert (merged.node, merged.paths, merged.commands) == (Config().node, Config().paths, {})
    assert merged.timeouts == full.timeouts and merged.hooks == full.hooks
