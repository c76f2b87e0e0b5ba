"""The lab's lean records: what the pydantic models checked, without pydantic."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from carpswitch.lab.faults import Fault, FaultPlanError, load_plan, save_plan
from carpswitch.lab.paths import NodePaths
from carpswitch.lab.records import RecordError, dumps, loads
from carpswitch.lab.state import (
    HastKnobState,
    Interface,
    NetworkState,
    StateStore,
    SysctlState,
    Vhid,
)

NETWORK = NetworkState(
    interfaces=[
        Interface(
            name="vtnet0",
            ether="58:9c:fc:00:00:01",
            address="198.18.0.1",
            broadcast="198.18.0.255",
            vhids=[Vhid(vhid=1, state="MASTER", address="198.18.0.100")],
        )
    ]
)


def test_a_record_survives_a_round_trip() -> None:
    assert loads(NetworkState, dumps(NETWORK, indent=1)) == NETWORK


def test_the_file_format_is_pydantics_indented_json() -> None:
    text = dumps(SysctlState(values={"kern.hostname": "hasta", "net.inet.carp.demotion": 0}), 1)
    assert text == (
        '{\n "values": {\n  "kern.hostname": "hasta",\n  "net.inet.carp.demotion": 0\n },\n'
        ' "boottime_sec": 0,\n "boottime_usec": 0\n}'
    )


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"interfaces": [], "extra": 1}, "unknown field(s) extra"),
        ({"interfaces": [{"name": "vtnet0"}]}, "interfaces[0].ether: missing"),
        ({"interfaces": "vtnet0"}, "expected a list"),
    ],
)
def test_unknown_missing_and_mistyped_fields_are_refused(document, problem) -> None:
    with pytest.raises(RecordError, match=re.escape(problem)):
        loads(NetworkState, json.dumps(document))


def vhid_document(**changes: object) -> str:
    interface = json.loads(dumps(NETWORK))["interfaces"][0]
    interface["vhids"][0].update(changes)
    return json.dumps({"interfaces": [interface]})


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"vhid": 0}, "must be >= 1"),
        ({"vhid": 256}, "must be <= 255"),
        ({"vhid": True}, "expected int"),
        ({"vhid": "1"}, "expected int"),
        ({"state": "PRIMARY"}, "expected one of"),
        ({"advskew": 255}, "must be <= 254"),
        ({"suppressed": 1}, "expected bool"),
    ],
)
def test_bounds_choices_and_types_of_a_nested_field_are_checked(changes, problem) -> None:
    with pytest.raises(RecordError, match=problem):
        loads(NetworkState, vhid_document(**changes))


def test_unions_and_floats_take_what_json_gives() -> None:
    knobs = loads(
        HastKnobState,
        '{"resources": {"tank": {"io_wait_seconds": 1, "io_waits_until": null, "dirty": 5}}}',
    )
    tank = knobs.knobs("tank")
    assert (tank.io_wait_seconds, tank.io_waits_until, tank.dirty) == (1.0, None, 5)
    assert isinstance(tank.io_wait_seconds, float)
    values = loads(SysctlState, '{"values": {"a": 1, "b": "x"}}').values
    assert values == {"a": 1, "b": "x"}
    with pytest.raises(RecordError):
        loads(SysctlState, '{"values": {"a": 1.5}}')


def test_a_state_change_that_breaks_the_record_never_reaches_the_file(tmp_path: Path) -> None:
    paths = NodePaths.of(tmp_path)
    paths.state.mkdir()
    store = StateStore(paths)
    with store.locked():
        store.write(NETWORK)
    with pytest.raises(RecordError), store.update(NetworkState) as network:
        network.interfaces[0].vhids[0].vhid = 300
    assert store.read(NetworkState) == NETWORK


def test_a_fault_is_checked_when_built() -> None:
    with pytest.raises(RecordError, match="regular expression"):
        Fault(command="hastctl", args="(")
    with pytest.raises(RecordError, match="must be <= 255"):
        Fault(command="hastctl", exit=256)
    with pytest.raises(RecordError, match="command"):
        Fault(command="")


def test_a_plan_keeps_only_what_differs_from_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    plan = [Fault(command="zpool", args="^import", exit=1), Fault(command="mount", hang=2.5)]
    save_plan(path, plan)
    assert json.loads(path.read_text()) == [
        {"command": "zpool", "args": "^import", "exit": 1},
        {"command": "mount", "hang": 2.5},
    ]
    assert load_plan(path) == plan


def test_a_bad_plan_names_the_entry_and_field(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text('[{"command": "hastctl"}, {"command": "hastctl", "exit": "soon"}]')
    with pytest.raises(FaultPlanError, match=r"1\.exit: expected int"):
        load_plan(path)
    path.write_text('{"command": "hastctl"}')
    with pytest.raises(FaultPlanError, match="expected a list"):
        load_plan(path)
