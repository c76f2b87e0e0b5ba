"""Journal rotation and crash detection; the failure book; the actor lock; broken state
files; the demotion memory tied to the boot."""

import multiprocessing
import os
import stat
from datetime import UTC, datetime

import pytest

from carpswitch.config import Config
from carpswitch.engine.demotion import current_boottime, take_back
from carpswitch.engine.failures import FailoverState, FailureBook
from carpswitch.engine.journal import Journal
from carpswitch.engine.lock import ActorLock, LockBusy
from carpswitch.engine.pause import PauseFlag
from carpswitch.errors import CommandFailed, ParseError
from carpswitch.intake.lockfile import IntakeLock, is_busy
from carpswitch.model import TransitionKind, TransitionOutcome, TransitionRecord
from carpswitch.parse.sysctl import parse_boottime
from carpswitch.system.observe import Observer
from carpswitch.system.runner import CommandResult


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


BOOT = 1700000000


def test_failures_within_the_window_hold_the_node(tmp_path):
    book = FailureBook(str(tmp_path))
    assert not book.record_failure(3, 600, demotion=240, boottime=BOOT).held
    assert not book.record_failure(3, 600, demotion=0, boottime=BOOT).held
    state = book.record_failure(3, 600, demotion=0, boottime=BOOT)
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
    book.record_failure(1, 600, demotion=240, boottime=BOOT)
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


# --- broken state files (issue 8 item 12) ------------------------------------------


def test_a_stray_byte_skips_only_its_line_and_is_reported(tmp_path, caplog):
    journal = Journal(str(tmp_path))
    journal.write(record("before", outcome=TransitionOutcome.SUCCEEDED))
    with open(tmp_path / "journal.jsonl", "ab") as f:
        f.write(b"\xff\n")
    journal.write(record("after", outcome=TransitionOutcome.SUCCEEDED))
    assert [r.id for r in journal.records()] == ["before", "after"]
    assert journal.problems == [f"{tmp_path}/journal.jsonl:2: not UTF-8 (byte 0): line skipped"]
    assert journal.mark_interrupted() == []


def test_a_line_torn_inside_a_utf8_character_loses_only_itself(tmp_path):
    journal = Journal(str(tmp_path))
    journal.write(record("whole", outcome=TransitionOutcome.SUCCEEDED))
    torn = record("torn", pid=os.getpid())
    torn.reason = "caf\u00e9"
    line = (torn.model_dump_json() + "\n").encode()
    with open(tmp_path / "journal.jsonl", "ab") as f:
        f.write(line[: line.index("\u00e9".encode()) + 1])  # the disk filled up here
    journal.write(record("next", outcome=TransitionOutcome.SUCCEEDED))
    assert [r.id for r in journal.records()] == ["whole", "next"]
    assert len(journal.problems) == 1 and "line skipped" in journal.problems[0]


def test_a_journal_that_is_a_symlink_is_set_aside_and_its_target_untouched(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "journal.jsonl").symlink_to(victim)
    journal = Journal(str(tmp_path))
    assert journal.records() == []
    assert "a symbolic link (not followed)" in journal.problems[0]
    journal.write(record("t1", outcome=TransitionOutcome.SUCCEEDED))
    assert victim.read_text() == "precious\n"
    assert [r.id for r in journal.records()] == ["t1"]
    assert len(list(tmp_path.glob("journal.jsonl.corrupt-*"))) == 1


def _book_file(tmp_path):
    return tmp_path / "failover.json"


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe", b'{"failures": [', b'{"held": "perhaps"}', b"[]"],
    ids=["empty", "binary", "torn", "wrong-type", "not-an-object"],
)
def test_an_unreadable_failure_book_is_set_aside_and_holds(tmp_path, content):
    _book_file(tmp_path).write_bytes(content)
    book = FailureBook(str(tmp_path))
    peeked = book.peek()
    assert peeked.held and "failover.json is unreadable" in (peeked.note or "")
    assert _book_file(tmp_path).read_bytes() == content  # a reader changes nothing
    state = book.load()
    assert state.held and state.demotion_added == 0
    kept = list(tmp_path.glob("failover.json.corrupt-*"))
    assert [k.read_bytes() for k in kept] == [content]
    assert f"set aside as {kept[0].name}" in (state.note or "")
    again = book.load()  # the replacement is a readable, held book
    assert again.held and again.note == state.note
    assert len(list(tmp_path.glob("failover.json.corrupt-*"))) == 1


