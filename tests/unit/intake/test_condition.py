"""run_dir/condition: a failing condition is logged once per change and shown by status."""

import logging
from datetime import UTC, datetime

import pytest

from carpswitch.intake.condition import ConditionFile, describe_condition, failure_of
from carpswitch.model import (
    StepOutcome,
    StepRecord,
    StepResult,
    TransitionKind,
    TransitionOutcome,
    TransitionRecord,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def step(kind, outcome, detail="", resource="tank"):
    return StepResult(
        step=StepRecord(kind=kind, description=kind, resource=resource, timeout=10),
        outcome=outcome,
        started_at=NOW,
        ended_at=NOW,
        detail=detail,
    )


def record(outcome, steps, ident="a1"):
    return TransitionRecord(
        id=ident,
        kind=TransitionKind.DEMOTE,
        group="storage",
        trigger="hook BACKUP 1@vtnet0",
        reason="CARP vhid 1 is BACKUP",
        started_at=NOW,
        outcome=outcome,
        steps=steps,
    )


def test_the_failure_of_a_round_names_the_failed_step_without_ids_or_times():
    failed = record(
        TransitionOutcome.FAILED,
        [
            step("umount", StepOutcome.OK),
            step("hast_role", StepOutcome.FAILED, "command not found: /x/hastctl"),
        ],
    )
    text = failure_of([failed])
    assert text == "demote storage failed: hast_role tank: command not found: /x/hastctl"
    again = record(TransitionOutcome.FAILED, failed.steps, ident="b2")
    assert failure_of([again]) == text  # the same condition, recognised as such
    assert failure_of([record(TransitionOutcome.SUCCEEDED, [])]) == ""
    assert failure_of([]) == ""


def test_a_condition_is_logged_once_per_change(tmp_path, caplog):
    conditions = ConditionFile(str(tmp_path), clock=lambda: 1000.0)
    caplog.set_level(logging.DEBUG, logger="carpswitch")
    for _ in range(5):
        conditions.report("hastctl missing", 2.0)
    conditions.report("hast.conf unreadable", 4.0)
    conditions.report("", 0.0)
    conditions.report("", 0.0)
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [
        "failing: hastctl missing (trying again with a growing interval)",
        "failing: hast.conf unreadable (trying again with a growing interval)",
        "recovered: no longer failing: hast.conf unreadable",
    ]
    assert conditions.read() is None


def test_the_file_counts_tries_and_keeps_the_start(tmp_path):
    times = iter([100.0, 200.0, 300.0])
    conditions = ConditionFile(str(tmp_path), clock=lambda: next(times))
    conditions.report("hastctl missing", 1.0)
    conditions.report("hastctl missing", 2.0)
    conditions.report("hastctl missing", 4.0)
    found = conditions.read()
    assert found is not None
    assert (found.failure, found.since, found.attempts, found.retry_in) == (
        "hastctl missing",
        100.0,
        3,
        4.0,
    )


def test_status_says_what_keeps_failing(tmp_path):
    assert describe_condition(str(tmp_path)) is None
    ConditionFile(str(tmp_path)).report("demote storage failed: hastctl missing", 8.0)
    line = describe_condition(str(tmp_path))
    assert line is not None
    assert line.startswith("failing since ")
    assert line.endswith("(1 try, next within 8 s): demote storage failed: hastctl missing")


@pytest.mark.parametrize("content", [b"", b"\xff\xfe", b"[]", b'{"failure": 1}', b"{" * 5000])
def test_a_garbled_condition_file_reads_as_none(tmp_path, content):
    (tmp_path / "condition").write_bytes(content)
    assert ConditionFile(str(tmp_path)).read() is None
    assert describe_condition(str(tmp_path)) is None


def test_a_run_dir_that_cannot_hold_the_file_is_logged_not_raised(tmp_path, caplog):
    conditions = ConditionFile(str(tmp_path / "missing"))
    conditions.report("hastctl missing", 1.0)
    assert "cannot record the failing condition" in caplog.text


def test_a_symlink_in_place_of_the_file_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text('{"failure": "forged", "since": 1, "attempts": 1, "retry_in": 1}')
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "condition").symlink_to(target)
    assert ConditionFile(str(tmp_path / "run")).read() is None


def test_status_says_when_nothing_retries(tmp_path):
    ConditionFile(str(tmp_path)).report("hastctl missing", 30.0)
    line = describe_condition(str(tmp_path), retrying=False)
    assert line is not None
    assert line.endswith("(1 try, no retry pending): hastctl missing")
