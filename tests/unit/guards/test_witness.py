"""Witness pings: FreeBSD ping's argv and exit codes, parallel and bounded."""

import time
from pathlib import Path

from carpswitch.guards.witness import WitnessVerdict, probe
from carpswitch.system import commands
from carpswitch.system.runner import Runner
from tests.fakes import FakeRunner

GATEWAY = "198.18.0.254"
OTHER = "198.18.0.253"
RESOLVE = "ping: cannot resolve gw.example: hostname nor servname provided, or not known\n"


def test_ping_once_sends_one_quiet_echo_bounded_by_ping_itself():
    assert commands.ping_once(GATEWAY, 1) == ("ping", "-c", "1", "-t", "1", "-q", GATEWAY)


def test_ping_once_asks_for_ipv6_with_dash_6_for_an_ipv6_address():
    assert commands.ping_once("2001:db8::1", 3) == (
        *("ping", "-6", "-c", "1", "-t", "3", "-q", "2001:db8::1"),
    )


def test_a_witness_that_replies_is_reachable():
    runner = FakeRunner()
    runner.reply(commands.ping_once(GATEWAY, 1), stdout="1 packets received\n")
    verdict = probe(runner, [GATEWAY], 1)
    assert verdict == WitnessVerdict((GATEWAY,), {})
    assert verdict.any_reachable
    assert verdict.describe() == "1 of 1 witness reachable"


def test_each_lost_witness_is_given_a_one_line_reason():
    runner = FakeRunner()
    runner.reply(commands.ping_once(GATEWAY, 1), exit_status=2)
    runner.reply(commands.ping_once(OTHER, 1), timed_out=True)
    runner.reply(commands.ping_once("gw.example", 1), exit_status=68, stderr=RESOLVE)
    runner.reply(commands.ping_once("198.18.0.9", 1), exit_status=71)
    # 198.18.0.8 has no reply: the fake runner says ping is not found
    verdict = probe(runner, [GATEWAY, OTHER, "gw.example", "198.18.0.9", "198.18.0.8"], 1)
    assert not verdict.any_reachable
    assert verdict.lost == {
        GATEWAY: "no reply",
        OTHER: "ping timed out after 3 s and was killed",
        "gw.example": RESOLVE.strip(),
        "198.18.0.9": "ping exit status 71",
        "198.18.0.8": "ping not found: ping",
    }
    assert verdict.describe().startswith("0 of 5 witnesses reachable (198.18.0.254: no reply; ")
    assert "\n" not in verdict.describe()


def test_one_reachable_witness_is_enough_and_order_is_kept():
    runner = FakeRunner()
    runner.reply(commands.ping_once(GATEWAY, 2), exit_status=2)
    runner.reply(commands.ping_once(OTHER, 2))
    verdict = probe(runner, [GATEWAY, OTHER, GATEWAY], 2)
    assert verdict.any_reachable
    assert verdict.reachable == (OTHER,)
    assert verdict.describe() == "1 of 2 witnesses reachable (198.18.0.254: no reply)"
    assert sorted(runner.calls) == sorted([commands.ping_once(a, 2) for a in (GATEWAY, OTHER)])


def test_an_address_that_looks_like_an_option_is_never_run():
    runner = FakeRunner()
    verdict = probe(runner, ["-f", " "], 1)
    assert verdict.lost == {"-f": "not an address", " ": "not an address"}
    assert runner.calls == []


def test_no_witnesses_give_an_empty_verdict_without_running_anything():
    runner = FakeRunner()
    assert probe(runner, [], 1) == WitnessVerdict()
    assert runner.calls == []


def _shim(tmp_path: Path, body: str) -> Runner:
    ping = tmp_path / "ping"
    ping.write_text(f"#!/bin/sh\n{body}\n")
    ping.chmod(0o755)
    return Runner({"ping": str(ping)}, stuck_grace=1.0)


def test_hanging_pings_are_killed_in_parallel_so_a_probe_stays_bounded(tmp_path: Path):
    runner = _shim(tmp_path, "exec sleep 60")
    witnesses = [f"198.18.0.{n}" for n in range(1, 7)]
    started = time.monotonic()
    verdict = probe(runner, witnesses, 1)
    elapsed = time.monotonic() - started
    assert elapsed < 6.0  # one ping's bound (1 + 2 s) plus slack, not six of them
    assert set(verdict.lost) == set(witnesses)
    assert all("timed out after 3 s" in reason for reason in verdict.lost.values())


def test_a_real_command_sees_the_exact_argv_and_its_exit_code_decides(tmp_path: Path):
    log = tmp_path / "argv"
    runner = _shim(tmp_path, f'echo "$@" >> {log}\n[ "$6" = {GATEWAY} ] && exit 0\nexit 2')
    verdict = probe(runner, [GATEWAY, OTHER], 1)
    assert verdict == WitnessVerdict((GATEWAY,), {OTHER: "no reply"})
    assert sorted(log.read_text().splitlines()) == [
        f"-c 1 -t 1 -q {OTHER}",
        f"-c 1 -t 1 -q {GATEWAY}",
    ]
