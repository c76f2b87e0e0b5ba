"""Watchdog self-fencing: the daemon's pats, and a silent peer waited out before a takeover."""

import logging
import re
import time

import pytest

from carpswitch.actions.guards import PeerGuard
from carpswitch.config import parse_config
from carpswitch.engine.step import StepFailed
from carpswitch.errors import ConfigError
from carpswitch.guards.facts import PeerFacts
from carpswitch.guards.look import GuardLook
from carpswitch.guards.view import PeerView
from carpswitch.guards.watchdog import FENCE_MARGIN, WatchdogPat, fires_after, pat_interval
from carpswitch.system import commands
from tests.fakes import FakeRunner

from .test_guard_steps import GROUP, config, context


def test_the_pat_is_freebsds_watchdog_command():
    assert commands.watchdog_pat(8) == ("watchdog", "-t", "8")
    assert commands.watchdog_pat(0) == ("watchdog", "-t", "0")


def test_pats_come_often_enough_to_survive_a_lost_one():
    assert pat_interval(8) == 1.0  # at most a second apart
    assert pat_interval(2) == 0.5  # four pats per timeout


def test_the_watchdog_key_is_whole_seconds_within_bounds(tmp_path):
    assert config(tmp_path).guards.watchdog == 0  # off unless asked for
    assert config(tmp_path, watchdog=8).guards.watchdog == 8
    for bad in (-1, 1.5, True, 100_000):
        with pytest.raises(ConfigError, match=r"guards\.watchdog"):
            config(tmp_path, watchdog=bad)


def test_the_command_path_is_freebsds_and_may_be_redirected(tmp_path):
    cfg = parse_config({"commands": {"watchdog": "/lab/bin/watchdog"}})
    assert cfg.commands["watchdog"] == "/lab/bin/watchdog"
    assert parse_config({}).commands.get("watchdog", "/usr/sbin/watchdog") == "/usr/sbin/watchdog"


def _runner(*, fail: bool = False) -> FakeRunner:
    runner = FakeRunner()
    runner.reply(commands.watchdog_pat(2), exit_status=1 if fail else 0, stderr="watchdog: no")
    runner.reply(commands.watchdog_pat(0))
    return runner


def test_the_pat_arms_at_start_keeps_patting_and_disarms_on_close():
    runner = _runner()
    pat = WatchdogPat(runner, 2)
    pat.start()
    assert runner.calls == [("watchdog", "-t", "2")]  # armed before start() returns
    time.sleep(pat_interval(2) * 3.5)
    pat.close()
    pats = runner.calls.count(("watchdog", "-t", "2"))
    assert pats >= 3, runner.calls
    assert runner.calls[-1] == ("watchdog", "-t", "0")  # a clean stop must not reset
    time.sleep(pat_interval(2) * 1.5)
    assert runner.calls.count(("watchdog", "-t", "2")) == pats  # no pat after close


def test_a_failing_pat_is_logged_once_per_run_of_failures(caplog):
    runner = _runner(fail=True)
    pat = WatchdogPat(runner, 2)
    with caplog.at_level(logging.ERROR, logger="carpswitch"):
        assert not pat.pat()
        assert not pat.pat()
    assert len([r for r in caplog.records if "pat failed" in r.getMessage()]) == 1
    runner.reply(commands.watchdog_pat(2))
    with caplog.at_level(logging.WARNING, logger="carpswitch"):
        assert pat.pat()
    assert any("patted again" in r.getMessage() for r in caplog.records)


