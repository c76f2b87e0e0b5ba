"""The lab's watchdog(8): FreeBSD's arguments and texts (usr.sbin/watchdogd/watchdogd.c,
lib/libc/stdlib/getopt_long.c) and the node's watchdog(4) state it sets."""

from __future__ import annotations

import io
import time
import tomllib
from pathlib import Path

import pytest

from carpswitch.config import load_config
from carpswitch.lab.boot import boot_state
from carpswitch.lab.commands import CommandExit, watchdog
from carpswitch.lab.context import ShimContext
from carpswitch.lab.node import create_node
from carpswitch.lab.state import WatchdogState
from tests.unit.lab.nodefacts import node_facts, run_shim

USAGE = "usage: watchdog [-d] [-t timeout]\n"


def _ctx(root: Path) -> ShimContext:
    facts = node_facts(root)
    facts.node_paths.state.mkdir(parents=True)
    return ShimContext(facts, out=io.StringIO(), err=io.StringIO())


def _run(ctx: ShimContext, *args: str) -> tuple[int, str, str]:
    return run_shim(watchdog.run, ctx, *args)


@pytest.mark.parametrize(
    ("args", "timeout"),
    [
        (["-t", "5"], 5),
        (["-t5"], 5),
        ([], 128),  # watchdogd.c: timeout = 128 * SBT_1S
        (["-t", "0"], 0),
        (["-t", "0x10"], 16),  # strtol base 0
        (["-t", "010"], 8),
        (["-t", " 7"], 7),
        (["-t", ""], 0),  # strtol converts nothing and leaves p at the (empty) end
        (["-t", "9", "-t", "3"], 3),
    ],
)
def test_timeouts_are_read_as_fetchtimeout_reads_them(args: list[str], timeout: int) -> None:
    assert watchdog.parse_args(args) == watchdog.Request(timeout=timeout)


@pytest.mark.parametrize(
    ("args", "message", "usage"),
    [
        (["-t", "abc"], "-t argument is not a number", False),
        (["-t", "5s"], "-t argument is not a number", False),
        (["-t", "0x"], "-t argument is not a number", False),
        (["-t", "99999999999999999999"], "-t argument is not a number", False),  # ERANGE
        (["-t", "-5"], "-t argument must be greater than zero", False),
        (["-t", "-5x"], "-t argument must be greater than zero", False),
        (["-t", "5", "now"], "extra arguments.", False),
        (["now", "-t", "5"], "extra arguments.", False),  # getopt_long permutes
        (["-x"], "invalid option -- x", True),
        (["-t"], "option requires an argument -- t", True),
        (["-?"], None, True),
        (["--frob"], "unrecognized option `--frob'", True),
        (["--debug=1"], "option `--debug' doesn't allow an argument", True),
        (["--pre", "1"], "option `--pre' is ambiguous", True),
    ],
)
def test_bad_arguments_exit_64_as_freebsd_watchdog(
    args: list[str], message: str | None, usage: bool
) -> None:
    with pytest.raises(CommandExit) as stop:
        watchdog.parse_args(args)
    assert (stop.value.code, stop.value.message, stop.value.usage) == (64, message, usage)


def test_debug_prints_the_timeout_as_parse_timeout_to_sbt_does() -> None:
    request = watchdog.parse_args(["-d", "-t", "10"])
    assert request.debug == (
        "Timeout for -t is (in: 10 sec -> out: 10 sec 0 us -> 10001 ticks)\nTimeout is 10\n"
    )
    assert watchdog.parse_args(["-t", "10", "-d"]).debug == ""  # -d came too late


@pytest.mark.parametrize(
    ("text", "value", "whole"),
    [("12", 12, True), ("+3", 3, True), ("0X1f", 31, True), ("08", 0, False), ("", 0, True)],
)
def test_strtol_is_base_0(text: str, value: int, whole: bool) -> None:
    assert watchdog.strtol(text) == (value, whole)


def test_a_pat_arms_the_node_watchdog_and_t_0_disarms_it(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path / "n")
    before = time.monotonic()
    assert _run(ctx, "-t", "5") == (0, "", "")
    dog = ctx.store.read(WatchdogState)
    assert dog.timeout == 5 and dog.deadline is not None
    assert before + 5 <= dog.deadline <= time.monotonic() + 5
    assert not dog.expired(dog.deadline - 0.001) and dog.expired(dog.deadline)
    assert _run(ctx, "-t", "0") == (0, "", "")
    assert ctx.store.read(WatchdogState) == WatchdogState()
    assert not ctx.store.read(WatchdogState).expired(time.monotonic() + 10**6)


def test_a_repat_moves_the_deadline(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path / "n")
    _run(ctx, "-t", "100")
    first = ctx.store.read(WatchdogState).deadline
    _run(ctx, "-t", "3")
    second = ctx.store.read(WatchdogState).deadline
    assert first is not None and second is not None and second < first


def test_errors_leave_the_watchdog_as_it_was(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path / "n")
    _run(ctx, "-t", "30")
    armed = ctx.store.read(WatchdogState)
    assert _run(ctx, "-t", "abc") == (64, "", "watchdog: -t argument is not a number\n")
    assert _run(ctx, "-x") == (64, "", "watchdog: invalid option -- x\n" + USAGE)
    assert _run(ctx, "-?") == (64, "", USAGE)
    assert _run(ctx, "-d", "-t", "1", "x")[1:] == (
        "Timeout for -t is (in: 1 sec -> out: 1 sec 0 us -> 1001 ticks)\nTimeout is 1\n",
        "watchdog: extra arguments.\n",
    )
    assert ctx.store.read(WatchdogState) == armed


def test_a_boot_disarms_the_watchdog(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path / "n")
    _run(ctx, "-t", "30")
    boot_state(ctx.store, ctx.facts, "BACKUP")
    assert ctx.store.read(WatchdogState) == WatchdogState()


def test_a_node_has_the_shim_and_it_pats(tmp_path: Path) -> None:
    node = create_node(tmp_path / "n", start=False)
    done = node.run("watchdog", "-t", "7")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert node.store.read(WatchdogState).timeout == 7
    done = node.run("watchdog", "-t")
    assert (done.returncode, done.stderr) == (
        64,
        "watchdog: option requires an argument -- t\n" + USAGE,
    )


def test_the_lab_config_points_the_controller_at_the_shim(tmp_path: Path) -> None:
    node = create_node(tmp_path / "n", start=False)
    shim = str(node.paths.command("watchdog"))
    assert tomllib.loads(node.config_path.read_text())["commands"]["watchdog"] == shim
    assert load_config(str(node.config_path)).commands["watchdog"] == shim
