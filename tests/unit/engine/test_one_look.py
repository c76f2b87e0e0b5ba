"""One look per phase and one `hastctl role` per group (issue 9 item 2).

Counts of commands are not timings: a transition of N resources reads `hastctl list` and
`mount -p` a fixed number of times, whatever N, and runs one `hastctl role` for the group.
"""

import threading
import time

import pytest

from carpswitch.actions.hast import LeaveInit, WaitRelease
from carpswitch.engine.executor import Executor
from carpswitch.engine.journal import Journal
from carpswitch.engine.plan import plan_demote, plan_promote
from carpswitch.engine.step import StepContext
from carpswitch.errors import CommandFailed
from carpswitch.model import Mount, StepOutcome, TransitionOutcome
from carpswitch.system.hastd_cap import HASTD_BACKLOG, HastdCap
from carpswitch.system.observe import Observer
from carpswitch.system.runner import CommandResult
from tests.unit.engine.fake_node import ufs_setup


def run(tmp_path, count, kind="ufs", promote=True, services=(), prepare=None, seen=False):
    node, topology, group, config = ufs_setup(tmp_path, count, kind, services)
    if prepare is not None:
        prepare(node)
    observer = Observer(node, config)
    ctx = StepContext(runner=node, config=config, topology=topology, observer=observer)
    if promote:
        plan = plan_promote(topology, group, config, "vtnet0")
    else:
        plan = plan_demote(topology, group)
    state = None
    if seen:
        state = observer.node_state("hasta", topology, [])
        node.calls.clear()
    record = Executor(ctx, Journal(str(tmp_path / "run"))).run(plan, "test", "test", state)
    return node, record


def lists(node):
    return node.count("hastctl", "list")


@pytest.mark.parametrize("kind", ["ufs", "raw"])
def test_the_looks_of_a_promotion_do_not_grow_with_the_resources(tmp_path, kind):
    counts = {}
    for n in (1, 4, 16):
        node, record = run(tmp_path / str(n), n, kind)
        assert record.outcome is TransitionOutcome.SUCCEEDED, record
        counts[n] = (lists(node), node.count("mount", "-p"), node.count("hastctl", "role"))
        if kind == "ufs":
            assert node.count("fsck") == n and node.count("mount", "-t") == n
    # the phase's look and verify's look: two hastctl list, two mount -p (ufs), one role
    assert set(counts.values()) == {(2, 2 if kind == "ufs" else 0, 1)}, counts


def test_a_promotion_from_the_reconciles_look_reads_only_for_verify(tmp_path):
    node, record = run(tmp_path, 4, seen=True)
    assert record.outcome is TransitionOutcome.SUCCEEDED
    assert (lists(node), node.count("mount", "-p")) == (1, 1)  # verify's own look
    assert [a[:5] for a in node.calls if a[:2] == ("hastctl", "role")] == [
        ("hastctl", "role", "-c", "/etc/hast.conf", "primary")
    ]
    assert node.calls[[a[1] for a in node.calls].index("role")][5:] == ("r0", "r1", "r2", "r3")


def test_the_looks_of_a_demotion_do_not_grow_and_role_secondary_is_one_call(tmp_path):
    counts = set()
    for n in (1, 4, 16):

        def primary(node):
            for name in node.roles:
                node.roles[name] = "primary"
                node.device(name).touch()

        node, record = run(tmp_path / str(n), n, promote=False, prepare=primary)
        assert record.outcome is TransitionOutcome.SUCCEEDED, record
        assert node.count("umount") == n  # a demotion's storage steps never trust a look
        counts.add((lists(node), node.count("mount", "-p"), node.count("hastctl", "role")))
    assert counts == {(1, 0, 1)}


def test_a_step_that_changed_a_fact_makes_the_next_look_read_it_again(tmp_path):
    """A stale mount forced off: fsck and mount decide from a fresh `mount -p`."""

    def stale(node):
        node.mounted.append(
            Mount(device="/dev/md9", mountpoint=str(tmp_path / "mnt" / "r0"), fstype="ufs")
        )

    node, record = run(tmp_path, 1, prepare=stale)
    assert record.outcome is TransitionOutcome.SUCCEEDED, record
    assert ("umount", "-f", str(tmp_path / "mnt" / "r0")) in node.calls
    # first look, the look after the umount -f (fsck's), verify's look
    assert node.count("mount", "-p") == 3
    assert node.count("mount", "-t") == 1


