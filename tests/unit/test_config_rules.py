"""The hook's stdlib rules and carpswitch.config's loader accept and reject alike.

The hook refuses a config with config_rules alone; the worker it starts builds
carpswitch.config.Config from what passed them. If the two disagreed, the hook would hand
events to a worker that refuses the config (the event waits forever), or refuse a config
the worker would run. So every key gets many wrong (and some right) values, and both
readers must agree on each: each config the rules pass builds, holding the file's values.
(The tables were pydantic models checked a second time; they are now built from what
config_rules passed, see carpswitch.config_section.)
"""

from __future__ import annotations

import copy
import datetime
import itertools
from typing import Any

import pytest

from carpswitch import config_rules
from carpswitch.config import Config, GroupConfig, ResourceConfig, parse_config
from carpswitch.config_rules import ARRAYS, TABLES, config_problems
from carpswitch.config_section import as_toml
from carpswitch.errors import ConfigError

VALID: dict[str, Any] = {
    "node": {"name": "hasta"},
    "paths": {
        "dev_hast": "/dev/hast",
        "hast_conf": "/etc/hast.conf",
        "state_dir": "/var/db/carpswitch",
        "run_dir": "/var/run/carpswitch",
        "devd_socket": "/var/run/devd.seqpacket.pipe",
    },
    "commands": {"hastctl": "/sbin/hastctl"},
    "timeouts": {"release": 300, "umount_grace": 5, "import": 120},
    "failover": {"demotion": 240, "force_backup": True, "max_failures": 3},
    "hooks": {"notify": "/usr/local/libexec/notify"},
    "intake": {"settle": 1, "flap_limit": 30, "timer": 30},
    "resource": [
        {"name": "tank", "kind": "zfs", "pool": "tank"},
        {"name": "data", "kind": "ufs", "mountpoint": "/hast/data", "mount_options": ["ro"]},
    ],
    "group": [
        {
            "name": "storage",
            "vhid": 1,
            "interface": "vtnet0",
            "resources": ["tank", "data"],
            "services": ["ctld"],
        }
    ],
}

#: Values every key is tried with: TOML's types, bounds, odd strings.
CANDIDATES: list[object] = [
    True,
    False,
    0,
    -1,
    1,
    240,
    241,
    255,
    256,
    86400,
    86401,
    10**10,
    0.0,
    0.5,
    -0.5,
    86400.0,
    86400.5,
    1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    "",
    "x",
    "zfs",
    "ufs",
    "raw",
    "full",
    "tank",
    "mirror",
    "1tank",
    "/abs/path",
    "relative/path",
    "a b",
    "ctld; rm -rf /",
    "vtnet0",
    "x" * 16,
    "x" * 300,
    "/" + "p" * 1100,
    "/" + "s" * 110,
    "/with\0nul",
    "tänk",
    [],
    ["tank"],
    ["a", "a"],
    [1],
    ["bad name"],
    {},
    {"a": 1},
    datetime.date(2024, 1, 1),
    datetime.time(12, 0),
]


def loader_accepts(data: dict[str, Any]) -> bool:
    """Whether carpswitch.config builds `data`, and then holds the very values of the file."""
    try:
        config = parse_config(data)
    except ConfigError:
        return False
    assert _holds(as_toml(config), data)
    return True


def _holds(built: Any, written: Any) -> bool:
    """Whether `built` has every value the file wrote (its other keys are defaults)."""
    if isinstance(written, dict):
        return isinstance(built, dict) and all(
            key in built and _holds(built[key], value) for key, value in written.items()
        )
    if isinstance(written, list) and isinstance(built, list):
        return len(built) == len(written) and all(map(_holds, built, written))
    return bool(built == written and type(built) in (type(written), float))


def variants() -> list[tuple[str, dict[str, Any]]]:
    """VALID with one key changed (or added, or removed), for every key and candidate."""
    cases: list[tuple[str, dict[str, Any]]] = [("valid", VALID), ("empty", {})]
    for table, keys in TABLES.items():
        for key, value in itertools.product([*keys, "bogus"], CANDIDATES):
            data = copy.deepcopy(VALID)
            data.setdefault(table, {})[key] = value
            cases.append((f"{table}.{key}={value!r}", data))
    for array, keys in ARRAYS.items():
        for index, entry in enumerate(VALID[array]):
            for key, value in itertools.product([*keys, "bogus"], CANDIDATES):
                data = copy.deepcopy(VALID)
                data[array][index][key] = value
                cases.append((f"{array}[{index}].{key}={value!r}", data))
            for key in entry:
                data = copy.deepcopy(VALID)
                del data[array][index][key]
                cases.append((f"{array}[{index}] without {key}", data))
    for name, value in itertools.product(["hastctl", "hastclt", "zpool", "gpart"], CANDIDATES):
        data = copy.deepcopy(VALID)
        data["commands"] = {name: value}
        cases.append((f"commands.{name}={value!r}", data))
    for top, value in itertools.product([*TABLES, *ARRAYS, "commands", "bogus"], CANDIDATES):
        data = copy.deepcopy(VALID)
        data[top] = value
        cases.append((f"{top}={value!r}", data))
    return cases


CASES = variants()


def test_there_are_many_cases_and_both_kinds_of_answer():
    answers = [not config_problems(data) for _name, data in CASES]
    assert len(CASES) > 2000
    assert answers.count(True) > 50 and answers.count(False) > 1500


@pytest.mark.parametrize(("name", "data"), CASES, ids=[name for name, _data in CASES])
def test_the_hook_rules_and_the_loader_agree(name, data):
    problems = config_problems(data)
    assert loader_accepts(data) == (not problems), problems


@pytest.mark.parametrize(
    "data",
    [
        {"resource": [{"name": "a"}, {"name": "a"}]},
        {"group": [{"name": "g", "vhid": 1, "resources": ["a"]}] * 2},
        {
            "group": [
                {"name": "g", "vhid": 1, "resources": ["a"], "services": ["ctld"]},
                {"name": "h", "vhid": 2, "resources": ["b"], "services": ["ctld"]},
            ]
        },
        {"intake": {"settle": 2, "flap_limit": 2}},
        {"resource": [{"name": "a", "kind": "ufs"}]},
        {"resource": [{"name": "a", "pool": "tank"}]},
        {"paths": {"run_dir": "/" + "r" * 100}},
    ],
)
def test_cross_key_problems_are_refused_by_both(data):
    assert config_problems(data)
    assert not loader_accepts(data)


def test_the_socket_name_is_the_daemons():
    from carpswitch.intake.wire import INTAKE_SOCKET_NAME

    assert config_rules.INTAKE_SOCKET_NAME == INTAKE_SOCKET_NAME


def test_the_tables_are_the_models_fields():
    assert set(Config._fields) == {*TABLES, *ARRAYS, "commands", "cluster"}
    for table, keys in TABLES.items():
        section = type(getattr(Config(), table))
        names = {section._keys.get(name, name) for name in section._fields}
        assert names == set(keys), table
    for array, model in (("resource", ResourceConfig), ("group", GroupConfig)):
        assert set(model._fields) == set(ARRAYS[array]), array


def test_the_hook_path_imports_no_pydantic():
    import subprocess
    import sys

    code = (
        "import sys, carpswitch.intake.settings; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
