"""zpool list -H -o name,health."""

import json
from pathlib import Path

import pytest

from carpswitch.errors import ParseError
from carpswitch.model import PoolHealth
from carpswitch.parse.zpool import parse_zpool_list

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "zpool_list"
CASES = sorted(path.stem for path in FIXTURES.glob("*.txt"))


def test_fixture_directory_holds_cases():
    assert "two_pools" in CASES


@pytest.mark.parametrize("case", CASES)
def test_fixture_parses_to_its_json(case):
    pools = parse_zpool_list((FIXTURES / f"{case}.txt").read_text())
    expected = json.loads((FIXTURES / f"{case}.json").read_text())
    assert [pool.model_dump(mode="json") for pool in pools] == expected


@pytest.mark.parametrize("health", list(PoolHealth))
def test_every_openzfs_health_is_read(health):
    [pool] = parse_zpool_list(f"tank\t{health.value}\n")
    assert pool.health is health


def test_empty_output_means_no_pools_imported():
    assert parse_zpool_list("") == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("garbage\n", "expected NAME<TAB>HEALTH"),
        ("\n", "expected NAME<TAB>HEALTH"),
        ("tank\tONLINE", "ends mid-line"),
        ("tank\tONLINE\nbackup\tDEGR", "ends mid-line"),
        ("tank ONLINE\n", "expected NAME<TAB>HEALTH"),
        ("tank\t\tONLINE\n", "expected NAME<TAB>HEALTH"),
        ("tank\tONLINE\t-\n", "expected NAME<TAB>HEALTH"),
        ("\tONLINE\n", "expected NAME<TAB>HEALTH"),
        ("NAME\tHEALTH\n", "unknown health"),
        ("tank\tonline\n", "unknown health"),
        ("tank\tDEGR\n", "unknown health"),
    ],
)
def test_malformed_output_raises_parse_error_naming_zpool_list(text, reason):
    with pytest.raises(ParseError) as caught:
        parse_zpool_list(text)
    assert caught.value.source == "zpool list -H -o name,health"
    assert "zpool list" in str(caught.value)
    assert reason in caught.value.reason
