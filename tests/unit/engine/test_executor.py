"""The executor: ordering, parallel chains, rollback, demotion that never stops, journal."""

import errno
import logging
import os
import threading
import time

import pytest

from carpswitch.config import Config
from carpswitch.engine.executor import Executor, NotStarted
from carpswitch.engine.journal import Journal
from carpswitch.engine.plan import Plan
from carpswitch.engine.step import AlreadyDone, Step, StepContext, StepFailed
from carpswitch.errors import CommandTimedOut, ParseError
from carpswitch.model import StepOutcome, TransitionKind, TransitionOutcome
from carpswitch.topology import Group, Topology
from tests.fakes import FakeRunner


class Recorded(Step):
    """A step that logs do/undo into a shared list; may be done already, fail or be slow."""

    kind = "fake"
    timeout_key = "observe"

    def __init__(self, name, log, *, done=False, fail=False, delay=0.0, reversible=True):
        super().__init__(name)
        self.name, self.log, self.done, self.fail, self.delay = name, log, done, fail, delay
        self.reversible = reversible

    def describe(self):
        return f"fake {self.name}"

    def is_done(self, ctx):
        return self.done

    def do(self, ctx):
        time.sleep(self.delay)
        self.log.append(f"do {self.name}")
        if self.fail:
            raise StepFailed(f"{self.name} broke")
        return f"{self.name} output"

    def undo(self, ctx):
        self.log.append(f"undo {self.name}")
        return ""


class UntilAbort(Recorded):
    """A step still running when another chain fails: it ends once the abort is raised."""

    def __init__(self, name, log, **kwargs):
        super().__init__(name, log, **kwargs)
        self.running = threading.Event()

    def do(self, ctx):
        self.running.set()
        assert ctx.abort.wait(10), "the failing chain never raised the abort"
        return super().do(ctx)


class FailsWhile(Recorded):
    """A failing step that fails only once `other` is running (no race on who is first)."""

    def __init__(self, name, log, other):
        super().__init__(name, log, fail=True)
        self.other = other

    def do(self, ctx):
        assert self.other.running.wait(10), "the other chain never started"
        return super().do(ctx)


class Unreadable(Recorded):
    """A step that fails because a command that reads the node failed."""

    reads_only = True

    changes_node = False

    def __init__(self, name, log, *, in_check=False):
        super().__init__(name, log)
        self.in_check = in_check

    def is_done(self, ctx):
        if self.in_check:
            raise ParseError("hastctl list", "garbage")
        return False

    def do(self, ctx):
        self.log.append(f"do {self.name}")
        raise CommandTimedOut(("hastctl", "list"), 10.0, "", "")


GROUP = Group(name="storage", vhid=1, resources=("a", "b"))


def make_executor(tmp_path):
    ctx = StepContext(
        runner=FakeRunner(),
        config=Config(),
        topology=Topology(node_names=("hasta",), resources={}, groups=(GROUP,)),
        observer=None,  # type: ignore[arg-type]  # fake steps do not observe
    )
    journal = Journal(str(tmp_path))
    seen = []
    executor = Executor(ctx, journal, on_step=lambda record, result: seen.append(result))
    return executor, journal, seen


def test_promote_runs_before_then_chains_then_after(tmp_path):
    log: list[str] = []
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        before=[Recorded("hook", log)],
        chains={"a": [Recorded("a1", log), Recorded("a2", log)]},
        after=[Recorded("svc", log)],
    )
    executor, journal, seen = make_executor(tmp_path)
    record = executor.run(plan, "test", "because")
    assert log == ["do hook", "do a1", "do a2", "do svc"]
    assert record.outcome is TransitionOutcome.SUCCEEDED
    assert [r.outcome for r in record.steps] == [StepOutcome.OK] * 4
    assert len(seen) == 4
    assert journal.records()[-1] == record


def test_steps_already_done_are_noops_and_the_transition_is_a_noop(tmp_path):
    log: list[str] = []
    plan = Plan(TransitionKind.PROMOTE, GROUP, chains={"a": [Recorded("a1", log, done=True)]})
    executor, _, _ = make_executor(tmp_path)
    record = executor.run(plan, "test", "again")
    assert log == []
    assert record.outcome is TransitionOutcome.NOOP
    assert record.steps[0].outcome is StepOutcome.NOOP


class AnsweredDone(Recorded):
    """A step whose command answers that there was nothing to do (`umount`: not mounted)."""

    def do(self, ctx):
        self.log.append(f"do {self.name}")
        raise AlreadyDone("umount: /hast/tank: not a file system root directory")


