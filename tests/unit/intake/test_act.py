"""The intake's reconcile round: boot window, errors that must not kill the daemon."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from carpswitch.config import parse_config
from carpswitch.engine.boot import BootWindow
from carpswitch.engine.lock import LockBusy
from carpswitch.intake.act import Reconciler
from carpswitch.model import TransitionKind, TransitionOutcome, TransitionRecord


def record(outcome: TransitionOutcome) -> TransitionRecord:
    return TransitionRecord(
        id="t1",
        kind=TransitionKind.PROMOTE,
        group="storage",
        trigger="hook MASTER 1@vtnet0",
        reason="CARP vhid 1 is MASTER",
        started_at=datetime.now(UTC),
        outcome=outcome,
    )


class Controller:
    def __init__(self, result):
        self.result = result
        self.calls = []
        self.notifications = []
        self.unsettled = []
        self.errors = []

    def reconcile(self, trigger, boot=False, flapping=frozenset(), should_stop=lambda: False):
        self.calls.append((trigger, boot))
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    def wait_for_notifications(self):
        pass


@pytest.fixture
def config(tmp_path):
    return parse_config({"paths": {"run_dir": str(tmp_path / "run")}})


def test_an_event_in_the_boot_window_reconciles_under_boot_rules(config):
    controller = Controller([])
    reconcile = Reconciler(config, controller)
    reconcile("hook MASTER 1@vtnet0", flapping=frozenset())
    BootWindow(config.paths.run_dir).open()
    reconcile("hook MASTER 1@vtnet0", flapping=frozenset())
    assert [boot for _, boot in controller.calls] == [False, True]


@pytest.mark.parametrize(
    "error", [RuntimeError("a bug"), OSError(5, "Input/output error"), KeyError("x")]
)
def test_any_error_of_a_round_is_logged_and_the_daemon_lives_on(config, caplog, error):
    reconcile = Reconciler(config, Controller(error))
    with caplog.at_level(logging.DEBUG, logger="carpswitch"):
        outcome = reconcile("timer", flapping=frozenset())
    assert outcome.transitions == 0 and outcome.failure.startswith("reconcile failed: ")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0].getMessage()
    assert any(r.exc_info for r in caplog.records if r.levelno == logging.DEBUG)


def test_another_actor_still_means_busy(config):
    with pytest.raises(LockBusy):
        Reconciler(config, Controller(LockBusy("pid 7")))("timer", flapping=frozenset())


def test_a_refusal_is_not_a_transition_to_re_check_after(config):
    refused = Reconciler(config, Controller([record(TransitionOutcome.REFUSED)]))
    assert refused("timer", flapping=frozenset()).transitions == 0
    ran = Reconciler(config, Controller([record(TransitionOutcome.SUCCEEDED)]))
    assert ran("timer", flapping=frozenset()).transitions == 1


def test_what_could_not_be_read_is_a_failing_condition_to_retry(config):
    from carpswitch.engine.decide import Decision
    from carpswitch.topology import Group

    controller = Controller([])
    group = Group(name="storage", vhid=1, resources=("tank",))
    controller.unsettled = [Decision(group, None, "cannot read hast (command not found)")]
    controller.errors = ["group block: OSError: disk full"]
    outcome = Reconciler(config, controller)("timer", flapping=frozenset())
    assert outcome.transitions == 0
    assert outcome.failure == (
        "group storage: cannot read hast (command not found); group block: OSError: disk full"
    )
