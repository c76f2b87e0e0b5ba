"""bench.cmdlog: the lab's command log, the runner's debug lines, busy time, labels."""

from __future__ import annotations

import pytest

from bench.cmdlog import (
    Command,
    busy_time,
    changes_node,
    counts,
    label,
    pair_up,
    parse_command_log,
    parse_runner_line,
    parse_runner_lines,
    within,
)
from carpswitch.lab.meter import log_line

#: Exactly as carpswitch -vv prints them on a terminal (carpswitch.system.runner, logsetup).
RUNNER_LINES = """\
carpswitch: DEBUG: run /n/bin/hastctl list -c /n/etc/hast.conf: exit 0 in 0.344 s
carpswitch: INFO: promote storage: guard ok in 0.38s: check that r2 is configured here
carpswitch: DEBUG: run /n/bin/hastctl role -c /n/etc/hast.conf primary r2: exit 0 in 0.326 s
carpswitch: DEBUG: run /n/bin/umount /n/mnt/r1: exit 1 in 1.500 s (timed out)
carpswitch[4242]: run /n/bin/mount -p: exit 0 in 0.012 s
"""


def cmd(start: float, elapsed: float, *argv: str) -> Command:
    return Command(start, elapsed, argv)


def test_runner_lines_become_commands_ending_when_read():
    found = parse_runner_lines((100.0, line) for line in RUNNER_LINES.splitlines(True))
    assert [c.argv for c in found] == [
        ("/n/bin/hastctl", "list", "-c", "/n/etc/hast.conf"),
        ("/n/bin/hastctl", "role", "-c", "/n/etc/hast.conf", "primary", "r2"),
        ("/n/bin/umount", "/n/mnt/r1"),
        ("/n/bin/mount", "-p"),
    ]
    assert [c.elapsed for c in found] == [0.344, 0.326, 1.5, 0.012]
    assert found[0].start == pytest.approx(100.0 - 0.344)
    assert found[0].end == pytest.approx(100.0)
    assert [c.name for c in found] == ["hastctl", "hastctl", "umount", "mount"]


def test_a_pty_line_ending_and_other_log_lines_are_handled():
    line = "carpswitch: DEBUG: run /n/bin/sysctl -n kern.boottime: exit 0 in 0.250 s\r\n"
    found = parse_runner_line(line, 5.0)
    assert found == Command(4.75, 0.25, ("/n/bin/sysctl", "-n", "kern.boottime"))
    assert parse_runner_line("carpswitch: DEBUG: run /n/bin/x: not found\n", 5.0) is None
    assert parse_runner_line("promote storage: succeeded\n", 5.0) is None


def test_the_lab_command_log_is_read_back_with_its_quoting():
    text = (
        log_line(1764604606.5, 0.0123, "hastctl", ["role", "primary", "tank"])
        + log_line(1764604607.0, 0.05, "sysctl", ["net.inet.carp.demotion=-240"])
        + log_line(1764604607.5, 0.05, "service", ["it's", "a b"])
        + "1764604608.0 0.0"  # cut short by a kill: skipped
    )
    found = parse_command_log(text)
    assert found == [
        cmd(1764604606.5, 0.0123, "hastctl", "role", "primary", "tank"),
        cmd(1764604607.0, 0.05, "sysctl", "net.inet.carp.demotion=-240"),
        cmd(1764604607.5, 0.05, "service", "it's", "a b"),
    ]


def test_busy_time_is_the_union_of_parallel_commands_clipped_to_the_run():
    commands = [cmd(1.0, 2.0, "a"), cmd(2.0, 2.0, "b"), cmd(5.0, 1.0, "c"), cmd(9.5, 2.0, "d")]
    assert busy_time(commands, 0.0, 10.0) == pytest.approx(3.0 + 1.0 + 0.5)
    assert busy_time(commands, 1.5, 2.5) == pytest.approx(1.0)
    assert busy_time([cmd(1.0, 5.0, "a"), cmd(2.0, 1.0, "b")], 0.0, 10.0) == pytest.approx(5.0)
    assert busy_time([], 0.0, 10.0) == 0.0