def test_a_step_whose_command_says_already_done_is_a_noop_not_a_change(tmp_path):
    log: list[str] = []
    plan = Plan(TransitionKind.DEMOTE, GROUP, chains={"a": [AnsweredDone("umount", log)]})
    executor, _, _ = make_executor(tmp_path)
    record = executor.run(plan, "test", "backup")
    assert log == ["do umount"]  # it ran: the command, not a look, decided
    assert record.outcome is TransitionOutcome.NOOP
    assert record.steps[0].outcome is StepOutcome.NOOP
    assert record.steps[0].detail == (
        "already done: umount: /hast/tank: not a file system root directory"
    )


def test_failed_promotion_runs_the_demotion_then_undoes_the_rest_then_gives_away(tmp_path):
    log: list[str] = []
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={
            "a": [
                Recorded("role", log, reversible=False),
                Recorded("undemote", log),
                Recorded("mount", log, fail=True),
                Recorded("x", log),
            ]
        },
        rollback=Plan(
            TransitionKind.DEMOTE,
            GROUP,
            before=[Recorded("stop-svc", log, done=True)],  # what ran before is taken too
            chains={"a": [Recorded("umount", log), Recorded("secondary", log)]},
        ),
        give_away=[Recorded("demote-carp", log, reversible=False)],
    )
    executor, _, _ = make_executor(tmp_path)
    record = executor.run(plan, "test", "boom")
    assert log == [
        "do role",
        "do undemote",
        "do mount",
        "do umount",
        "do secondary",
        "undo undemote",
        "do demote-carp",
    ]
    assert record.outcome is TransitionOutcome.FAILED
    assert [r.outcome for r in record.steps] == [
        StepOutcome.OK,
        StepOutcome.OK,
        StepOutcome.FAILED,
        StepOutcome.SKIPPED,
    ]
    assert "mount broke" in record.steps[2].detail
    assert [(r.step.description, r.outcome) for r in record.undo] == [
        ("fake stop-svc", StepOutcome.NOOP),
        ("fake umount", StepOutcome.OK),
        ("fake secondary", StepOutcome.OK),
        ("fake undemote", StepOutcome.UNDONE),
        ("fake demote-carp", StepOutcome.OK),
    ]


def test_rollback_goes_on_after_a_failing_step(tmp_path):
    log: list[str] = []
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={"a": [Recorded("bad", log, fail=True)]},
        rollback=Plan(
            TransitionKind.DEMOTE,
            GROUP,
            before=[Recorded("stop-svc", log, fail=True)],
            chains={"a": [Recorded("umount", log, fail=True), Recorded("secondary", log)]},
        ),
        give_away=[Recorded("demote-carp", log)],
    )
    executor, _, _ = make_executor(tmp_path)
    executor.run(plan, "test", "boom")
    assert log[1:] == ["do stop-svc", "do umount", "do secondary", "do demote-carp"]


class Doubtful(Recorded):
    """A step whose 'already done?' check cannot read the node."""

    def is_done(self, ctx):
        raise CommandTimedOut(("hastctl", "list"), 10.0, "", "")


def test_demotion_runs_a_step_whose_check_fails(tmp_path):
    log: list[str] = []
    plan = Plan(TransitionKind.DEMOTE, GROUP, chains={"a": [Doubtful("secondary", log)]})
    executor, _, _ = make_executor(tmp_path)
    record = executor.run(plan, "test", "backup")
    assert log == ["do secondary"]
    assert record.outcome is TransitionOutcome.SUCCEEDED
    assert record.steps[0].outcome is StepOutcome.OK
    assert "could not tell whether it was already done" in record.steps[0].detail
    assert "hastctl list: timed out after 10 s" in record.steps[0].detail


def test_rollback_runs_a_step_whose_check_fails(tmp_path):
    log: list[str] = []
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={"a": [Recorded("bad", log, fail=True)]},
        rollback=Plan(TransitionKind.DEMOTE, GROUP, chains={"a": [Doubtful("secondary", log)]}),
    )
    executor, _, _ = make_executor(tmp_path)
    record = executor.run(plan, "test", "boom")
    assert log == ["do bad", "do secondary"]
    assert record.undo[0].outcome is StepOutcome.OK
    assert "ran it anyway" in record.undo[0].detail


def test_promotion_never_acts_on_a_check_that_fails(tmp_path):
    log: list[str] = []
    plan = Plan(TransitionKind.PROMOTE, GROUP, chains={"a": [Doubtful("primary", log)]})
    executor, _, _ = make_executor(tmp_path)
    record = executor.run(plan, "test", "master")
    assert log == []
    assert record.steps[0].outcome is StepOutcome.TIMED_OUT


