"""The lab's `mount -p` lines and the controller's printer agree byte for byte."""

from __future__ import annotations

import pytest

from carpswitch.lab.commands.mount import putfsent
from carpswitch.lab.state import MountEntry
from carpswitch.model import Mount
from carpswitch.parse.mount import format_mount_p_line

ENTRIES = [
    MountEntry(device="/dev/ada0p2", mountpoint="/", options=["rw"]),
    MountEntry(device="/dev/hast/tank", mountpoint="/mnt/tank", options=["rw", "noatime"]),
    MountEntry(device="/dev/hast/t", mountpoint="/m", fstype="ufs", options=["ro"]),
    MountEntry(
        device="/dev/hast/a-very-long-provider-name",
        mountpoint="/srv/some/rather/deep/mount/point",
        options=["rw", "sync", "noexec"],
    ),
    MountEntry(device="tank/data", mountpoint="/tank/data", fstype="zfs", options=["rw"]),
    MountEntry(device="/dev/hast/données", mountpoint="/mnt/é", options=["rw"]),
]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.mountpoint)
def test_the_lab_prints_what_the_controller_parses(entry: MountEntry) -> None:
    numbers = (0, 0) if entry.fstype != "ufs" else ((1, 1) if entry.mountpoint == "/" else (2, 2))
    expected = format_mount_p_line(
        Mount(
            device=entry.device,
            mountpoint=entry.mountpoint,
            fstype=entry.fstype,
            options=tuple(entry.options),
            dump_freq=numbers[0],
            pass_number=numbers[1],
        )
    )
    assert putfsent(entry) == expected


def test_a_short_root_line_is_freebsds() -> None:
    assert putfsent(ENTRIES[0]) == "/dev/ada0p2\t\t/\t\t\tufs\trw\t\t1 1\n"
