"""Issue 8, item 10: no orphan keeps changing the node after its carpswitch was SIGKILLed.

Each command runs in its own session, so SIGKILL of carpswitch leaves it running. The next
actor must end (and wait for) it before it observes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from carpswitch.config import load_config
from carpswitch.lab.faults import Fault
from carpswitch.lab.node import LabNode, LabResource
from carpswitch.lab.state import FaultCounterState
from tests.node.conftest import wait_until
from tests.node.test_transitions import carpswitch

pytestmark = pytest.mark.node

TIMEOUTS = """
[timeouts]
release = 1.5
device = 5
role = 60
fsck = 120
mount = 10
export = 5
umount = 5
umount_grace = 1
service = 10
observe = 10
"""
#: How long the orphaned command hangs before it carries on and does its job: longer than
#: the next actor's demotion takes on a busy machine, so the orphan would act after it.
HANG = 15.0


def configure(node: LabNode) -> str:
    path = Path(node.config_path)
    path.write_text(path.read_text() + TIMEOUTS)
    return str(path)


def running(node: LabNode, command: str, *args: str) -> list[psutil.Process]:
    """Live processes of the node's `command` whose arguments end with `args`."""
    path = str(node.paths.command(command))
    found = []
    for process in psutil.process_iter():
        try:
            argv = process.cmdline()
            matches = path in argv and tuple(argv[-len(args) :]) == args
            if matches and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            continue
    return found


def hanging(node: LabNode) -> bool:
    """Whether the first fault of the plan has fired (its command is hanging now)."""
    fired = node.store.read(FaultCounterState).fired
    return any(key.startswith("0:") for key in fired)


@contextmanager
def killed_in(node: LabNode, config: str, command: str, *args: str) -> Iterator[psutil.Process]:
    """`carpswitch promote` SIGKILLed while `command args` hangs in the plan's first fault."""
    promote = subprocess.Popen(
        [sys.executable, "-m", "carpswitch", "-c", config, "promote"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: running(node, command, *args), timeout=30), (
            f"promote did not reach {command} {' '.join(args)}"
        )
        assert wait_until(lambda: hanging(node), timeout=30)
        os.kill(promote.pid, signal.SIGKILL)
        promote.wait(5)
        [orphan] = running(node, command, *args)  # its own session: it lives on
        yield orphan
    finally:
        promote.kill()
        promote.wait()


def test_a_hung_role_primary_left_by_a_killed_promote_never_makes_tank_primary(make_lab_node):
    node = make_lab_node(carp_state="MASTER")
    config = configure(node)
    role_primary = r"^role\b.*\bprimary tank$"
    node.set_faults([Fault(command="hastctl", args=role_primary, hang=HANG, times=1)])
    with killed_in(node, config, "hastctl", "primary", "tank") as orphan:
        hangs_until = time.monotonic() + HANG
        node.set_carp("BACKUP")
        assert carpswitch(config, "demote") == 0
    time.sleep(max(0.0, hangs_until - time.monotonic()) + 2.0)  # the orphan would have acted
    assert node.role("tank") == "secondary"
    assert not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE
    assert list(Path(load_config(config).paths.run_dir, "inflight").iterdir()) == []


def test_the_orphan_fsck_is_gone_before_the_next_actors_fsck_runs(make_lab_node):
    node = make_lab_node(resources=[LabResource("data", "ufs")], carp_state="MASTER")
    config = configure(node)
    device = str(node.paths.dev_hast / "data")
    node.set_faults(
        [
            Fault(command="fsck", hang=60, times=1),  # the killed promotion's fsck: orphaned
            Fault(command="fsck", hang=1, times=1),  # the next one's: long enough to be seen
        ]
    )
    with killed_in(node, config, "fsck", "-t", "ufs", "-p", device) as orphan:
        seen: list[set[int]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                seen.append({p.pid for p in running(node, "fsck", device)})
                time.sleep(0.05)

        seen.append({p.pid for p in running(node, "fsck", device)})  # the orphan, before
        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            assert carpswitch(config, "promote") == 0
        finally:
            done.set()
            sampler.join()
    runs = set().union(*seen)
    assert orphan.pid in runs and len(runs) == 2, seen  # both fsck runs were seen...
    assert all(len(pids) <= 1 for pids in seen), seen  # ...never at the same time
    assert any(m.mountpoint == node.facts.resources[0].mountpoint for m in node.mounts())
