"""mount -p parser and its byte-exact printer (putfsent)."""

import json
from pathlib import Path

import pytest

from carpswitch.errors import ParseError
from carpswitch.model import Mount
from carpswitch.parse.mount import format_mount_p_line, parse_mount_p

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mount_p"
CASES = sorted(path.stem for path in FIXTURES.glob("*.txt"))
LINES = (FIXTURES / "ufs_zfs_and_long_names.txt").read_text()
ROOT = "/dev/ada0p2\t\t/\t\t\tufs\trw\t\t1 1\n"  # every real table has it


def last_mount(line):
    """Parse one line as FreeBSD would print it: after the root file system."""
    return parse_mount_p(ROOT + line)[-1]


def test_fixture_directory_holds_cases():
    assert "ufs_zfs_and_long_names" in CASES


@pytest.mark.parametrize("case", CASES)
def test_fixture_parses_to_its_json(case):
    mounts = parse_mount_p((FIXTURES / f"{case}.txt").read_text())
    expected = json.loads((FIXTURES / f"{case}.json").read_text())
    assert [mount.model_dump(mode="json") for mount in mounts] == expected


@pytest.mark.parametrize("line", LINES.splitlines(keepends=True))
def test_printing_a_parsed_line_gives_the_same_bytes(line):
    assert format_mount_p_line(last_mount(line)) == line


@pytest.mark.parametrize(
    ("mount", "line"),
    [
        (
            Mount(device="/dev/ada0p2", mountpoint="/", fstype="ufs", dump_freq=1, pass_number=1),
            "/dev/ada0p2\t\t/\t\t\tufs\trw\t\t1 1\n",
        ),
        (
            Mount(device="devfs", mountpoint="/dev", fstype="devfs", options=("rw", "multilabel")),
            "devfs\t\t\t/dev\t\t\tdevfs\trw,multilabel \t0 0\n",
        ),
        (
            Mount(device="d" * 7, mountpoint="m" * 8, fstype="ufs", options=("rw", "sync")),
            "ddddddd\t\t\tmmmmmmmm\t\tufs\trw,sync\t\t0 0\n",
        ),
        (
            Mount(device="d" * 15, mountpoint="m" * 16, fstype="ufs", options=("rw", "noexec")),
            "ddddddddddddddd\t\tmmmmmmmmmmmmmmmm\tufs\trw,noexec \t0 0\n",
        ),
        (
            Mount(device="d" * 23, mountpoint="m" * 24, fstype="zfs", options=("ro",)),
            "ddddddddddddddddddddddd\tmmmmmmmmmmmmmmmmmmmmmmmm zfs\tro\t\t0 0\n",
        ),
    ],
)
def test_printer_pads_like_putfsent_at_each_width_boundary(mount, line):
    assert format_mount_p_line(mount) == line
    assert last_mount(line) == mount


def test_padding_counts_bytes_not_characters():
    mount = Mount(device="/dev/é", mountpoint="/mnt/ééé", fstype="ufs")
    # "/dev/é" is 7 bytes (< 8: three tabs); "/mnt/ééé" is 11 bytes (< 16: two tabs).
    assert format_mount_p_line(mount) == "/dev/é\t\t\t/mnt/ééé\t\tufs\trw\t\t0 0\n"


def test_whitespace_runs_of_any_width_separate_fields():
    mount = last_mount("/dev/hast/shared /hast/shared ufs rw,noatime 2 2\n")
    assert mount.options == ("rw", "noatime")
    assert (mount.dump_freq, mount.pass_number) == (2, 2)


@pytest.mark.parametrize(
    "text", ["", "/dev/hast/data\t\t/hast/data\t\tufs\trw\t\t2 2\n", LINES.split("\n")[1] + "\n"]
)
def test_a_table_without_the_root_file_system_is_unread_not_empty(text):
    """`mount -p` exiting 0 with nothing (review F2) must not read as "nothing mounted"."""
    with pytest.raises(ParseError) as caught:
        parse_mount_p(text)
    assert caught.value.source == "mount -p"
    assert "no root file system (/)" in caught.value.reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("garbage\n", "expected 6 fields"),
        ("\n", "expected 6 fields"),
        (LINES[:-1], "ends mid-line"),
        (LINES[:30], "ends mid-line"),
        ("/dev/ada0p2\t\t/\t\t\tufs\trw\t\t1\n", "expected 6 fields"),
        ("/dev/ada0p2\t\t/\t\t\tufsrw\t\t1 1\n", "expected 6 fields"),
        ("\t/dev/ada0p2\t\t/\t\t\tufs\trw\t\t1 1\n", "expected 6 fields"),
        ("/dev/ada0p2\t\t/\t\t\tufs\trw\t\t1 1\t\n", "expected 6 fields"),
        ("/mnt/my disk\t/mnt\tufs\trw\t\t0 0\n", "expected 6 fields"),
        ("/dev/ada0p2\t\t/\t\t\tufs\trw\t\tone 1\n", "must be numbers"),
        ("/dev/ada0p2\t\t/\t\t\tufs\trw\t\t-1 1\n", "must be numbers"),
        ("/dev/ada0p2\t\t/\t\t\tufs\trw,,noatime \t1 1\n", "empty mount option"),
    ],
)
def test_malformed_output_raises_parse_error_naming_mount_p(text, reason):
    with pytest.raises(ParseError) as caught:
        parse_mount_p(text)
    assert caught.value.source == "mount -p"
    assert "mount -p" in str(caught.value)
    assert reason in caught.value.reason
