"""Coalescing with fakes: settle, flapping, re-observing, lock waits, stop requests."""

import itertools

import pytest

from carpswitch.engine.lock import LockBusy
from carpswitch.intake.coalesce import Outcome, Pacing, run_until_quiet, settle, trigger_for

from .fakes import FakeClock, RecordingReconcile, ScriptedSource, event

PACING = Pacing(settle=1.0, flap_limit=10.0)


@pytest.fixture
def clock():
    return FakeClock()


def test_a_burst_is_acted_on_once_after_a_quiet_second(clock):
    source = ScriptedSource(clock)
    source.every(0.1, 3.0, 0.1)  # 29 more events, 0.1 s apart
    reconcile = RecordingReconcile(clock, transitions=[1, 0])
    summary = run_until_quiet([event(at=0.0)], source, reconcile, PACING, "worker", clock)
    first_at, trigger, flapping = reconcile.calls[0]
    assert first_at == pytest.approx(2.9 + 1.0)  # the last event, then a quiet second
    assert "(+29 coalesced)" in trigger
    assert not flapping
    assert summary.events == 30
    assert len(reconcile.calls) == 2  # the second round re-observes and finds nothing to do


def test_the_newest_event_names_the_round():
    events = [event("MASTER"), event("BACKUP")]
    assert trigger_for(events, "timer") == "hook BACKUP 1@vtnet0 (+1 coalesced)"
    assert trigger_for([], "timer") == "timer"
    assert trigger_for([event("MASTER")], "timer") == "hook MASTER 1@vtnet0"


def test_events_past_the_flap_limit_take_the_safe_side(clock):
    source = ScriptedSource(clock)
    source.every(0.5, 30.0, 0.5)
    burst = settle([event(at=0.0)], source, PACING, clock)
    assert burst.flapping == {"1@vtnet0"}
    assert clock.now == pytest.approx(10.0)
    assert len(burst.events) == 21  # 0.0 .. 10.0


def test_only_the_vhid_still_changing_at_the_flap_limit_flapped(clock):
    # vhid 1 changed once and settled; vhid 2 kept the burst open: only vhid 2 flapped
    source = ScriptedSource(clock)
    source.every(0.5, 30.0, 0.5, subsystem="2@vtnet0")
    burst = settle([event(at=0.0, subsystem="1@vtnet0")], source, PACING, clock)
    assert burst.flapping == {"2@vtnet0"}


def test_events_without_a_subsystem_flap_nothing(clock):
    source = ScriptedSource(clock)
    source.every(0.5, 30.0, 0.5, subsystem="")
    burst = settle([event(at=0.0, subsystem="")], source, PACING, clock)
    assert clock.now == pytest.approx(10.0)  # the limit was reached
    assert burst.flapping == frozenset()


def test_a_quiet_gap_shorter_than_settle_keeps_waiting(clock):
    source = ScriptedSource(clock)
    source.arrive(0.9)
    burst = settle([event()], source, PACING, clock)
    assert not burst.flapping
    assert clock.now == pytest.approx(1.9)
    assert len(burst.events) == 2


def test_a_safe_side_round_is_followed_by_a_settled_round(clock):
    source = ScriptedSource(clock)
    source.every(0.5, 12.0, 0.5)  # flapping for 12 s, then quiet
    reconcile = RecordingReconcile(clock, transitions=[1, 0, 1, 0])
    run_until_quiet([event()], source, reconcile, PACING, "worker", clock)
    flags = [flapping for _at, _t, flapping in reconcile.calls]
    assert flags[0] == {"1@vtnet0"}
    assert flags[1:] == [frozenset()] * (len(flags) - 1)
    second_at = reconcile.calls[1][0]
    assert second_at >= 11.5 + PACING.settle  # waited out the rest of the flapping