def test_irreversible_steps_are_not_undone(tmp_path):
    log: list[str] = []
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={"a": [Recorded("wait", log, reversible=False), Recorded("bad", log, fail=True)]},
    )
    executor, _, _ = make_executor(tmp_path)
    executor.run(plan, "test", "boom")
    assert "undo wait" not in log


def test_resources_run_in_parallel(tmp_path):
    log: list[str] = []
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={"a": [Recorded("a", log, delay=0.4)], "b": [Recorded("b", log, delay=0.4)]},
    )
    executor, _, _ = make_executor(tmp_path)
    started = time.monotonic()
    record = executor.run(plan, "test", "parallel")
    assert time.monotonic() - started < 0.75
    assert record.outcome is TransitionOutcome.SUCCEEDED


def test_a_failing_resource_stops_the_others_after_their_current_step(tmp_path):
    log: list[str] = []
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={
            "a": [FailsWhile("a-fails", log, b1 := UntilAbort("b1", log))],
            "b": [b1, Recorded("b2", log)],
        },
        after=[Recorded("svc", log)],
    )
    executor, _, _ = make_executor(tmp_path)
    record = executor.run(plan, "test", "abort")
    assert log.index("do a-fails") < log.index("do b1")  # b1 was still running
    assert "do b2" not in log and "do svc" not in log
    assert "undo b1" in log
    assert record.outcome is TransitionOutcome.FAILED


def test_demotion_runs_every_step_even_after_failures(tmp_path):
    log: list[str] = []
    plan = Plan(
        TransitionKind.DEMOTE,
        GROUP,
        before=[Recorded("stop-svc", log, fail=True)],
        chains={"a": [Recorded("umount", log, fail=True), Recorded("secondary", log)]},
    )
    executor, _, _ = make_executor(tmp_path)
    record = executor.run(plan, "test", "backup")
    assert log == ["do stop-svc", "do umount", "do secondary"]
    assert record.outcome is TransitionOutcome.FAILED
    assert record.undo == []
    assert [r.outcome for r in record.steps] == [
        StepOutcome.FAILED,
        StepOutcome.FAILED,
        StepOutcome.OK,
    ]


def test_every_step_is_journaled_while_the_transition_runs(tmp_path):
    log: list[str] = []
    gate = threading.Event()

    class Blocking(Recorded):
        def do(self, ctx):
            gate.wait(5)
            return super().do(ctx)

    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={"a": [Recorded("first", log), Blocking("second", log)]},
    )
    executor, journal, _ = make_executor(tmp_path)
    thread = threading.Thread(target=executor.run, args=(plan, "test", "journal"))
    thread.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        records = journal.records()
        if records and records[-1].steps:
            break
        time.sleep(0.02)
    in_progress = journal.records()[-1]
    assert in_progress.outcome is TransitionOutcome.RUNNING
    assert [s.step.description for s in in_progress.steps] == ["fake first"]
    assert journal.running() == [in_progress]
    gate.set()
    thread.join(5)
    assert journal.records()[-1].outcome is TransitionOutcome.SUCCEEDED


def test_step_timings_are_recorded(tmp_path):
    log: list[str] = []
    plan = Plan(TransitionKind.PROMOTE, GROUP, chains={"a": [Recorded("slow", log, delay=0.2)]})
    executor, _, _ = make_executor(tmp_path)
    record = executor.run(plan, "test", "timing")
    assert record.steps[0].duration >= 0.2
    assert record.ended_at is not None and record.ended_at >= record.started_at


def test_a_crashing_step_fails_the_transition_instead_of_escaping(tmp_path):
    class Buggy(Recorded):
        def do(self, ctx):
            raise KeyError("bug")

    plan = Plan(TransitionKind.PROMOTE, GROUP, chains={"a": [Buggy("x", [])]})
    executor, _, _ = make_executor(tmp_path)
    record = executor.run(plan, "test", "bug")
    assert record.outcome is TransitionOutcome.FAILED
    assert "internal error" in record.steps[0].detail


class FullDisk(Journal):
    """A journal whose disk fills up after `writes` successful writes."""

    def __init__(self, state_dir, writes):
        super().__init__(state_dir)
        self.left = writes

    def append(self, data, sync=False):
        if self.left <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.left -= 1
        super().append(data, sync)


def full_disk_executor(tmp_path, writes):
    executor, _, seen = make_executor(tmp_path)
    executor.journal = FullDisk(str(tmp_path), writes)
    return executor, seen


