"""The append-only journal (issue 9 item 3): event lines and their rebuild, fsync points,
rotation that keeps the running transition, the running and last files, the witness."""

import errno
import json
import multiprocessing
import os
from datetime import UTC, datetime

import pytest

from carpswitch.config import Config, parse_config
from carpswitch.controller import Controller
from carpswitch.engine.executor import Executor, NotStarted
from carpswitch.engine.journal import Journal
from carpswitch.engine.plan import Plan
from carpswitch.engine.step import BatchedStep, Step, StepContext
from carpswitch.model import (
    StepOutcome,
    StepRecord,
    StepResult,
    TransitionKind,
    TransitionOutcome,
    TransitionRecord,
)
from carpswitch.topology import Group, Topology
from tests.fakes import FakeRunner

GROUP = Group(name="storage", vhid=1, resources=("a",))


class Fake(Step):
    """A step that logs its `do`; `looks` makes it a read-only check."""

    kind = "fake"
    timeout_key = "observe"

    def __init__(self, name, log, *, looks=False, fail=False):
        super().__init__(name)
        self.name, self.log, self.fail = name, log, fail
        self.reversible = not looks
        if looks:
            self.changes_node = False  # type: ignore[misc]

    def describe(self):
        return f"fake {self.name}"

    def do(self, ctx):
        self.log.append(self.name)
        if self.fail:
            from carpswitch.engine.step import StepFailed

            raise StepFailed(f"{self.name} broke")
        return f"{self.name} output"

    def undo(self, ctx):
        self.log.append(f"undo {self.name}")
        return ""


def executor_for(journal, group=GROUP):
    ctx = StepContext(
        runner=FakeRunner(),
        config=Config(),
        topology=Topology(node_names=("hasta",), resources={}, groups=(group,)),
        observer=None,  # type: ignore[arg-type]  # fake steps do not observe
    )
    return Executor(ctx, journal)


def promotion(log, chains=1, **plan):
    return Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={
            f"r{n}": [
                Fake(f"check{n}", log, looks=True),
                Fake(f"role{n}", log),
                Fake(f"mount{n}", log),
            ]
            for n in range(chains)
        },
        **plan,
    )


def lines(tmp_path, name="journal.jsonl"):
    return [json.loads(line) for line in (tmp_path / name).read_bytes().splitlines() if line]


def record(id_, outcome=TransitionOutcome.SUCCEEDED, pid=None, group="storage"):
    return TransitionRecord(
        id=id_,
        kind=TransitionKind.PROMOTE,
        group=group,
        trigger="test",
        reason="test",
        started_at=datetime.now(UTC),
        pid=pid,
        outcome=outcome,
    )


def result(description="fake step"):
    now = datetime.now(UTC)
    return StepResult(
        step=StepRecord(kind="fake", description=description, timeout=1),
        outcome=StepOutcome.OK,
        started_at=now,
        ended_at=now,
    )


# --- event lines and their rebuild --------------------------------------------------


def test_a_transition_is_one_line_per_event_and_rebuilds_to_its_record(tmp_path):
    log: list[str] = []
    journal = Journal(str(tmp_path))
    done = executor_for(journal).run(promotion(log), "test", "lines")
    events = lines(tmp_path)
    assert [e["event"] for e in events] == ["start", "step", "step", "step", "end"]
    assert "steps" not in events[0] and events[-1]["outcome"] == "succeeded"
    assert [e["result"]["step"]["description"] for e in events[1:4]] == [
        "fake check0",
        "fake role0",
        "fake mount0",
    ]
    assert journal.records() == [done]
    assert journal.last() == done
    assert journal.running() == [] and not list((tmp_path / "running").iterdir())


def test_a_rollback_journals_its_undo_list(tmp_path):
    log: list[str] = []
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={"a": [Fake("role", log), Fake("mount", log, fail=True)]},
        give_away=[Fake("demote-carp", log)],
    )
    journal = Journal(str(tmp_path))
    done = executor_for(journal).run(plan, "test", "rollback")
    assert done.outcome is TransitionOutcome.FAILED
    assert [e.get("undo") for e in lines(tmp_path) if e["event"] == "step"] == [
        False,
        False,
        True,
        True,
    ]
    assert journal.records() == [done]