def test_without_events_the_round_runs_at_once_under_the_idle_trigger(clock):
    source = ScriptedSource(clock)
    reconcile = RecordingReconcile(clock)
    summary = run_until_quiet([], source, reconcile, PACING, "timer", clock)
    assert reconcile.calls == [(0.0, "timer", frozenset())]
    assert len(summary.rounds) == 1


def test_rounds_repeat_while_transitions_run(clock):
    source = ScriptedSource(clock)
    reconcile = RecordingReconcile(clock, transitions=[1, 2, 0])
    summary = run_until_quiet([], source, reconcile, PACING, "timer", clock)
    assert [r.transitions for r in summary.rounds] == [1, 2, 0]
    assert reconcile.calls[1][1] == "re-check after timer"


def test_an_event_during_a_round_brings_another_settled_round(clock):
    source = ScriptedSource(clock)
    source.arrive(0.5, "BACKUP")  # arrives while the first round runs
    reconcile = RecordingReconcile(clock, transitions=[0, 0], duration=1.0)
    run_until_quiet([], source, reconcile, PACING, "timer", clock)
    assert len(reconcile.calls) == 2
    assert reconcile.calls[1][1] == "hook BACKUP 1@vtnet0"
    assert reconcile.calls[1][0] == pytest.approx(1.0 + PACING.settle)


def test_it_gives_up_after_max_rounds(clock):
    source = ScriptedSource(clock)
    reconcile = RecordingReconcile(clock, transitions=[1] * 50)
    pacing = Pacing(settle=1.0, flap_limit=10.0, max_rounds=5)
    summary = run_until_quiet([], source, reconcile, pacing, "timer", clock)
    assert len(reconcile.calls) == 5
    assert "5 rounds" in summary.gave_up


def test_a_busy_actor_lock_is_retried_with_the_events_kept(clock):
    source = ScriptedSource(clock)
    calls = []

    def reconcile(trigger, flapping):
        calls.append((clock.now, trigger))
        if len(calls) < 3:
            raise LockBusy("another carpswitch is acting (pid 1)")
        return Outcome()

    summary = run_until_quiet([event()], source, reconcile, PACING, "worker", clock)
    assert [trigger for _at, trigger in calls] == ["hook MASTER 1@vtnet0"] * 3
    assert calls[2][0] - calls[1][0] == pytest.approx(PACING.busy_retry)
    assert len(summary.rounds) == 1


def test_a_lock_busy_for_too_long_gives_up(clock):
    source = ScriptedSource(clock)

    def reconcile(trigger, flapping):
        raise LockBusy("busy")

    pacing = Pacing(busy_retry=1.0, busy_patience=5.0)
    summary = run_until_quiet([], source, reconcile, pacing, "timer", clock)
    assert "busy" in summary.gave_up
    assert clock.now == pytest.approx(5.0)


def test_a_stop_request_during_settle_runs_nothing(clock):
    source = ScriptedSource(clock, stop_at=0.5)
    reconcile = RecordingReconcile(clock)
    summary = run_until_quiet([event()], source, reconcile, PACING, "worker", clock)
    assert summary.stopped
    assert reconcile.calls == []


def test_a_stop_request_during_a_round_lets_it_finish_then_stops(clock):
    source = ScriptedSource(clock, stop_at=0.5)
    reconcile = RecordingReconcile(clock, transitions=[1, 1], duration=1.0)
    summary = run_until_quiet([], source, reconcile, PACING, "timer", clock)
    assert len(reconcile.calls) == 1
    assert summary.stopped
    assert summary.transitions == 1


def test_summary_describes_rounds_in_one_line(clock):
    source = ScriptedSource(clock)
    reconcile = RecordingReconcile(clock, transitions=[1, 0])
    summary = run_until_quiet([event()], source, reconcile, PACING, "worker", clock)
    assert summary.describe() == (
        "2 rounds (hook MASTER 1@vtnet0; re-check after hook MASTER 1@vtnet0), "
        "1 events, 1 transitions"
    )