def test_a_promotion_whose_first_record_cannot_be_written_does_not_start(tmp_path, caplog):
    log: list[str] = []
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={"a": [Recorded("role", log)]},
        give_away=[Recorded("demote-carp", log)],
    )
    executor, seen = full_disk_executor(tmp_path, writes=0)
    with pytest.raises(NotStarted, match="No space left on device") as raised:
        executor.run(plan, "test", "master")
    assert str(raised.value).startswith("promotion of group storage not started: cannot write")
    assert log == [] and seen == []


def test_a_journal_failure_during_a_promotion_rolls_it_back(tmp_path, caplog):
    log: list[str] = []
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={"a": [Recorded("role", log, reversible=False), Recorded("mount", log)]},
        rollback=Plan(TransitionKind.DEMOTE, GROUP, chains={"a": [Recorded("secondary", log)]}),
        give_away=[Recorded("demote-carp", log)],
    )
    executor, _ = full_disk_executor(tmp_path, writes=1)  # the start, not the first step
    with caplog.at_level(logging.ERROR, logger="carpswitch"):
        record = executor.run(plan, "test", "master")
    assert log == ["do role", "do secondary", "do demote-carp"]
    assert record.outcome is TransitionOutcome.FAILED
    assert [(r.step.kind, r.outcome) for r in record.steps] == [
        ("fake", StepOutcome.OK),
        ("fake", StepOutcome.SKIPPED),
        ("journal", StepOutcome.FAILED),
    ]
    assert "No space left on device" in record.steps[-1].detail
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].endswith("rolling the promotion back"), errors


def test_a_demotion_runs_without_a_journal(tmp_path, caplog):
    log: list[str] = []
    plan = Plan(
        TransitionKind.DEMOTE,
        GROUP,
        before=[Recorded("stop-svc", log)],
        chains={"a": [Recorded("umount", log), Recorded("secondary", log)]},
    )
    executor, seen = full_disk_executor(tmp_path, writes=0)
    with caplog.at_level(logging.ERROR, logger="carpswitch"):
        record = executor.run(plan, "test", "backup")
    assert log == ["do stop-svc", "do umount", "do secondary"]
    assert record.outcome is TransitionOutcome.SUCCEEDED
    assert len(seen) == 3  # the terminal still sees every step
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        f"demote storage: cannot write the journal {tmp_path}/journal.jsonl: "
        "No space left on device; the demotion goes on without it"
    ]


@pytest.mark.parametrize("in_check", [False, True], ids=["check-step", "already-done-look"])
def test_a_promotion_that_could_not_read_before_any_change_is_unread_not_rolled_back(
    tmp_path, in_check
):
    log: list[str] = []
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={"a": [Unreadable("guard", log, in_check=in_check), Recorded("role", log)]},
        rollback=Plan(TransitionKind.DEMOTE, GROUP, before=[Recorded("stop", log)]),
        give_away=[Recorded("demote-carp", log)],
    )
    executor, _, _ = make_executor(tmp_path)
    record = executor.run(plan, "test", "repair")
    assert record.outcome is TransitionOutcome.UNREAD
    assert "do stop" not in log and "do demote-carp" not in log and "do role" not in log
    assert record.undo == []


def test_a_read_failure_after_a_change_is_a_failure_and_rolls_back(tmp_path):
    log: list[str] = []
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={"a": [Recorded("role", log, reversible=False), Unreadable("verify", log)]},
        rollback=Plan(TransitionKind.DEMOTE, GROUP, before=[Recorded("stop", log)]),
        give_away=[Recorded("demote-carp", log)],
    )
    executor, _, _ = make_executor(tmp_path)
    record = executor.run(plan, "test", "promote")
    assert record.outcome is TransitionOutcome.FAILED
    assert log[-2:] == ["do stop", "do demote-carp"]


def test_a_failing_command_of_a_step_that_changes_the_node_is_a_failure(tmp_path):
    log: list[str] = []

    class Changing(Unreadable):  # e.g. `hastctl role primary` timing out
        reads_only = False
        changes_node = True

    changing = Changing("role", log)
    plan = Plan(
        TransitionKind.PROMOTE,
        GROUP,
        chains={"a": [changing]},
        rollback=Plan(TransitionKind.DEMOTE, GROUP, before=[Recorded("stop", log)]),
        give_away=[Recorded("demote-carp", log)],
    )
    executor, _, _ = make_executor(tmp_path)
    assert executor.run(plan, "test", "promote").outcome is TransitionOutcome.FAILED
    assert log[-2:] == ["do stop", "do demote-carp"]
