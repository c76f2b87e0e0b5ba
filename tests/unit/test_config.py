"""carpswitch.toml: defaults, the documented shape, and errors that name file and key."""

from pathlib import Path

import pytest

from carpswitch.config import (
    DEFAULT_CONFIG_PATH,
    Config,
    FsckPolicy,
    ResourceKind,
    config_path,
    load_config,
    parse_config,
)
from carpswitch.errors import ConfigError

ISSUE_EXAMPLE = """
[node]
name = "hasta"
[paths]
dev_hast  = "/dev/hast"
hast_conf = "/etc/hast.conf"
state_dir = "/var/db/carpswitch"
run_dir   = "/var/run/carpswitch"
[commands]
hastctl = "/sbin/hastctl"
[[resource]]
name = "tank"
kind = "zfs"
pool = "tank"
[[resource]]
name = "data"
kind = "ufs"
mountpoint = "/hast/data"
[[group]]
name = "storage"
vhid = 1
interface = "vtnet0"
resources = ["tank", "data"]
services = ["ctld"]
"""


def write(tmp_path, text):
    path = tmp_path / "carpswitch.toml"
    path.write_text(text)
    return str(path)


def problems_of(tmp_path, text):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return caught.value.problems


def test_the_documented_example_loads(tmp_path):
    config = load_config(write(tmp_path, ISSUE_EXAMPLE))
    assert config.node.name == "hasta"
    assert config.commands == {"hastctl": "/sbin/hastctl"}
    assert [(r.name, r.kind) for r in config.resource] == [
        ("tank", ResourceKind.ZFS),
        ("data", ResourceKind.UFS),
    ]
    assert config.resource[0].pool == "tank"
    assert config.group[0].services == ["ctld"]
    assert config.group[0].interface == "vtnet0"


def test_an_empty_config_has_freebsd_defaults():
    config = parse_config({})
    assert config.node.name is None
    assert config.paths.dev_hast == "/dev/hast"
    assert config.paths.hast_conf == "/etc/hast.conf"
    assert config.paths.state_dir == "/var/db/carpswitch"
    assert config.paths.run_dir == "/var/run/carpswitch"
    assert config.resource == [] and config.group == []
    assert config.timeouts.release == 30
    assert config.timeouts.import_ == 120


def test_timeouts_table_uses_the_documented_key_names():
    config = parse_config({"timeouts": {"import": 5, "release": 0.5, "fsck": 1}})
    assert config.timeouts.import_ == 5
    assert config.timeouts.release == 0.5
    assert config.timeouts.device == 10


def test_a_resource_without_config_entry_is_raw():
    config = parse_config({})
    assert config.resource_config("shared").kind is ResourceKind.RAW
    assert config.resource_config("shared").fsck is FsckPolicy.REFUSE


def test_missing_default_file_means_hast_conf_alone(monkeypatch):
    monkeypatch.delenv("CARPSWITCH_CONFIG", raising=False)
    if not __import__("os").path.exists(DEFAULT_CONFIG_PATH):
        assert load_config(None) == Config()


def test_missing_explicit_file_is_an_error_naming_it(tmp_path):
    path = str(tmp_path / "absent.toml")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: no such file"


def test_config_path_order_is_flag_then_environment_then_default():
    env = {"CARPSWITCH_CONFIG": "/env.toml"}
    assert config_path("/flag.toml", env) == "/flag.toml"
    assert config_path(None, env) == "/env.toml"
    assert config_path(None, {}) == DEFAULT_CONFIG_PATH


def test_environment_variable_selects_the_file(tmp_path):
    path = write(tmp_path, '[node]\nname = "hastb"\n')
    assert load_config(None, {"CARPSWITCH_CONFIG": path}).node.name == "hastb"


def test_toml_syntax_error_names_the_file_and_line(tmp_path):
    problems = problems_of(tmp_path, "[node\nname = 1\n")
    assert len(problems) == 1
    assert problems[0].startswith("not valid TOML")
    assert "line 1" in problems[0]


def test_every_problem_is_reported_at_once_with_its_key(tmp_path):
    problems = problems_of(
        tmp_path,
        """
[paths]
dev_hst = "/dev/hast"
[[resource]]
name = "tank"
kind = "zfs"
[[resource]]
name = "data"
kind = "nfs"
[[group]]
name = "storage"
vhid = 300
resources = ["tank"]
""",
    )
    assert "paths.dev_hst: unknown key" in problems
    assert "resource[0]: kind zfs needs pool = NAME" in problems
    assert any(
        p.startswith("resource[1].kind: Input should be 'zfs', 'ufs' or 'raw'") for p in problems
    )
    assert any(
        p.startswith("group[0].vhid: Input should be less than or equal to 255") for p in problems
    )
    assert len(problems) == 4


def test_error_message_is_prefixed_with_the_file(tmp_path):
    path = write(tmp_path, '[[group]]\nname = "g"\nvhid = 1\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: group[0].resources: required key is missing"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"name": "d", "kind": "ufs"}, "kind ufs needs mountpoint = PATH"),
        ({"name": "d", "kind": "ufs", "mountpoint": "hast/d"}, "must be an absolute path"),
        ({"name": "d", "kind": "raw", "pool": "p"}, "pool is only for kind zfs"),
        ({"name": "d", "kind": "zfs", "pool": "p", "mountpoint": "/m"}, "mountpoint is only for"),
        ({"name": "bad name", "kind": "raw"}, "resource[0].name: String should match pattern"),
        ({"name": "d", "fsck": "maybe"}, "resource[0].fsck: Input should be"),
    ],
)
def test_resource_fields_must_fit_the_kind(resource, expected):
    with pytest.raises(ConfigError) as caught:
        parse_config({"resource": [resource]})
    assert any(expected in p for p in caught.value.problems), caught.value.problems


def test_duplicate_names_and_shared_resources_are_rejected():
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "resource": [{"name": "a"}, {"name": "a"}],
                "group": [
                    {"name": "g1", "vhid": 1, "resources": ["a"]},
                    {"name": "g2", "vhid": 1, "resources": ["a"]},
                ],
            }
        )
    text = "\n".join(caught.value.problems)
    assert "resource 'a' is defined more than once" in text
    assert "group vhid '1' is defined more than once" in text
    assert "resource 'a' is in group 'g1' and 'g2'" in text


def test_commands_must_be_absolute_paths():
    with pytest.raises(ConfigError) as caught:
        parse_config({"commands": {"hastctl": "hastctl"}})
    assert "commands.hastctl must be an absolute path" in caught.value.problems[0]


def test_bad_interface_and_service_names_are_rejected():
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "group": [
                    {
                        "name": "g",
                        "vhid": 1,
                        "interface": "vt net0",
                        "resources": ["a"],
                        "services": ["ctld; rm -rf /"],
                    }
                ]
            }
        )
    text = "\n".join(caught.value.problems)
    assert "group[0].interface" in text
    assert "group[0].services[0]: String should match pattern" in text


def test_the_shipped_sample_config_is_valid():
    sample = Path(__file__).parents[2] / "conf" / "carpswitch.toml.sample"
    config = load_config(str(sample))
    assert config.group[0].services == ["ctld"]
    assert config.resource[0].kind is ResourceKind.ZFS