# --- issue 8, item 29: failing conditions back off -----------------------------------


class RecordingSink:
    def __init__(self):
        self.reports = []

    def report(self, failure, retry_in):
        self.reports.append((failure, retry_in))


FAILING = "demote storage failed: hast_role tank: command not found: /x/hastctl"


def test_failing_rounds_are_retried_with_a_growing_bounded_interval(clock):
    """A missing hastctl made one event run 20 failed demotions in 16 s."""
    source = ScriptedSource(clock)
    reconcile = RecordingReconcile(clock, transitions=[1] * 20, failures=[FAILING] * 20)
    pacing = Pacing(settle=1.0, flap_limit=10.0, first_retry=1.0, longest_retry=8.0)
    summary = run_until_quiet([event()], source, reconcile, pacing, "worker", clock)
    times = [at for at, _t, _f in reconcile.calls]
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(times)]
    assert gaps[:5] == [1.0, 2.0, 4.0, 8.0, 8.0]  # doubling, then capped
    assert sum(1 for at in times if at - times[0] <= 16.0) == 5  # not 20
    assert summary.gave_up == f"still failing after 20 rounds: {FAILING}"


def test_the_trigger_of_a_retry_does_not_grow(clock):
    source = ScriptedSource(clock)
    reconcile = RecordingReconcile(clock, transitions=[1] * 6, failures=[FAILING] * 6)
    run_until_quiet([event("BACKUP")], source, reconcile, PACING, "worker", clock)
    triggers = [trigger for _at, trigger, _f in reconcile.calls]
    assert triggers[0] == "hook BACKUP 1@vtnet0"
    assert set(triggers[1:]) == {"retry after hook BACKUP 1@vtnet0"}


def test_each_round_reports_its_condition_and_a_success_clears_it(clock):
    source = ScriptedSource(clock)
    reconcile = RecordingReconcile(clock, transitions=[1, 1, 1, 0], failures=[FAILING, FAILING])
    sink = RecordingSink()
    summary = run_until_quiet([], source, reconcile, PACING, "timer", clock, sink)
    assert sink.reports == [(FAILING, 1.0), (FAILING, 2.0), ("", 0.0), ("", 0.0)]
    assert summary.gave_up == ""
    assert [r.failure for r in summary.rounds] == [FAILING, FAILING, "", ""]


def test_a_reconcile_that_fails_without_a_transition_is_retried_too(clock):
    source = ScriptedSource(clock)
    reconcile = RecordingReconcile(clock, failures=["reconcile failed: boom", ""])
    run_until_quiet([], source, reconcile, PACING, "timer", clock)
    assert [at for at, _t, _f in reconcile.calls] == [0.0, 1.0]


def test_events_do_not_cut_a_retry_interval_short_but_are_kept(clock):
    source = ScriptedSource(clock)
    source.arrive(0.2, "MASTER")
    reconcile = RecordingReconcile(clock, transitions=[1, 0], failures=[FAILING])
    pacing = Pacing(settle=0.5, flap_limit=10.0, first_retry=4.0)
    summary = run_until_quiet([], source, reconcile, pacing, "timer", clock)
    assert reconcile.calls[1][0] == pytest.approx(4.0 + 0.5)  # the interval, then settle
    assert reconcile.calls[1][1] == "hook MASTER 1@vtnet0"
    assert summary.events == 1


def test_a_stop_request_ends_a_retry_interval(clock):
    source = ScriptedSource(clock, stop_at=3.0)
    reconcile = RecordingReconcile(clock, transitions=[1] * 5, failures=[FAILING] * 5)
    pacing = Pacing(first_retry=30.0, longest_retry=30.0)
    summary = run_until_quiet([], source, reconcile, pacing, "timer", clock)
    assert summary.stopped
    assert clock.now == pytest.approx(3.0)
    assert len(reconcile.calls) == 1