def test_a_failure_book_that_is_a_directory_or_symlink_holds(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text('{"held": false}')
    _book_file(tmp_path).symlink_to(victim)
    book = FailureBook(str(tmp_path))
    assert "a symbolic link (not followed)" in (book.load().note or "")
    assert victim.read_text() == '{"held": false}'
    _book_file(tmp_path).unlink()
    _book_file(tmp_path).mkdir()
    assert book.load().held
    assert _book_file(tmp_path).is_file()


def test_clear_repairs_an_unreadable_book(tmp_path):
    _book_file(tmp_path).write_bytes(b"")
    book = FailureBook(str(tmp_path))
    assert book.load().held
    book.clear()
    assert book.load() == FailoverState()


# --- demotion memory tied to the boot (issue 8 item 14) ----------------------------


def test_a_demotion_is_ours_only_in_the_boot_it_was_added_in(tmp_path):
    book = FailureBook(str(tmp_path))
    state = book.record_failure(3, 600, demotion=240, boottime=BOOT)
    assert state.demotion_of_boot(BOOT) == 240
    assert state.demotion_of_boot(BOOT + 1) == 240  # a leap second, a small clock step
    assert state.demotion_of_boot(BOOT + 3600) == 0  # rebooted: the kernel forgot it
    assert state.demotion_of_boot(None) == 0  # unknown boot: take back nothing


def test_a_failure_in_a_new_boot_forgets_the_old_boots_demotion(tmp_path):
    book = FailureBook(str(tmp_path))
    book.record_failure(3, 600, demotion=240, boottime=BOOT)
    state = book.record_failure(3, 600, demotion=240, boottime=BOOT + 3600)
    assert (state.demotion_added, state.demotion_boottime) == (240, BOOT + 3600)
    state = book.record_failure(3, 600, demotion=0, boottime=BOOT + 3600)
    assert state.demotion_added == 240


def test_boottime_is_parsed_from_sysctls_struct_timeval_text():
    text = "{ sec = 1700000000, usec = 123456 } Tue Nov 14 22:13:20 2023\n"
    assert parse_boottime(text) == (1700000000, 123456)
    with pytest.raises(ParseError):
        parse_boottime("1700000000\n")


class FakeSysctl:
    """A runner for `sysctl -n net.inet.carp.demotion` and `sysctl ...=-N` (adds, as FreeBSD)."""

    def __init__(self, demotion):
        self.demotion = demotion
        self.writes = []

    def run(self, command, *args, timeout=None, ok_codes=(0,), stdin=None):
        assert command == "sysctl"
        if args[0] == "-n":
            return printed((command, *args), f"{self.demotion}\n")
        name, _, value = args[0].partition("=")
        old, self.demotion = self.demotion, self.demotion + int(value)
        self.writes.append(int(value))
        return printed((command, *args), f"{name}: {old} -> {self.demotion}\n")


def printed(argv, stdout):
    """What the runner returns for a command that printed `stdout` and exited 0."""
    return CommandResult(argv=argv, exit_status=0, stdout=stdout, stderr="", duration=0.0)


@pytest.mark.parametrize(
    ("current", "writes", "left"),
    [(240, [-240], 0), (480, [-240], 240), (100, [-100], 0), (0, [], 0), (-20, [], -20)],
    ids=["ours", "kernel-added-more", "less-there", "nothing-there", "below-zero"],
)
def test_taking_back_never_lowers_more_than_is_there(current, writes, left):
    sysctl = FakeSysctl(current)
    observer = Observer(sysctl, Config())
    take_back(observer, 240, timeout=5)
    assert (sysctl.writes, sysctl.demotion) == (writes, left)


def test_boottime_is_read_with_sysctl_and_none_when_it_cannot_be():
    class Sysctl:
        def __init__(self, error=None):
            self.error = error

        def run(self, command, *args, timeout=None, ok_codes=(0,), stdin=None):
            assert (command, *args) == ("sysctl", "-n", "kern.boottime")
            if self.error:
                raise CommandFailed((command, *args), 1, "", self.error)
            return printed(args, "{ sec = 5, usec = 6 } Thu Jan  1 00:00:05 1970\n")

    assert current_boottime(Sysctl(), 5) == 5
    assert current_boottime(Sysctl("sysctl: unknown oid 'kern.boottime'"), 5) is None


# --- the pause flag and the locks: no symlink followed, no content trusted ---------


def test_a_binary_pause_file_still_pauses_and_reads_as_one_printable_line(tmp_path):
    (tmp_path / "paused").write_bytes(b"2026-12-01 \xff\x00upgrade\n\x1b[2Jmore")
    flag = PauseFlag(str(tmp_path))
    assert flag.is_set()
    assert flag.reason() == "2026-12-01 \ufffd upgrade [2Jmore"


def test_a_pause_symlink_pauses_but_is_never_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "paused").symlink_to(victim)
    flag = PauseFlag(str(tmp_path))
    assert flag.is_set()
    assert flag.reason() == "(paused is unreadable: a symbolic link (not followed))"
    flag.set("maintenance")
    assert victim.read_text() == "precious\n"
    assert (flag.reason() or "").endswith(" maintenance")
    assert flag.clear() and not flag.is_set()


def test_a_lock_file_that_is_a_symlink_is_set_aside_never_truncated(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "carpswitch.lock").symlink_to(victim)
    (tmp_path / "intake.lock").symlink_to(victim)
    assert not is_busy(str(tmp_path))
    with ActorLock(str(tmp_path)):
        assert (tmp_path / "carpswitch.lock").read_text() == f"{os.getpid()}\n"
    lock = IntakeLock(str(tmp_path), "worker")
    assert lock.try_acquire()
    lock.release()
    assert victim.read_text() == "precious\n"
    assert len(list(tmp_path.glob("*.lock.corrupt-*"))) == 2


def test_locks_are_created_private_in_a_private_run_dir(tmp_path):
    run_dir = tmp_path / "run"
    with ActorLock(str(run_dir)):
        pass
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((run_dir / "carpswitch.lock").stat().st_mode) == 0o600
