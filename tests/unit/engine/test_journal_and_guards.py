"""Journal rotation and crash detection; the failure book; the actor lock."""

import multiprocessing
import os
from datetime import UTC, datetime

import pytest

from carpswitch.engine.failures import FailureBook
from carpswitch.engine.journal import Journal
from carpswitch.engine.lock import ActorLock, LockBusy
from carpswitch.model import TransitionKind, TransitionOutcome, TransitionRecord


def record(id_, pid=None, outcome=TransitionOutcome.RUNNING):
    return TransitionRecord(
        id=id_,
        kind=TransitionKind.PROMOTE,
        group="storage",
        trigger="test",
        reason="test",
        started_at=datetime.now(UTC),
        pid=pid,
        outcome=outcome,
    )


def test_latest_line_of_a_transition_wins(tmp_path):
    journal = Journal(str(tmp_path))
    first = record("t1", pid=os.getpid())
    journal.write(first)
    first.outcome = TransitionOutcome.SUCCEEDED
    journal.write(first)
    assert [r.outcome for r in journal.records()] == [TransitionOutcome.SUCCEEDED]
    assert len((tmp_path / "journal.jsonl").read_text().splitlines()) == 2


def test_journal_rotates_by_size_and_still_reads_everything(tmp_path):
    journal = Journal(str(tmp_path), max_bytes=600, keep=10)
    for number in range(8):
        journal.write(record(f"t{number}", outcome=TransitionOutcome.SUCCEEDED))
    assert (tmp_path / "journal.jsonl.1").exists()
    assert [r.id for r in journal.records()] == [f"t{n}" for n in range(8)]


def test_rotation_keeps_only_the_configured_number_of_files(tmp_path):
    journal = Journal(str(tmp_path), max_bytes=300, keep=2)
    for number in range(10):
        journal.write(record(f"t{number}", outcome=TransitionOutcome.SUCCEEDED))
    assert not (tmp_path / "journal.jsonl.3").exists()
    assert len(journal.records()) < 10


def test_unreadable_lines_are_skipped(tmp_path):
    journal = Journal(str(tmp_path))
    journal.write(record("good", outcome=TransitionOutcome.SUCCEEDED))
    with open(tmp_path / "journal.jsonl", "a") as f:
        f.write('{"truncated": \n')
    assert [r.id for r in journal.records()] == ["good"]


def _exit_immediately():
    os._exit(0)


def test_running_record_of_a_dead_process_is_marked_interrupted(tmp_path):
    process = multiprocessing.get_context("fork").Process(target=_exit_immediately)
    process.start()
    process.join()
    journal = Journal(str(tmp_path))
    journal.write(record("crashed", pid=process.pid))
    journal.write(record("alive", pid=os.getpid()))
    interrupted = journal.mark_interrupted()
    assert [r.id for r in interrupted] == ["crashed"]
    outcomes = {r.id: r.outcome for r in journal.records()}
    assert outcomes == {
        "crashed": TransitionOutcome.INTERRUPTED,
        "alive": TransitionOutcome.RUNNING,
    }


def test_failures_within_the_window_hold_the_node(tmp_path):
    book = FailureBook(str(tmp_path))
    assert not book.record_failure(3, 600, demotion=240).held
    assert not book.record_failure(3, 600, demotion=0).held
    state = book.record_failure(3, 600, demotion=0)
    assert state.held and len(state.failures) == 3
    assert book.load().held
    assert book.load().demotion_added == 240


def test_failures_outside_the_window_are_forgotten(tmp_path):
    book = FailureBook(str(tmp_path))
    book.record_failure(2, 0.001, demotion=0)
    import time

    time.sleep(0.01)
    assert not book.record_failure(2, 0.001, demotion=0).held


def test_success_takes_the_demotion_back_and_clear_lifts_the_hold(tmp_path):
    book = FailureBook(str(tmp_path))
    book.record_failure(1, 600, demotion=240)
    assert book.load().held
    assert book.record_success().demotion_added == 0
    assert book.load().held  # only clear lifts the hold
    assert not book.clear().held
    assert book.load().failures == []


def test_second_actor_is_refused_while_the_lock_is_held(tmp_path):
    with ActorLock(str(tmp_path)) as held:
        assert (tmp_path / "carpswitch.lock").read_text().strip() == str(os.getpid())
        with pytest.raises(LockBusy) as caught, ActorLock(str(tmp_path), wait=0.1):
            pass
        assert str(os.getpid()) in str(caught.value)
        assert held.holder() == str(os.getpid())
    with ActorLock(str(tmp_path)):
        pass


def _hold_lock_and_die(run_dir):
    lock = ActorLock(run_dir)
    lock.__enter__()
    os._exit(9)


def test_a_crashed_holder_releases_the_lock(tmp_path):
    process = multiprocessing.get_context("fork").Process(
        target=_hold_lock_and_die, args=(str(tmp_path),)
    )
    process.start()
    process.join()
    with ActorLock(str(tmp_path), wait=1):
        pass
