"""Review F4-F6: a promotion never takes a resource from `init` straight to primary, whatever
the boot rule saw or missed (steps_hast.LeaveInit, boot.LeftInit, the boot rule's memory)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from carpswitch.lab.faults import Fault
from carpswitch.model import HastRole, StepOutcome, TransitionOutcome
from tests.node.conftest import wait_until
from tests.node.test_transitions import carpswitch, configure, last, role

pytestmark = pytest.mark.node

#: release 20: the peer's chance is then 10 s (HAST_KEEPALIVE) + the lab's hast timeout 1 s.
SLOW_RELEASE = ("release = 1.5", "release = 20")


def boot_config(node) -> str:
    config = configure(node)
    with open(config) as f:
        text = f.read()
    with open(config, "w") as f:
        f.write(text.replace(*SLOW_RELEASE))
    return config


def assert_peer_kept_it(config: str, node) -> None:
    """The promotion failed at leave_init, before anything took the resource."""
    record = last(config)
    assert (record.kind, record.outcome) == ("promote", TransitionOutcome.FAILED)
    outcomes = {s.step.kind: s.outcome for s in record.steps}
    assert outcomes["leave_init"] is StepOutcome.FAILED
    assert outcomes["hast_role"] is StepOutcome.SKIPPED
    assert role(config, "tank") is HastRole.SECONDARY
    assert not node.provider_exists("tank")
    assert node.worker_pid("tank") is not None  # the remote primary is connected


@pytest.mark.parametrize(
    "fault",
    [
        Fault(command="hastctl", args="^.*list", exit=0, garbage=True, times=1),
        Fault(command="ifconfig", exit=1, stderr="ifconfig: ioctl: EIO\n", times=1),
    ],
    ids=["hastctl", "ifconfig"],
)
def test_f4_one_failed_read_in_the_boot_rule_does_not_promote_init(make_lab_node, fault):
    node = make_lab_node(carp_state="MASTER")
    config = boot_config(node)
    node.connect_peer("tank")  # a primary peer: it connects once this node is secondary
    node.set_faults([fault])  # the boot rule's look cannot be read
    assert carpswitch(config, "reconcile", "--boot") == 1  # the promotion failed
    assert_peer_kept_it(config, node)


def test_f5_a_peer_seen_during_the_boot_wait_keeps_the_node_secondary(make_lab_node):
    node = make_lab_node(carp_state="MASTER")
    config = boot_config(node)
    blips = []

    class Blip(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "a remote primary connected; this node stays secondary" in record.getMessage():
                node.disconnect_peer("tank")  # the connection resets; the peer is still primary
                blips.append(record)

    handler = Blip()
    logger = logging.getLogger("carpswitch.engine.reconcile")
    logger.addHandler(handler)
    try:
        node.connect_peer("tank")
        assert carpswitch(config, "reconcile", "--boot") == 0
    finally:
        logger.removeHandler(handler)
    assert blips, "the boot wait did not see the peer"
    assert role(config, "tank") is HastRole.SECONDARY
    assert not node.provider_exists("tank")
    assert last(config).kind == "demote"  # the boot rule's, and no promotion after it


def test_f6_master_soon_after_a_backup_boot_gives_the_peer_the_rest(make_lab_node):
    node = make_lab_node(carp_state="BACKUP")
    config = boot_config(node)
    assert carpswitch(config, "reconcile", "--boot") == 0
    assert role(config, "tank") is HastRole.SECONDARY  # init -> secondary, noted
    node.set_carp("MASTER")  # preempt a moment later

    def guard_thread_retries() -> None:
        time.sleep(1.0)  # the peer's next try (every 10 s on FreeBSD)
        node.connect_peer("tank")

    peer = threading.Thread(target=guard_thread_retries, daemon=True)
    peer.start()
    assert carpswitch(config, "reconcile") == 1  # promoted at once without the note
    peer.join(timeout=30.0)
    assert_peer_kept_it(config, node)


def test_f6_an_event_with_init_and_no_boot_window_leaves_init_first(make_lab_node):
    node = make_lab_node(carp_state="MASTER")  # devd before rc.d, or `service hastd restart`
    config = boot_config(node)
    node.connect_peer("tank")
    assert carpswitch(config, "reconcile") == 1
    assert_peer_kept_it(config, node)


def test_without_a_peer_a_promotion_from_init_waits_its_bound_then_serves(make_lab_node):
    node = make_lab_node(carp_state="MASTER")
    config = configure(node)  # release 1.5 caps the peer's chance
    started = time.monotonic()
    assert carpswitch(config, "reconcile") == 0
    assert time.monotonic() - started >= 1.5
    assert wait_until(lambda: node.provider_exists("tank"))
    record = last(config)
    assert record.outcome is TransitionOutcome.SUCCEEDED
    assert {s.step.kind: s.outcome for s in record.steps}["leave_init"] is StepOutcome.OK