def test_a_role_change_makes_that_resource_alone_read_again(tmp_path):
    """LeaveInit takes r0 from init to secondary; WaitRelease then asks hastctl about r0."""

    def init(node):
        node.roles["r0"] = "init"

    node, topology, group, config = ufs_setup(tmp_path, 2, "raw")
    init(node)
    observer = Observer(node, config)
    ctx = StepContext(runner=node, config=config, topology=topology, observer=observer)
    ctx.timeout = lambda key: 0.2 if key == "release" else 10.0  # type: ignore[method-assign]
    assert not LeaveInit("r0", group).is_done(ctx)
    LeaveInit("r0", group).do(ctx)
    node.calls.clear()
    assert not WaitRelease("r0").is_done(ctx)  # secondary now, read again: not primary
    assert WaitRelease("r1").is_done(ctx) is False
    assert node.calls == [("hastctl", "list", "-c", "/etc/hast.conf", "r0")]


def test_a_partial_role_failure_is_the_failed_resources_and_rolls_back(tmp_path):
    def refuse_r2(node):
        node.role_errors["r2"] = 2

    node, record = run(tmp_path, 4, "raw", prepare=refuse_r2)
    assert record.outcome is TransitionOutcome.FAILED
    roles = {s.step.resource: s for s in record.steps if s.step.kind == "hast_role"}
    assert roles["r2"].outcome is StepOutcome.FAILED
    assert "hastd answered error 2 for r2" in roles["r2"].detail
    assert {n: roles[n].outcome for n in ("r0", "r1", "r3")} == dict.fromkeys(
        ("r0", "r1", "r3"), StepOutcome.OK
    )
    # the failed resource stops every chain: no step after the role change runs
    waits = [s for s in record.steps if s.step.kind == "wait_device"]
    assert [s.outcome for s in waits] == [StepOutcome.SKIPPED] * 4
    # the rollback is the group's demotion: every resource back to secondary, one call
    undo_roles = [a for a in node.calls if a[:2] == ("hastctl", "role")][1:]
    assert [a[4:] for a in undo_roles] == [("secondary", "r0", "r1", "r3")]
    assert node.roles == {
        "r0": "secondary",
        "r1": "secondary",
        "r2": "secondary",
        "r3": "secondary",
    }


def test_a_role_call_that_fails_as_a_whole_fails_every_resource(tmp_path):
    def broken(node):
        node.fail.add("hastctl role -c /etc/hast.conf primary")

    _, record = run(tmp_path, 3, "raw", prepare=broken)
    assert record.outcome is TransitionOutcome.FAILED
    roles = [s for s in record.steps if s.step.kind == "hast_role"]
    assert [s.outcome for s in roles] == [StepOutcome.FAILED] * 3
    assert all("hastctl: broken" in s.detail for s in roles)


def test_an_unreadable_first_look_is_unread_before_any_change(tmp_path):
    def broken(node):
        node.fail.add("hastctl list")

    node, record = run(tmp_path, 4, "ufs", prepare=broken)
    assert record.outcome is TransitionOutcome.UNREAD
    assert lists(node) == 1  # one failed look, not one per step
    assert node.count("hastctl", "role") == 0 and node.count("fsck") == 0


def test_a_fact_the_reconciles_look_could_not_read_is_read_once_more_by_the_phase(tmp_path):
    def broken(node):
        node.hang.add("hastctl list")

    node, record = run(tmp_path, 2, "raw", prepare=broken, seen=True)
    assert record.outcome is TransitionOutcome.UNREAD
    assert node.calls == [("hastctl", "list", "-c", "/etc/hast.conf")]  # once, not per step


def test_a_demotion_with_an_unreadable_look_acts_and_sends_role_secondary(tmp_path):
    def broken(node):
        for name in node.roles:
            node.roles[name] = "primary"
            node.device(name).touch()
        node.mounted.append(
            Mount(
                device=str(node.device("r0")), mountpoint=str(tmp_path / "mnt" / "r0"), fstype="ufs"
            )
        )
        node.fail.add("hastctl list")
        node.fail.add("service")

    node, record = run(tmp_path, 2, "ufs", promote=False, services=("nfsd",), prepare=broken)
    assert ("service", "nfsd", "onestop") in node.calls  # in doubt, act
    assert node.count("umount") == 2
    assert [a[4:] for a in node.calls if a[:2] == ("hastctl", "role")] == [
        ("secondary", "r0", "r1")
    ]
    roles = [s for s in record.steps if s.step.kind == "hast_role"]
    assert all("could not tell" in s.detail for s in roles)