class _Clock:
    """A clock that time.sleep (patched) moves on."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _silent_then(answers, monkeypatch, clock):
    """GuardLook.peer answers from `answers` (None: silent) in turn; the clock is fake."""
    replies = iter(answers)

    def peer(self):
        view = next(replies, None)
        if view is None:
            return PeerFacts("127.0.0.1", problem="timed out after 1 s", heard=False)
        return PeerFacts("127.0.0.1", view.node, dict(view.resources), view.terms, view.advskew)

    monkeypatch.setattr(GuardLook, "peer", peer)
    monkeypatch.setattr(GuardLook, "__init__", _with_clock(GuardLook.__init__, clock))
    monkeypatch.setattr(PeerGuard, "sleep", staticmethod(clock.sleep))


def _with_clock(init, clock):
    def wrapped(self, cfg, runner, _clock=None):
        init(self, cfg, runner, clock)

    return wrapped


def test_a_silent_peer_is_waited_out_for_its_watchdog_before_the_takeover(tmp_path, monkeypatch):
    clock = _Clock()
    _silent_then([None] * 100, monkeypatch, clock)
    cfg = config(tmp_path, peer_view=True, watchdog=8)
    started = clock.now
    detail = PeerGuard(GROUP).do(context(cfg))
    assert clock.now - started >= fires_after(8) + FENCE_MARGIN - 1e-6  # the peer was reset
    assert re.search(
        r"no veto \(silent for 10\.6 s, past its watchdog -t 8: taken as reset\); term \d+", detail
    )


def test_a_peer_that_answers_primary_during_the_wait_vetoes(tmp_path, monkeypatch):
    clock = _Clock()
    thawed = PeerView("hastb", {"lun": "primary"}, {"storage": 4})
    _silent_then([None, None, None, thawed], monkeypatch, clock)
    cfg = config(tmp_path, peer_view=True, watchdog=8)
    with pytest.raises(StepFailed, match=r"peer still primary: .*lun primary \(answered after"):
        PeerGuard(GROUP).do(context(cfg))
    assert clock.now - 1000.0 < 8  # it stopped waiting once the peer answered


def test_a_peer_that_answers_secondary_ends_the_wait_early(tmp_path, monkeypatch):
    clock = _Clock()
    rebooted = PeerView("hastb", {"lun": "secondary"}, {"storage": 4})
    _silent_then([None, None, rebooted], monkeypatch, clock)
    cfg = config(tmp_path, peer_view=True, watchdog=8)
    detail = PeerGuard(GROUP).do(context(cfg))
    assert "lun secondary (answered after 2.0 s); term" in detail


def test_without_a_watchdog_a_silent_peer_is_no_veto_at_once(tmp_path, monkeypatch):
    clock = _Clock()
    _silent_then([None] * 100, monkeypatch, clock)
    cfg = config(tmp_path, peer_view=True)
    detail = PeerGuard(GROUP).do(context(cfg))
    assert clock.now == 1000.0 and "no veto; term" in detail


def test_a_forced_promotion_does_not_wait(tmp_path, monkeypatch):
    clock = _Clock()
    _silent_then([None] * 100, monkeypatch, clock)
    cfg = config(tmp_path, peer_view=True, watchdog=8)
    PeerGuard(GROUP, veto=False).do(context(cfg))
    assert clock.now == 1000.0


def test_a_heard_peer_whose_hastd_cannot_be_read_is_not_waited_out(tmp_path, monkeypatch):
    clock = _Clock()

    def peer(self):
        return PeerFacts("127.0.0.1", "hastb", problem="its hastd cannot be read: boom")

    monkeypatch.setattr(GuardLook, "peer", peer)
    monkeypatch.setattr(PeerGuard, "sleep", staticmethod(clock.sleep))
    cfg = config(tmp_path, peer_view=True, watchdog=8)
    PeerGuard(GROUP).do(context(cfg))
    assert clock.now == 1000.0  # its daemon answered, so it pats: no reset to wait for


def test_the_wait_covers_freebsds_rounding_up_to_a_power_of_two_nanoseconds():
    assert fires_after(0) == 0.0
    assert fires_after(8) == 2**33 / 1e9  # 8.59 s
    assert fires_after(20) == 2**35 / 1e9  # 34.4 s: a wait of 22 s would be too short
    for seconds in range(1, 200):
        assert seconds < fires_after(seconds) <= 2 * seconds