def test_within_keeps_the_commands_started_in_a_run():
    commands = [cmd(0.5, 1.0, "a"), cmd(1.0, 1.0, "b"), cmd(3.0, 1.0, "c")]
    assert [c.name for c in within(commands, 1.0, 2.0)] == ["b"]


@pytest.mark.parametrize(
    ("argv", "expected", "changes"),
    [
        (("/n/bin/hastctl", "list", "-c", "/n/etc/hast.conf"), "hastctl list", False),
        (("/n/bin/hastctl", "role", "-c", "/n/hast.conf", "primary", "r1"), "hastctl role", True),
        (("hastctl", "role", "primary", "r1"), "hastctl role", True),
        (("mount", "-p"), "mount -p", False),
        (("mount",), "mount (list)", False),
        (("mount", "-t", "ufs", "/dev/hast/r1", "/mnt/r1"), "mount", True),
        (("mount", "/dev/hast/r1", "/hast/r1"), "mount", True),
        (("umount", "-f", "/hast/r1"), "umount", True),
        (("fsck", "-p", "-y", "-t", "ufs", "/dev/hast/r1"), "fsck", True),
        (("zpool", "list", "-H", "-o", "name,health"), "zpool list", False),
        (("zpool", "import", "-f", "-N", "tank"), "zpool import", True),
        (("service", "ctld", "onestatus"), "service onestatus", False),
        (("service", "ctld", "onestart"), "service onestart", True),
        (("sysctl", "-n", "net.inet.carp.demotion"), "sysctl", False),
        (("sysctl", "net.inet.carp.demotion=240"), "sysctl set", True),
        (("ifconfig", "vtnet0"), "ifconfig", False),
        (("ifconfig", "vtnet0", "vhid", "1", "state", "backup"), "ifconfig set", True),
    ],
)
def test_labels_say_what_a_command_does_and_whether_it_changes_the_node(argv, expected, changes):
    command = Command(0.0, 0.1, argv)
    assert label(command) == expected
    assert changes_node(command) is changes


def test_counts_leave_out_the_labs_own_hastd():
    commands = [
        cmd(0, 0, "hastctl", "list"),
        cmd(0, 0, "hastctl", "list"),
        cmd(0, 0, "mount", "-p"),
        cmd(0, 0, "hastd"),
    ]
    assert counts(commands) == {"hastctl list": 2, "mount -p": 1}


def test_runner_and_shim_views_of_the_same_calls_are_paired_in_order():
    runner = [
        cmd(1.0, 0.30, "/n/bin/hastctl", "list"),
        cmd(2.0, 0.20, "/n/bin/mount", "-p"),
        cmd(3.0, 0.31, "/n/bin/hastctl", "list"),
        cmd(4.0, 0.50, "/n/bin/umount", "/mnt/r1"),  # killed before it logged
    ]
    logged = [
        cmd(3.1, 0.06, "hastctl", "list"),
        cmd(1.1, 0.05, "hastctl", "list"),
        cmd(2.1, 0.05, "mount", "-p"),
        cmd(2.5, 0.05, "hastd"),
    ]
    pairs = pair_up(runner, logged)
    assert [(r.start, s.start) for r, s in pairs] == [(1.0, 1.1), (2.0, 2.1), (3.0, 3.1)]


def test_a_failed_promotion_is_summed_up_by_the_first_error_hastctl_printed():
    from bench.transitions import first_error

    text = (
        "carpswitch promote exit 1:\nguard r1: /n/bin/hastctl list: exit status 71: "
        "[ERROR] Unable to connect to hastd via uds:///n/var/run/hastctl: Resource "
        "temporarily unavailable.; guard r2: ..."
    )
    assert first_error(text) == (
        "[ERROR] Unable to connect to hastd via uds:///n/var/run/hastctl: Resource "
        "temporarily unavailable."
    )
    assert first_error("exit 1:\nsomething else\n") == "something else"