def test_a_journal_of_whole_records_from_before_issue_9_is_still_history(tmp_path):
    old = record("old", outcome=TransitionOutcome.RUNNING, pid=1)
    with open(tmp_path / "journal.jsonl", "w") as f:
        f.write(old.model_dump_json() + "\n")  # as written at the start
        old.steps.append(result("role primary"))
        old.outcome, old.ended_at = TransitionOutcome.SUCCEEDED, datetime.now(UTC)
        f.write(old.model_dump_json() + "\n")  # the whole record again at the end
    journal = Journal(str(tmp_path))
    journal.write(record("new"))
    shown = journal.records()
    assert [(r.id, r.outcome) for r in shown] == [
        ("old", TransitionOutcome.SUCCEEDED),
        ("new", TransitionOutcome.SUCCEEDED),
    ]
    assert [s.step.description for s in shown[0].steps] == ["role primary"]


def test_a_step_line_torn_by_a_full_disk_loses_only_itself(tmp_path, monkeypatch):
    journal = Journal(str(tmp_path))
    running = record("t1", outcome=TransitionOutcome.RUNNING, pid=os.getpid())
    journal.begin(running)
    journal.add_step("t1", result("first"))
    real = os.write

    def full(fd, data):
        real(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match="No space left"):
        journal.add_step("t1", result("torn"))
    monkeypatch.setattr(os, "write", real)  # space again
    journal.add_step("t1", result("after"))
    running.outcome, running.ended_at = TransitionOutcome.SUCCEEDED, datetime.now(UTC)
    journal.finish(running)
    [rebuilt] = journal.records()
    assert [s.step.description for s in rebuilt.steps] == ["first", "after"]
    assert rebuilt.outcome is TransitionOutcome.SUCCEEDED
    assert journal.problems == [f"{tmp_path}/journal.jsonl:3: not a journal record: line skipped"]


def test_a_line_torn_by_a_crash_is_ended_before_the_next_transition(tmp_path):
    journal = Journal(str(tmp_path))
    journal.write(record("before"))
    with open(tmp_path / "journal.jsonl", "ab") as f:
        f.write(b'{"event":"step","id":"dead","res')  # the process died here
    journal.write(record("after"))
    assert [r.id for r in journal.records()] == ["before", "after"]
    assert len(journal.problems) == 1


def test_status_checks_only_the_end_of_the_journal(tmp_path):
    journal = Journal(str(tmp_path))
    with open(tmp_path / "journal.jsonl", "wb") as f:
        f.write(b"\xff torn long ago\n" + b"x" * (1 << 17) + b"\n")
        f.write(record("t1").model_dump_json().encode() + b"\n")
        f.write(b'{"event": "end", "id"\n')
    journal.check_end()
    assert len(journal.problems) == 1
    assert journal.problems[0].endswith("not a journal record: line skipped")
    assert "near byte" in journal.problems[0]


# --- fsync points -------------------------------------------------------------------


class Fsyncs:
    """Every fsync as (file name, steps done by then)."""

    def __init__(self):
        self.log: list[str] = []
        self.seen: list[tuple[str, int]] = []

    def of_journal(self):
        return [done for name, done in self.seen if name == "journal.jsonl"]


@pytest.fixture
def fsyncs(monkeypatch):
    counted, real = Fsyncs(), os.fsync

    def counting(fd):
        counted.seen.append(
            (os.path.basename(os.readlink(f"/proc/self/fd/{fd}")), len(counted.log))
        )
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return counted


def test_the_journal_is_fsynced_at_the_start_before_each_change_and_at_the_end(tmp_path, fsyncs):
    journal = Journal(str(tmp_path))
    executor_for(journal).run(promotion(fsyncs.log), "test", "fsync")
    assert fsyncs.log == ["check0", "role0", "mount0"]
    # the start; before role (covers check's result); before mount (role's); the end
    assert fsyncs.of_journal() == [0, 1, 2, 3]
    # besides: the running file's name (its directory) at the start; last.json is a cache
    assert [name for name, _ in fsyncs.seen if name != "journal.jsonl"] == ["running"]


def test_a_demotion_fsyncs_its_start_and_its_end_only(tmp_path, fsyncs):
    plan = Plan(
        TransitionKind.DEMOTE,
        GROUP,
        chains={"a": [Fake("stop", fsyncs.log), Fake("umount", fsyncs.log), Fake("role", [])]},
    )
    executor_for(Journal(str(tmp_path))).run(plan, "test", "backup")
    assert fsyncs.of_journal() == [0, 2]  # the peer waits for this node's release
    assert len(lines(tmp_path)) == 5


