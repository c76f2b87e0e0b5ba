"""The event inbox: atomic records, takes that empty it, bad entries dropped."""

import multiprocessing
import os
import stat
import time
from pathlib import Path

import pytest

from carpswitch.errors import ParseError
from carpswitch.intake.inbox import Inbox, IntakeEvent, decode_event


def test_recorded_events_are_taken_oldest_first_and_only_once(tmp_path):
    inbox = Inbox(str(tmp_path))
    first = IntakeEvent("hook", "MASTER", "1@vtnet0", 1.5)
    second = IntakeEvent("hook", "BACKUP", "vtnet0", 2.5)
    inbox.record(first)
    inbox.record(second)
    assert inbox.pending() == 2
    taken = inbox.take()
    assert taken.events == [first, second]
    assert taken.problems == []
    assert inbox.take().events == []
    assert inbox.pending() == 0


def test_an_empty_or_missing_inbox_has_nothing(tmp_path):
    inbox = Inbox(str(tmp_path / "nowhere"))
    assert inbox.pending() == 0
    assert inbox.take().events == []


def test_a_file_that_is_not_an_event_is_dropped_and_named(tmp_path):
    inbox = Inbox(str(tmp_path))
    good = IntakeEvent("hook", "MASTER", "1@vtnet0", 1.0)
    inbox.record(good)
    bad = Path(inbox.directory) / "00000000000000000001-1.event"
    bad.write_bytes(b"not an event")
    taken = inbox.take()
    assert taken.events == [good]
    assert len(taken.problems) == 1
    assert bad.name in taken.problems[0]
    assert not bad.exists()


def test_temporary_files_are_not_events_and_stale_ones_are_removed(tmp_path):
    inbox = Inbox(str(tmp_path))
    directory = Path(inbox.directory)
    directory.mkdir()
    fresh = directory / ".00000000000000000002-1.event"
    stale = directory / ".00000000000000000001-1.event"
    for path in (fresh, stale):
        path.write_bytes(IntakeEvent("hook").encode())
    old = time.time() - 3600
    os.utime(stale, (old, old))
    assert inbox.pending() == 0
    assert inbox.take().events == []
    assert fresh.exists()
    assert not stale.exists()


def _record_many(run_dir: str, count: int) -> None:
    inbox = Inbox(run_dir)
    for number in range(count):
        inbox.record(IntakeEvent("hook", "MASTER", f"{number}@vtnet0", float(number)))


def test_concurrent_writers_lose_no_event(tmp_path):
    workers = [
        multiprocessing.get_context("spawn").Process(target=_record_many, args=(str(tmp_path), 50))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    taken = []
    inbox = Inbox(str(tmp_path))
    while any(w.is_alive() for w in workers):
        taken += inbox.take().events
    for worker in workers:
        worker.join(timeout=30)
    taken += inbox.take().events
    assert len(taken) == 200


def test_an_event_survives_encoding():
    event = IntakeEvent("devd", "BACKUP", "12@lagg0.100", 1700000000.25)
    assert decode_event(event.encode()) == event


@pytest.mark.parametrize(
    "data",
    [
        b"\xff",
        b"",
        b"hook\tMASTER\t1@vtnet0\n",
        b"hook\tMASTER\t1@vtnet0\t1.0\textra\n",
        b"\tMASTER\t1@vtnet0\t1.0\n",
        b"hook\tMASTER\t1@vtnet0\tnow\n",
        b"hook\tMASTER\t1@vtnet0\tnan\n",
        b"hook\tMASTER\t1@vt\nnet0\t1.0\n",
    ],
)
def test_anything_else_is_a_parse_error_naming_the_source(data):
    with pytest.raises(ParseError) as caught:
        decode_event(data)
    assert caught.value.source == "intake event"


def test_a_field_with_a_tab_cannot_be_encoded():
    with pytest.raises(ValueError, match="tab or newline"):
        IntakeEvent("hook", "MASTER", "1@vt\tnet0").encode()


def test_the_encoding_is_one_tab_separated_line():
    event = IntakeEvent("hook", "MASTER", "1@vtnet0", 2.5)
    assert event.encode() == b"hook\tMASTER\t1@vtnet0\t2.5\n"


def test_describe_reads_like_a_journal_trigger():
    assert IntakeEvent("hook", "MASTER", "1@vtnet0").describe() == "hook MASTER 1@vtnet0"
    assert IntakeEvent("resume").describe() == "resume"


def test_the_inbox_is_private_and_its_events_too(tmp_path):
    run_dir = tmp_path / "run"
    path = Inbox(str(run_dir)).record(IntakeEvent("hook", "MASTER", "1@vtnet0", 1.0))
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((run_dir / "events").stat().st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_an_event_that_is_a_symlink_or_a_directory_is_dropped_never_followed(tmp_path):
    inbox = Inbox(str(tmp_path))
    good = IntakeEvent("hook", "MASTER", "1@vtnet0", 1.0)
    inbox.record(good)
    victim = tmp_path / "victim"
    victim.write_bytes(IntakeEvent("forged", "MASTER", "1@vtnet0", 2.0).encode())
    link = Path(inbox.directory) / "00000000000000000001-1.event"
    link.symlink_to(victim)
    directory = Path(inbox.directory) / "00000000000000000002-1.event"
    directory.mkdir()
    taken = inbox.take()
    assert taken.events == [good]
    assert [p.split(":")[0] for p in taken.problems] == [link.name, directory.name]
    assert "symbolic link" in taken.problems[0]
    assert not os.path.lexists(link) and not directory.exists()
    assert victim.exists()
