"""hastctl status / hastctl list parsers against exact hastctl output."""

import json
from pathlib import Path

import pytest

from carpswitch.errors import ParseError
from carpswitch.model import HastReplication, HastRole, HastStatus
from carpswitch.parse.hastctl import (
    STATUS_HEADER,
    parse_hastctl_list,
    parse_hastctl_status,
    parse_role_errors,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
STATUS_CASES = sorted(path.stem for path in (FIXTURES / "hastctl_status").glob("*.txt"))
LIST_CASES = sorted(path.stem for path in (FIXTURES / "hastctl_list").glob("*.txt"))

HEADER = STATUS_HEADER + "\n"
SHARED_ROW = "shared\tcomplete primary        /dev/ada1\t10.0.0.2\n"
PRIMARY_LIST = (FIXTURES / "hastctl_list" / "primary_connected_doc_example.txt").read_text()


def expected_of(directory: str, case: str) -> object:
    return json.loads((FIXTURES / directory / f"{case}.json").read_text())


def text_of(directory: str, case: str) -> str:
    return (FIXTURES / directory / f"{case}.txt").read_text()


def test_fixture_directories_hold_cases():
    assert "interfaces_doc_example" in STATUS_CASES
    assert "primary_connected_doc_example" in LIST_CASES


@pytest.mark.parametrize("case", STATUS_CASES)
def test_status_fixture_parses_to_its_json(case):
    resources = parse_hastctl_status(text_of("hastctl_status", case))
    assert [r.model_dump(mode="json") for r in resources] == expected_of("hastctl_status", case)


@pytest.mark.parametrize("case", LIST_CASES)
def test_list_fixture_parses_to_its_json(case):
    resources = parse_hastctl_list(text_of("hastctl_list", case))
    assert [r.model_dump(mode="json") for r in resources] == expected_of("hastctl_list", case)


# --- hastctl status ------------------------------------------------------------------------


def test_status_row_with_err1_is_an_unknown_resource():
    [resource] = parse_hastctl_status(HEADER + "foo\tERR1\n")
    assert resource.name == "foo"
    assert resource.error == 1
    assert resource.role is None


def test_status_dash_means_no_worker_status():
    [resource] = parse_hastctl_status(
        HEADER + "test\t-        secondary      /dev/ada2\t10.0.0.1\n"
    )
    assert resource.status is None
    assert resource.role is HastRole.SECONDARY


def test_status_role_unknown_is_accepted():
    [resource] = parse_hastctl_status(HEADER + "r\t-        unknown        /dev/ada2\tnone\n")
    assert resource.role is HastRole.UNKNOWN


def test_status_empty_output_means_no_resources():
    assert parse_hastctl_status("") == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("garbage\n", "expected header"),
        ("\n", "expected header"),
        (HEADER, "header without any resource row"),
        (HEADER + SHARED_ROW[:-1], "ends mid-line"),
        (HEADER + SHARED_ROW[:20], "ends mid-line"),
        (HEADER[:12], "ends mid-line"),
        (HEADER + SHARED_ROW[:25] + "\n", "9 + 15 columns"),
        (HEADER + "shared\tcomplete primary        /dev/ada1\n", "LOCALPATH<TAB>REMOTEADDR"),
        ("Name    Status   Role           Components\n" + SHARED_ROW, "expected header"),
        (HEADER + "shared complete primary        /dev/ada1\t10.0.0.2\n", "NAME<TAB>"),
        (HEADER + "shared\tcomplete\tprimary        /dev/ada1\t10.0.0.2\n", "9 + 15 columns"),
        (HEADER + "shared\tcomplete primary\t/dev/ada1\t10.0.0.2\n", "9 + 15 columns"),
        (HEADER + "shared\tcomplete primary        /dev/ada1 10.0.0.2\n", "LOCALPATH<TAB>"),
        (HEADER + "shared\tcomplete primary        /dev/ada1\t10.0.0.2\textra\n", "LOCALPATH<TAB>"),
        (HEADER + "shared\tsyncing  primary        /dev/ada1\t10.0.0.2\n", "unknown status"),
        (HEADER + "shared\tcomplete boss           /dev/ada1\t10.0.0.2\n", "unknown role"),
        (HEADER + "shared\tERR0\n", "bad per-resource error code"),
        (HEADER + "shared\tERRx\n", "bad per-resource error code"),
        (HEADER + "\tERR1\n", "NAME<TAB>"),
        (HEADER + SHARED_ROW + "\n", "NAME<TAB>"),
    ],
)
def test_status_malformed_output_raises_parse_error_naming_hastctl_status(text, reason):
    with pytest.raises(ParseError) as caught:
        parse_hastctl_status(text)
    assert caught.value.source == "hastctl status"
    assert "hastctl status" in str(caught.value)
    assert reason in caught.value.reason


def test_status_error_names_the_line_number():
    with pytest.raises(ParseError) as caught:
        parse_hastctl_status(HEADER + SHARED_ROW + "bad row\n")
    assert caught.value.line == 3


