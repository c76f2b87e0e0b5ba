"""Review findings F2, F3 on a simulated node: a demotion's and a rollback's storage steps
never skip on what `mount -p` or `zpool list` said; umount's and zpool export's own answer
decides. A `mount -p` without `/` is not read at all.
"""

from __future__ import annotations

import os
import signal

import pytest

from carpswitch.lab.faults import Fault
from carpswitch.model import StepOutcome, StepResult, TransitionOutcome
from tests.node.conftest import wait_until
from tests.node.test_hardening_rollback import settle
from tests.node.test_transitions import UFS, ZFS, carpswitch, last

pytestmark = pytest.mark.node

#: `mount -p` that exits 0 and lists only the root file system: a lie nothing can detect.
ROOT_ONLY = Fault(
    command="mount", args="^-p$", exit=0, stdout="/dev/ada0p2\t\t/\t\t\tufs\trw\t\t1 1\n"
)
#: `zpool list` that exits 0 and lists nothing.
NO_POOLS = Fault(command="zpool", args="^list", exit=0, stdout="")


def step(results: list[StepResult], kind: str) -> StepResult:
    return next(r for r in results if r.step.kind == kind)


def test_empty_mount_table_leaves_a_serving_primary_alone(make_lab_node):
    """F2 as the review ran it: `mount -p` exits 0 with nothing; the primary keeps serving."""
    node = make_lab_node(resources=[UFS], services=["ctld"], carp_state="MASTER")
    config = settle(node)
    assert carpswitch(config, "promote") == 0
    ctld = node.service_pid("ctld")
    node.set_faults([Fault(command="mount", args="^-p$", exit=0, stdout="")])
    assert carpswitch(config, "reconcile") == 1  # unread: reported, nothing done
    assert node.role("data") == "primary"
    assert [m.mountpoint for m in node.mounts()] == [str(node.paths.mnt / "data")]
    assert node.service_pid("ctld") == ctld
    assert node.fs_state("data") == "clean"


def test_demotion_unmounts_although_the_mount_table_lies(make_lab_node):
    node = make_lab_node(resources=[UFS], carp_state="MASTER")
    config = settle(node)
    assert carpswitch(config, "promote") == 0
    node.set_faults([ROOT_ONLY])
    node.set_carp("BACKUP")
    assert carpswitch(config, "demote") == 0
    assert node.mounts() == []  # not left mounted under `role secondary`
    assert node.role("data") == "secondary"
    assert step(last(config).steps, "umount").outcome is StepOutcome.OK


def test_rollback_unmounts_although_the_mount_table_lies(make_lab_node):
    """The review's F2 rollback: mount fails busy, the rollback must still unmount."""
    node = make_lab_node(resources=[UFS], services=["ctld"], carp_state="MASTER")
    config = settle(node)
    assert carpswitch(config, "promote") == 0
    node.set_faults([ROOT_ONLY])
    assert carpswitch(config, "promote") == 1  # "not mounted": mount says Device busy
    record = last(config)
    assert record.outcome is TransitionOutcome.FAILED
    assert step(record.steps, "mount").outcome is StepOutcome.FAILED
    assert step(record.undo, "umount").outcome is StepOutcome.OK
    assert node.mounts() == []
    assert node.role("data") == "secondary"


def test_demotion_exports_although_zpool_list_lies(make_lab_node):
    """F3: `zpool list` empty must not leave the pool imported under `role secondary`."""
    node = make_lab_node(resources=[ZFS], carp_state="MASTER")
    config = settle(node)
    assert carpswitch(config, "promote") == 0
    node.set_faults([NO_POOLS])
    node.set_carp("BACKUP")
    assert carpswitch(config, "demote") == 0
    node.clear_faults()
    assert node.pools() == []
    assert node.role("tank") == "secondary"
    assert step(last(config).steps, "zpool_export").outcome is StepOutcome.OK


def test_repeated_demotion_is_a_noop_by_the_commands_own_answer(make_lab_node):
    node = make_lab_node(resources=[UFS, ZFS], carp_state="MASTER")
    config = settle(node)
    assert carpswitch(config, "promote") == 0
    node.set_carp("BACKUP")
    assert carpswitch(config, "demote") == 0
    assert carpswitch(config, "demote") == 0
    record = last(config)
    assert record.outcome is TransitionOutcome.NOOP
    umount, export = step(record.steps, "umount"), step(record.steps, "zpool_export")
    assert umount.outcome is StepOutcome.NOOP
    assert "not a file system root directory" in umount.detail
    assert export.outcome is StepOutcome.NOOP
    assert "cannot open 'tank': no such pool" in export.detail


def test_one_failed_read_in_a_repair_promotion_does_not_fail_the_node_over(make_lab_node):
    """F9: ctld died on a serving primary; the repair promotion's guard meets a failed
    `hastctl list`. Nothing changed yet: no rollback, no give-away, no failure counted; the
    next look repairs it.

    The steps decide from the look the promotion starts from (issue 9): the guard reads
    `hastctl list` itself only when that look could not, so the admin's `promote` whose
    own look and the guard's read both fail is what meets it now (a reconcile would not
    start the promotion from a look that could not read hastctl)."""
    node = make_lab_node(resources=[UFS], services=["ctld"], carp_state="MASTER")
    config = settle(node)
    assert carpswitch(config, "promote") == 0
    os.kill(node.service_pid("ctld"), signal.SIGKILL)
    assert wait_until(lambda: node.service_pid("ctld") is None)
    reset = "[ERROR] [hastctl] cannot receive reply from hastd via uds: Connection reset by peer.\n"
    node.set_faults(  # promote's look, then the guard's
        [Fault(command="hastctl", args="^list", exit=1, times=2, stderr=reset)]
    )
    assert carpswitch(config, "promote") == 1
    record = last(config)
    assert record.outcome is TransitionOutcome.UNREAD
    assert record.undo == []
    assert node.role("data") == "primary"
    assert [m.mountpoint for m in node.mounts()] == [str(node.paths.mnt / "data")]
    assert node.demotion() == 0
    node.clear_faults()
    assert carpswitch(config, "reconcile") == 0  # looked again: ctld restarted
    assert last(config).outcome is TransitionOutcome.SUCCEEDED
    assert node.service_pid("ctld") is not None