def test_role_secondary_is_sent_for_every_resource_even_when_an_umount_failed(tmp_path):
    def primary(node):
        for name in node.roles:
            node.roles[name] = "primary"
        node.hang.add(f"umount {tmp_path / 'mnt' / 'r1'}")
        node.hang.add(f"umount -f {tmp_path / 'mnt' / 'r1'}")

    node, record = run(tmp_path, 3, "ufs", promote=False, prepare=primary)
    assert record.outcome is TransitionOutcome.FAILED
    assert [a[4:] for a in node.calls if a[:2] == ("hastctl", "role")] == [
        ("secondary", "r0", "r1", "r2")
    ]


def test_a_chain_that_fails_before_the_role_change_stops_the_batch(tmp_path):
    def broken(node):
        node.fail.add(f"umount -f {tmp_path / 'mnt' / 'r1'}")
        node.mounted.append(
            Mount(device="/dev/md9", mountpoint=str(tmp_path / "mnt" / "r1"), fstype="ufs")
        )

    node, record = run(tmp_path, 3, "ufs", prepare=broken)
    assert record.outcome is TransitionOutcome.FAILED
    primaries = [
        a for a in node.calls if a[:5] == ("hastctl", "role", "-c", "/etc/hast.conf", "primary")
    ]
    assert primaries == []
    skipped = {s.step.resource for s in record.steps if s.step.kind == "hast_role"}
    assert skipped == {"r0", "r1", "r2"}
    assert all(s.outcome is StepOutcome.SKIPPED for s in record.steps if s.step.kind == "hast_role")


def test_at_most_eight_hastctl_calls_run_at_once_and_other_commands_do_not_wait():
    inside = []
    gate = threading.Event()
    lock = threading.Lock()

    class Held:
        def run(self, command, *args, **kwargs):
            with lock:
                inside.append(command)
            if command == "hastctl":
                assert gate.wait(10)
            return CommandResult((command, *args), 0, command, "", 0.0)

    capped = HastdCap(Held())
    threads = [threading.Thread(target=capped.run, args=("hastctl", "list")) for _ in range(12)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(inside) < HASTD_BACKLOG and time.monotonic() < deadline:
        time.sleep(0.01)
    assert capped.run("mount", "-p").stdout == "mount"  # not held behind hastd's queue
    time.sleep(0.1)  # a ninth hastctl would have got in by now
    assert inside.count("hastctl") == HASTD_BACKLOG == 8
    gate.set()
    for thread in threads:
        thread.join(10)
    assert inside.count("hastctl") == 12


def failing_lists(node, which):
    """`hastctl list` fails (hastd reset the connection) on the calls numbered in `which`."""
    real, seen = node.run, [0]

    def run(command, *args, **options):
        if command == "hastctl" and args[0] == "list":
            seen[0] += 1
            if seen[0] in which:
                raise CommandFailed((command, *args), 1, "", "Connection reset by peer.\n")
        return real(command, *args, **options)

    node.run = run


def test_verify_looks_again_when_a_read_fails_instead_of_rolling_back(tmp_path):
    node, record = run(tmp_path, 2, "ufs", prepare=lambda n: failing_lists(n, {2}))
    assert record.outcome is TransitionOutcome.SUCCEEDED, record
    assert record.undo == [] and lists(node) == 2  # the phase's and verify's second look
    assert node.count("hastctl", "role", "-c", "/etc/hast.conf", "secondary") == 0


def test_verify_that_can_never_read_fails_the_promotion_after_its_looks(tmp_path):
    _, record = run(tmp_path, 1, "ufs", prepare=lambda n: failing_lists(n, {2, 3, 4}))
    assert record.outcome is TransitionOutcome.FAILED
    verify = next(s for s in record.steps if s.step.kind == "verify")
    assert "Connection reset by peer" in verify.detail
    assert record.undo  # something changed before: the rollback ran


def test_a_demotion_with_a_resource_hast_conf_lacks_demotes_the_others(tmp_path):
    """Its chain is only a guard (no batched step): the other chains still run theirs."""
    node, topology, group, config = ufs_setup(tmp_path, 2, "raw")
    for name in node.roles:
        node.roles[name] = "primary"
    group = group.model_copy(update={"resources": (*group.resources, "ghost")})
    ctx = StepContext(
        runner=node, config=config, topology=topology, observer=Observer(node, config)
    )
    plan = plan_demote(topology, group)
    record = Executor(ctx, Journal(str(tmp_path / "run"))).run(plan, "test", "test")
    assert node.roles == {"r0": "secondary", "r1": "secondary"}
    guard = next(s for s in record.steps if s.step.resource == "ghost")
    assert guard.outcome is StepOutcome.FAILED
