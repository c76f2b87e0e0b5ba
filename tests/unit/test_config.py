"""carpswitch.toml: defaults, the documented shape, and errors that name file and key."""

import os
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
from carpswitch.tomlfile import MAX_BYTES

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
    assert config.timeouts.release == 300
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


def test_toml_syntax_error_names_the_file_and_line_once(tmp_path):
    problems = problems_of(tmp_path, "[node\nname = 1\n")
    assert problems == [
        "line 1, column 6: not valid TOML: Expected ']' at the end of a table declaration"
    ]


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
    assert problems == [
        "paths.dev_hst: unknown key "
        "(expected one of dev_hast, hast_conf, state_dir, run_dir, devd_socket, "
        "devd_conf, rc_conf_d, loader_conf_d, ctl_conf)",
        "resource[0]: kind zfs needs pool = NAME",
        'resource[1].kind: expected one of zfs, ufs, raw, not "nfs"',
        "group[0].vhid: expected an integer from 1 to 255, not 300",
    ]


def test_error_message_is_prefixed_with_the_file(tmp_path):
    path = write(tmp_path, '[[group]]\nname = "g"\nvhid = 1\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: group[0].resources: required key is missing"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"name": "d", "kind": "ufs"}, "kind ufs needs mountpoint = PATH"),
        (
            {"name": "d", "kind": "ufs", "mountpoint": "hast/d"},
            'resource[0].mountpoint: expected an absolute path (at most 1023 bytes), not "hast/d"',
        ),
        ({"name": "d", "kind": "raw", "pool": "p"}, "pool is only for kind zfs"),
        ({"name": "d", "kind": "zfs", "pool": "p", "mountpoint": "/m"}, "mountpoint is only for"),
        ({"name": "bad name", "kind": "raw"}, "resource[0].name: expected a HAST resource name"),
        ({"name": "d", "fsck": "maybe"}, "resource[0].fsck: expected one of refuse, preen, full"),
    ],
)
def test_resource_fields_must_fit_the_kind(resource, expected):
    with pytest.raises(ConfigError) as caught:
        parse_config({"resource": [resource]})
    assert len(caught.value.problems) == 1  # no follow-on message (a bad mountpoint is
    assert expected in caught.value.problems[0]  # not also "kind ufs needs mountpoint")


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
    assert caught.value.problems == [
        'commands.hastctl: expected an absolute path (at most 1023 bytes), not "hastctl"'
    ]


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
    assert caught.value.problems == [
        'group[0].interface: expected an interface name (at most 15 characters), not "vt net0"',
        'group[0].services[0]: expected an rc.d script name, not "ctld; rm -rf /"',
    ]


def test_the_shipped_sample_config_is_valid():
    sample = Path(__file__).parents[2] / "conf" / "carpswitch.toml.sample"
    config = load_config(str(sample))
    assert config.group[0].services == ["ctld"]
    assert config.resource[0].kind is ResourceKind.ZFS


# --- issue 8: what `check` refuses because it breaks at run time -----------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (  # item 26: true is not 1
            {"group": [{"name": "g", "vhid": True, "resources": ["a"]}]},
            "group[0].vhid: expected an integer from 1 to 255, not true",
        ),
        (
            {"timeouts": {"release": "30"}},
            'timeouts.release: expected seconds, more than 0 and at most 86400, not "30"',
        ),
        (  # settle = 1e308 held the lock forever
            {"intake": {"settle": 1e308}},
            "intake.settle: expected seconds from 0 to 86400, not 1e+308",
        ),
        (  # inf overflowed the runner's watchdog: the step ran unbounded
            {"timeouts": {"fsck": float("inf")}},
            "timeouts.fsck: expected seconds, more than 0 and at most 86400, not inf",
        ),
        (
            {"timeouts": {"role": 1e10}},
            "timeouts.role: expected seconds, more than 0 and at most 86400, not 10000000000.0",
        ),
        (
            {"timeouts": {"observe": float("nan")}},
            "timeouts.observe: expected seconds, more than 0 and at most 86400, not nan",
        ),
        (  # a typo in [commands] was silently ignored
            {"commands": {"hastclt": "/sbin/hastctl"}},
            "commands.hastclt: unknown command (expected one of hastctl, ifconfig, sysctl, "
            "mount, umount, fsck, zpool, zfs, service, logger, daemon, ssh, ping, watchdog)",
        ),
        (  # state_dir = "" put the journal in the current directory
            {"paths": {"state_dir": ""}},
            'paths.state_dir: expected an absolute path (at most 1023 bytes), not ""',
        ),
        (
            {"paths": {"run_dir": "var/run/carpswitch"}},
            "paths.run_dir: expected an absolute path (at most 1023 bytes), "
            'not "var/run/carpswitch"',
        ),
        (
            {"hooks": {"notify": "notify.sh"}},
            'hooks.notify: expected an absolute path (at most 1023 bytes), not "notify.sh"',
        ),
        (
            {"failover": {"max_failures": 10**6}},
            "failover.max_failures: expected an integer from 1 to 100, not 1000000",
        ),
        (
            {"node": {"name": "x" * 300}},
            "node.name: expected a node name as in hast.conf's `on` blocks, "
            'not "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."',
        ),
    ],
)
def test_values_that_break_at_run_time_are_refused_in_one_line(data, expected):
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert caught.value.problems == [expected]