def test_one_fsync_covers_every_chain_and_no_step_waits_for_a_record(tmp_path, fsyncs):
    journal = Journal(str(tmp_path))
    executor_for(journal).run(promotion(fsyncs.log, chains=64), "test", "group commit")
    assert len(fsyncs.log) == 64 * 3
    assert 2 <= len(fsyncs.of_journal()) <= 2 + 2 * 64  # at most one per change, often shared
    assert len(lines(tmp_path)) == 2 + 64 * 3


def test_journal_bytes_grow_with_the_steps_not_with_their_square(tmp_path):
    sizes = {}
    for chains in (1, 64):
        directory = tmp_path / str(chains)
        executor_for(Journal(str(directory))).run(promotion([], chains=chains), "test", "size")
        sizes[chains] = (directory / "journal.jsonl").stat().st_size
    assert sizes[64] < 64 * sizes[1]  # each line once: less than 64 one-resource journals


# --- the witness rule ---------------------------------------------------------------


def failing_fsync(monkeypatch, after):
    """os.fsync of the journal fails with ENOSPC after `after` successful ones."""
    real, left = os.fsync, [after]

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("journal.jsonl"):
            if left[0] <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            left[0] -= 1
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_promotion_whose_start_is_not_durable_does_not_start(tmp_path, monkeypatch):
    failing_fsync(monkeypatch, after=0)
    log: list[str] = []
    journal = Journal(str(tmp_path))
    with pytest.raises(NotStarted, match="No space left on device"):
        executor_for(journal).run(promotion(log), "test", "master")
    assert log == []
    assert not list((tmp_path / "running").iterdir())  # nothing says it runs


def test_a_change_the_journal_cannot_witness_is_not_made_and_is_rolled_back(tmp_path, monkeypatch):
    failing_fsync(monkeypatch, after=1)  # the start only
    log: list[str] = []
    plan = promotion(log, give_away=[Fake("demote-carp", log)])
    done = executor_for(Journal(str(tmp_path))).run(plan, "test", "master")
    assert log == ["check0", "demote-carp"]  # role never ran
    assert done.outcome is TransitionOutcome.FAILED
    assert [(s.step.description, s.outcome) for s in done.steps] == [
        ("fake check0", StepOutcome.OK),
        ("fake role0", StepOutcome.FAILED),
        ("fake mount0", StepOutcome.SKIPPED),
        (f"write the journal {tmp_path}/journal.jsonl", StepOutcome.FAILED),
    ]


def test_a_demotion_goes_on_when_no_fsync_works(tmp_path, monkeypatch):
    failing_fsync(monkeypatch, after=0)
    log: list[str] = []
    plan = Plan(TransitionKind.DEMOTE, GROUP, chains={"a": [Fake("umount", log)]})
    done = executor_for(Journal(str(tmp_path))).run(plan, "test", "backup")
    assert log == ["umount"] and done.outcome is TransitionOutcome.SUCCEEDED


def test_steps_are_journaled_outside_the_executors_lock(tmp_path):
    held = []

    class Watching(Journal):
        def append(self, data, sync=False):
            held.append(executor._lock.locked())
            super().append(data, sync)

    executor = executor_for(Watching(str(tmp_path)))
    executor.run(promotion([]), "test", "lock")
    assert held == [False] * 5


# --- rotation -----------------------------------------------------------------------


def test_the_journal_never_rotates_while_a_transition_is_open(tmp_path):
    journal = Journal(str(tmp_path), max_bytes=200, keep=1)
    running = record("long", outcome=TransitionOutcome.RUNNING, pid=os.getpid())
    journal.begin(running)
    for number in range(20):
        journal.add_step("long", result(f"step {number}"))
        journal.write(record(f"refusal{number}", outcome=TransitionOutcome.REFUSED))
    assert not (tmp_path / "journal.jsonl.1").exists()
    running.outcome, running.ended_at = TransitionOutcome.SUCCEEDED, datetime.now(UTC)
    journal.finish(running)
    journal.write(record("next"))  # rotates now, between transitions
    assert (tmp_path / "journal.jsonl.1").exists()
    shown = {r.id: r for r in journal.records()}
    assert len(shown["long"].steps) == 20 and "next" in shown


def test_a_promote_and_demote_at_64_resources_keep_each_others_history(tmp_path):
    journal = Journal(str(tmp_path))  # the default size: 1 MiB, 4 files
    executor = executor_for(journal)
    executor.run(promotion([], chains=64), "test", "promote")
    demotion = Plan(
        TransitionKind.DEMOTE, GROUP, chains={f"r{n}": [Fake("umount", [])] for n in range(64)}
    )
    executor.run(demotion, "test", "demote")
    assert [r.kind for r in journal.records()] == [TransitionKind.PROMOTE, TransitionKind.DEMOTE]
    assert not (tmp_path / "journal.jsonl.1").exists()