# --- hastctl list --------------------------------------------------------------------------


def test_list_reads_worker_pid_dirty_bytes_and_queues():
    [resource] = parse_hastctl_list(PRIMARY_LIST)
    assert resource.worker_pid == 1234
    assert resource.extent_size == 2097152
    assert resource.replication is HastReplication.MEMSYNC
    assert resource.status is HastStatus.COMPLETE
    assert resource.statistics is not None
    assert resource.statistics.queues is not None
    assert resource.statistics.queues.idle == 256


def test_list_without_worker_has_no_status_and_no_worker_pid():
    without = PRIMARY_LIST.replace("  status: complete\n", "").replace("  workerpid: 1234\n", "")
    [resource] = parse_hastctl_list(without)
    assert resource.status is None
    assert resource.worker_pid is None


def test_list_source_address_is_read_when_configured():
    text = PRIMARY_LIST.replace(
        "  remoteaddr: 10.0.0.2\n", "  remoteaddr: 10.0.0.2\n  sourceaddr: 10.0.0.1\n"
    )
    [resource] = parse_hastctl_list(text)
    assert resource.source_address == "10.0.0.1"


def test_list_pre_2013_output_has_no_local_errors_or_queues():
    old = "".join(
        line + "\n"
        for line in PRIMARY_LIST.splitlines()
        if not line.startswith(("    local errors", "    queues", "  workerpid"))
    )
    [resource] = parse_hastctl_list(old)
    assert resource.statistics is not None
    assert resource.statistics.local_errors is None
    assert resource.statistics.queues is None
    assert resource.worker_pid is None


def test_list_error_block_is_an_unknown_resource():
    resources = parse_hastctl_list("a:\n  error: 1\nb:\n  error: 3\n")
    assert [(r.name, r.error) for r in resources] == [("a", 1), ("b", 3)]


def test_list_empty_output_means_no_resources():
    assert parse_hastctl_list("") == []


def _replace(old: str, new: str) -> str:
    assert old in PRIMARY_LIST
    return PRIMARY_LIST.replace(old, new)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("garbage\n", "resource header"),
        ("\n", "resource header"),
        (PRIMARY_LIST[:-1], "ends mid-line"),
        (PRIMARY_LIST[:100], "ends mid-line"),
        (PRIMARY_LIST.split("  dirty:")[0], "missing dirty, statistics"),
        ("shared:\n", "missing role"),
        (_replace("  dirty: 0 (0B)\n", ""), "expected 'dirty'"),
        (_replace("  role: primary", "  role: boss"), "unknown role"),
        (_replace("  status: complete", "  status: syncing"), "unknown status"),
        (_replace("memsync", "quicksync"), "unknown replication"),
        (_replace("  extentsize: 2097152 (2.0MB)", "  extentsize: 2097152"), "extentsize"),
        (_replace("  extentsize: 2097152 (2.0MB)", "  extentsize: 2.0MB"), "extentsize"),
        (_replace("  keepdirty: 64", "  keepdirty: -1"), "expected a number"),
        (_replace("    reads: 19", "    reads: many"), "expected a number"),
        (_replace("  workerpid: 1234", "  workerpid: 1234 5"), "expected a number"),
        (_replace("  localpath: /dev/ada1", "  localpath: /dev/ada 1"), "one word"),
        (_replace("  statistics:", "  statistics: 5"), "nothing after the colon"),
        (_replace("    reads", "  reads"), "expected 'reads'"),
        (_replace("  role", "\trole"), "missing role"),
        (_replace("read: 0, write: 0", "read: 0 write: 0"), "local errors"),
        (_replace("idle: 256", "idle: 256, spare: 1"), "queues"),
        (PRIMARY_LIST + "    extra: 1\n", "unexpected line"),
        ("shared:\n  error: 0\n", "bad per-resource error code"),
        ("shared:\n  error: 1\n  role: init\n", "expected 'role'"),
        ("shared\n  error: 1\n", "resource header"),
        ("Name\tStatus\t Role\t\tComponents\nshared\tERR1\n", "resource header"),
    ],
)
def test_list_malformed_output_raises_parse_error_naming_hastctl_list(text, reason):
    with pytest.raises(ParseError) as caught:
        parse_hastctl_list(text)
    assert caught.value.source == "hastctl list"
    assert "hastctl list" in str(caught.value)
    assert reason in caught.value.reason


def test_role_errors_name_each_resource_hastd_refused():
    """hastctl.c control_set_role: `[WARNING] [NAME] Received error N from hastd.` per
    failed name on stderr (freebsd-interfaces.md 1.3); other lines name nobody."""
    stderr = (
        "[WARNING] [foo] Received error 1 from hastd.\n"
        "[WARNING] [shared-2] Received error 2 from hastd.\n"
        "[ERROR] Unable to connect to hastd via uds: No such file or directory.\n"
    )
    assert parse_role_errors(stderr) == {"foo": 1, "shared-2": 2}
    assert parse_role_errors("[ERROR] Error 5 received from hastd.\n") == {}
