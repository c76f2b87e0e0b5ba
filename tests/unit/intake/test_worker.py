"""The worker: one at a time, coalesces what the inbox holds, never loses a late event."""

import time

import pytest

from carpswitch.intake import worker
from carpswitch.intake.coalesce import Outcome, Pacing
from carpswitch.intake.inbox import Inbox, IntakeEvent
from carpswitch.intake.lockfile import IntakeLock
from carpswitch.intake.worker import InboxSource, work

FAST = Pacing(settle=0.05, flap_limit=2.0)


def record(run_dir, state="MASTER"):
    Inbox(str(run_dir)).record(IntakeEvent("hook", state, "1@vtnet0", time.time()))


class Reconcile:
    def __init__(self, transitions=()):
        self.transitions = list(transitions)
        self.calls = []

    def __call__(self, trigger, flapping):
        self.calls.append((trigger, flapping))
        return Outcome(self.transitions.pop(0) if self.transitions else 0)


def test_a_worker_takes_every_recorded_event_into_one_round(tmp_path):
    for state in ("MASTER", "BACKUP", "MASTER"):
        record(tmp_path, state)
    reconcile = Reconcile()
    summaries = work(str(tmp_path), reconcile, FAST)
    assert reconcile.calls == [("hook MASTER 1@vtnet0 (+2 coalesced)", frozenset())]
    assert summaries[0].events == 3
    assert Inbox(str(tmp_path)).pending() == 0


def test_a_worker_finding_the_lock_taken_does_nothing(tmp_path):
    record(tmp_path)
    other = IntakeLock(str(tmp_path), "worker")
    assert other.try_acquire()
    try:
        reconcile = Reconcile()
        assert work(str(tmp_path), reconcile, FAST) == []
    finally:
        other.release()
    assert reconcile.calls == []
    assert Inbox(str(tmp_path)).pending() == 1  # left for the holder


def test_an_event_recorded_while_the_lock_is_released_is_not_lost(tmp_path, monkeypatch):
    record(tmp_path)
    released: list[bool] = []
    real_release = IntakeLock.release

    def release_then_event_arrives(self):
        real_release(self)
        if not released:  # the hook records now, finds the lock free... and the worker
            record(tmp_path, "BACKUP")  # is still around: it must see the event
        released.append(True)

    monkeypatch.setattr(IntakeLock, "release", release_then_event_arrives)
    reconcile = Reconcile()
    summaries = work(str(tmp_path), reconcile, FAST)
    assert len(summaries) == 2
    assert [trigger for trigger, _f in reconcile.calls] == [
        "hook MASTER 1@vtnet0",
        "hook BACKUP 1@vtnet0",
    ]


def test_a_stop_request_ends_the_worker_without_acting(tmp_path):
    record(tmp_path)
    reconcile = Reconcile()
    summaries = work(str(tmp_path), reconcile, FAST, stop=lambda: True)
    assert reconcile.calls == []
    assert summaries[0].stopped


def test_the_inbox_source_returns_as_soon_as_an_event_is_there(tmp_path):
    source = InboxSource(Inbox(str(tmp_path)))
    record(tmp_path)
    started = time.monotonic()
    events = source.wait(10.0)
    assert len(events) == 1
    assert time.monotonic() - started < 5.0


def test_the_inbox_source_polls_until_the_timeout(tmp_path):
    now = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    source = InboxSource(Inbox(str(tmp_path)), poll=0.05, clock=lambda: now[0], sleep=sleep)
    assert source.wait(0.12) == []
    assert sleeps == pytest.approx([0.05, 0.05, 0.02])


def test_the_worker_main_reports_a_bad_config_with_exit_78(tmp_path, mocker):
    mocker.patch.object(worker, "setup_logging")
    config = tmp_path / "c.toml"
    config.write_text("[intake]\nsettle = -1\n")
    assert worker.main(["-c", str(config)]) == 78