# --- running and last files ---------------------------------------------------------


def _exit_immediately():
    os._exit(0)


def dead_pid():
    process = multiprocessing.get_context("fork").Process(target=_exit_immediately)
    process.start()
    process.join()
    return process.pid


def test_a_crashed_transition_is_closed_from_its_running_file_with_its_steps(tmp_path):
    journal = Journal(str(tmp_path))
    crashed = record("crashed", outcome=TransitionOutcome.RUNNING, pid=dead_pid())
    journal.begin(crashed)
    journal.add_step("crashed", result("role primary"))
    later = Journal(str(tmp_path))  # the next actor
    [closed] = later.mark_interrupted()
    assert closed.outcome is TransitionOutcome.INTERRUPTED
    assert [s.step.description for s in closed.steps] == ["role primary"]
    assert later.last() == closed
    assert [r.outcome for r in later.records()] == [TransitionOutcome.INTERRUPTED]
    assert later.mark_interrupted() == []


def test_a_transition_that_ended_before_its_running_file_went_is_not_interrupted(tmp_path):
    journal = Journal(str(tmp_path))
    ended = record("ended", outcome=TransitionOutcome.RUNNING, pid=dead_pid())
    journal.begin(ended)
    entry = (tmp_path / "running" / "ended").read_bytes()
    ended.outcome, ended.ended_at = TransitionOutcome.SUCCEEDED, datetime.now(UTC)
    journal.finish(ended)
    (tmp_path / "running" / "ended").write_bytes(entry)  # the crash came before the unlink
    assert Journal(str(tmp_path)).mark_interrupted() == []
    assert [r.outcome for r in journal.records()] == [TransitionOutcome.SUCCEEDED]
    assert not (tmp_path / "running" / "ended").exists()


def test_a_reused_pid_does_not_keep_a_crashed_transition_running(tmp_path):
    journal = Journal(str(tmp_path))
    crashed = record("crashed", outcome=TransitionOutcome.RUNNING, pid=os.getpid())
    journal.begin(crashed)
    path = tmp_path / "running" / "crashed"
    entry = json.loads(path.read_text())
    assert journal.running() != []
    entry["pid_started"] -= 3600  # the pid is ours now, the process that started it is gone
    path.write_text(json.dumps(entry))
    assert journal.running() == []
    assert [r.id for r in Journal(str(tmp_path)).mark_interrupted()] == ["crashed"]


@pytest.mark.parametrize("broken", ["garbage", "symlink"])
def test_an_unreadable_running_file_is_reported_then_set_aside_and_closed(tmp_path, broken):
    journal = Journal(str(tmp_path))
    crashed = record("crashed", outcome=TransitionOutcome.RUNNING, pid=dead_pid())
    journal.begin(crashed)
    path = tmp_path / "running" / "crashed"
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path.unlink()
    if broken == "garbage":
        path.write_bytes(b'{"record": \xff')
    else:
        path.symlink_to(victim)
    reader = Journal(str(tmp_path))
    assert reader.running() == []
    assert len(reader.problems) == 1 and "running/crashed: unreadable" in reader.problems[0]
    assert path.is_symlink() or path.exists()  # status changes nothing
    assert Journal(str(tmp_path)).mark_interrupted() == []
    assert not os.path.lexists(path)
    assert len(list((tmp_path / "running").glob("crashed.corrupt-*"))) == 1
    assert [r.outcome for r in reader.records()] == [TransitionOutcome.INTERRUPTED]
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("broken", ["missing", "garbage", "symlink"])
def test_an_unreadable_last_file_shows_no_last_and_is_replaced(tmp_path, broken):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    last = tmp_path / "last.json"
    if broken == "garbage":
        last.write_bytes(b"\xff\x00")
    elif broken == "symlink":
        last.symlink_to(victim)
    journal = Journal(str(tmp_path))
    assert journal.last() is None and journal.last_of("storage") is None
    assert len(journal.problems) == (broken != "missing")
    journal.write(record("t1"))
    assert journal.last() is not None and journal.last().id == "t1"  # type: ignore[union-attr]
    assert last.is_file() and not last.is_symlink()
    assert len(list(tmp_path.glob("last.json.corrupt-*"))) == (broken != "missing")
    assert victim.read_text() == "precious\n"