@pytest.mark.parametrize(
    ("pool", "why"),
    [
        ("mirror", "reserve"),
        ("raidz2pool", "reserve"),
        ("draid", "reserve"),
        ("spare1", "reserve"),
        ("log", "reserve"),
        ("1tank", "begins with a letter"),
        ("_tank", "begins with a letter"),
        ("tank/data", "letters, digits"),
        ("tänk", "letters, digits"),
        ("t" * 240, "at most 239"),
        ("", "a pool name"),
    ],
)
def test_pool_names_are_what_zpool_accepts(pool, why):
    with pytest.raises(ConfigError) as caught:
        parse_config({"resource": [{"name": "tank", "kind": "zfs", "pool": pool}]})
    (problem,) = caught.value.problems
    assert problem.startswith("resource[0].pool: expected a pool name")
    assert why in problem


@pytest.mark.parametrize("pool", ["tank", "Tank-1", "data.pool:a b", "t" * 239, "logs", "raid"])
def test_pool_names_zpool_accepts_pass(pool):
    config = parse_config({"resource": [{"name": "tank", "kind": "zfs", "pool": pool}]})
    assert config.resource[0].pool == pool


def test_a_service_in_two_groups_is_refused():
    """Demoting one group stopped ctld under the other (issue 8, item 8)."""
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "group": [
                    {"name": "a", "vhid": 1, "resources": ["x"], "services": ["ctld"]},
                    {"name": "b", "vhid": 2, "resources": ["y"], "services": ["nfsd", "ctld"]},
                ]
            }
        )
    assert caught.value.problems == [
        "service 'ctld' is in group 'a' and 'b' (demoting one group would take it from the other)"
    ]


def test_a_settle_that_reaches_the_flap_limit_is_refused():
    with pytest.raises(ConfigError) as caught:
        parse_config({"intake": {"settle": 30}})
    assert caught.value.problems == [
        "intake.settle: expected less than intake.flap_limit (30 s), not 30: "
        "every event would count as flapping"
    ]
    assert parse_config({"intake": {"settle": 5, "flap_limit": 10}}).intake.settle == 5


def test_a_run_dir_too_long_for_the_daemon_socket_is_refused():
    run_dir = "/" + "r" * 91
    assert parse_config({"paths": {"run_dir": run_dir[:-1]}}).paths.run_dir == run_dir[:-1]
    with pytest.raises(ConfigError) as caught:
        parse_config({"paths": {"run_dir": run_dir}})
    (problem,) = caught.value.problems
    assert problem.startswith("paths.run_dir: expected a directory of at most 91 bytes")


def test_no_follow_on_message_after_a_field_error():
    """A bad vhid is one message, not also a duplicate or ownership complaint."""
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "group": [
                    {"name": "a", "vhid": 0, "resources": ["x"]},
                    {"name": "b", "vhid": 0, "resources": ["y"]},
                ]
            }
        )
    assert caught.value.problems == [
        "group[0].vhid: expected an integer from 1 to 255, not 0",
        "group[1].vhid: expected an integer from 1 to 255, not 0",
    ]


# --- issue 8, item 25: files that are not a carpswitch.toml ---------------------------


def test_a_file_that_is_not_utf8_names_the_file_and_line(tmp_path):
    path = tmp_path / "carpswitch.toml"
    path.write_bytes(b'[node]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    assert str(caught.value) == f"{path}: line 2: not UTF-8 text (byte 0xe9)"


def test_deeply_nested_toml_is_a_config_error_not_a_recursion_error(tmp_path):
    path = tmp_path / "carpswitch.toml"
    path.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    assert caught.value.problems == ["not valid TOML: arrays or tables nested too deeply"]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "carpswitch.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as caught:
        load_config(str(fifo))  # a blocking open() would hang here (pytest-timeout)
    assert str(caught.value) == f"{fifo}: a FIFO, not a regular file"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/dev/zero", "/dev/zero: a character device, not a regular file"),
        ("/", "/: a directory, not a regular file"),
        ("", "'': the config path is empty"),
    ],
)
def test_paths_that_are_not_a_config_file_are_refused(path, expected):
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == expected


def test_a_symlink_to_a_regular_file_is_followed(tmp_path):
    real = tmp_path / "real.toml"
    real.write_text('[node]\nname = "hasta"\n')
    link = tmp_path / "carpswitch.toml"
    link.symlink_to(real)
    assert load_config(str(link)).node.name == "hasta"


def test_a_huge_file_is_refused_unread(tmp_path):
    path = tmp_path / "carpswitch.toml"
    path.write_text("#" * (MAX_BYTES + 1))
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        load_config(str(path))


def test_an_empty_explicit_path_is_not_the_default_file():
    assert config_path("", {"CARPSWITCH_CONFIG": "/env.toml"}) == ""


def test_a_key_with_a_line_break_stays_on_one_line():
    with pytest.raises(ConfigError) as caught:
        parse_config({"bad\nkey": 1, "node": {"\x1b[31m": 2}})
    assert all("\n" not in p and "\x1b" not in p for p in caught.value.problems)
    assert caught.value.problems[0].startswith('"bad\\nkey": unknown key')