def test_the_last_file_keeps_each_groups_last_outcome(tmp_path):
    journal = Journal(str(tmp_path))
    journal.write(record("a1", group="a", outcome=TransitionOutcome.REFUSED))
    journal.write(record("b1", group="b"))
    assert journal.last_of("a").id == "a1"  # type: ignore[union-attr]
    assert journal.last_of("b").outcome is TransitionOutcome.SUCCEEDED  # type: ignore[union-attr]
    assert journal.last().id == "b1"  # type: ignore[union-attr]


def test_a_refusal_is_journaled_once_while_it_stays_the_same_without_reading_the_journal(
    tmp_path, monkeypatch
):
    class Context:
        config = parse_config({"paths": {"state_dir": str(tmp_path)}})

    controller = Controller(Context())  # type: ignore[arg-type]
    monkeypatch.setattr(Journal, "records", lambda self: pytest.fail("read the journal"))
    for _ in range(3):
        controller.close_interrupted()
        controller.refuse(GROUP, TransitionKind.PROMOTE, "timer", "vhid 1 is missing")
    controller.refuse(GROUP, TransitionKind.PROMOTE, "timer", "another reason")
    assert len(lines(tmp_path)) == 2


def test_status_reads_the_running_and_last_files_not_the_journal(tmp_path, monkeypatch):
    from carpswitch.commands.status import controller_status

    config = parse_config(
        {"paths": {"state_dir": str(tmp_path / "db"), "run_dir": str(tmp_path / "run")}}
    )
    journal = Journal(config.paths.state_dir)
    journal.write(record("done"))
    running = record("now", outcome=TransitionOutcome.RUNNING, pid=os.getpid())
    journal.begin(running)
    journal.add_step("now", result("hastctl role primary tank"))
    monkeypatch.setattr(Journal, "records", lambda self: pytest.fail("read the journal"))
    shown = controller_status(config, boottime=None)
    assert [(r.id, [s.step.description for s in r.steps]) for r in shown.running] == [
        ("now", ["hastctl role primary tank"])
    ]
    assert shown.last is not None and shown.last.id == "done"
    assert shown.state_problems == []


def test_a_running_directory_that_is_a_symlink_is_never_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "running").symlink_to(elsewhere)
    journal = Journal(str(tmp_path))
    assert journal.running() == []
    assert journal.problems == [f"{tmp_path}/running: unreadable (not a directory)"]
    executor_for(journal).run(promotion([]), "test", "symlink")
    assert list(elsewhere.iterdir()) == []
    assert (tmp_path / "running").is_dir() and not (tmp_path / "running").is_symlink()
    assert len(list(tmp_path.glob("running.corrupt-*"))) == 1


class FakeRoles(Fake, BatchedStep):
    """A batched fake (`hastctl role primary a b ...`): one call for every chain."""

    def do_batch(self, ctx, steps):
        self.log.append("role " + " ".join(s.name for s in steps))
        return [f"{s.name} ok" for s in steps]


def test_a_batched_change_the_journal_cannot_witness_is_not_made(tmp_path, monkeypatch):
    failing_fsync(monkeypatch, after=1)  # the start only
    log: list[str] = []
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={n: [Fake(f"check-{n}", log, looks=True), FakeRoles(n, log)] for n in "ab"},
        give_away=[Fake("demote-carp", log)],
    )
    done = executor_for(Journal(str(tmp_path))).run(plan, "test", "master")
    assert sorted(log[:2]) == ["check-a", "check-b"]
    assert log[2:] == ["demote-carp"]  # the one role call never ran
    assert done.outcome is TransitionOutcome.FAILED
    roles = [s for s in done.steps if s.step.description in ("fake a", "fake b")]
    assert [s.outcome for s in roles] == [StepOutcome.FAILED] * 2
    assert all("cannot write the journal" in s.detail for s in roles)


def test_a_batched_change_is_made_once_the_journal_is_durable(tmp_path, fsyncs):
    log = fsyncs.log
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={n: [Fake(f"check-{n}", log, looks=True), FakeRoles(n, log)] for n in "ab"},
    )
    done = executor_for(Journal(str(tmp_path))).run(plan, "test", "master")
    assert done.outcome is TransitionOutcome.SUCCEEDED
    assert log[2:] == ["role a b"]
    assert fsyncs.of_journal() == [0, 2, 3]  # the start, before the one role call, the end
