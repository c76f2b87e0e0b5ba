"""The intake lock: one holder, released by a crash, readable without trying it."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from carpswitch.intake.describe import lock_holder
from carpswitch.intake.lockfile import IntakeLock, is_busy


def test_only_one_holder_at_a_time(tmp_path):
    first = IntakeLock(str(tmp_path), "worker")
    second = IntakeLock(str(tmp_path), "worker")
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


def test_the_holder_is_named_while_held_and_forgotten_after(tmp_path):
    lock = IntakeLock(str(tmp_path), "daemon")
    assert lock_holder(str(tmp_path)) is None
    lock.try_acquire()
    holder = lock_holder(str(tmp_path))
    assert holder is not None
    assert (holder.pid, holder.role) == (os.getpid(), "daemon")
    lock.release()
    assert lock_holder(str(tmp_path)) is None


def test_is_busy_tells_a_held_lock_from_a_free_one_and_leaves_it_free(tmp_path):
    assert not is_busy(str(tmp_path))
    lock = IntakeLock(str(tmp_path), "worker")
    lock.try_acquire()
    assert is_busy(str(tmp_path))
    lock.release()
    assert not is_busy(str(tmp_path))
    assert lock.try_acquire()
    lock.release()


@pytest.fixture
def holder_process(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys, time
        from carpswitch.intake.lockfile import IntakeLock
        assert IntakeLock({str(tmp_path)!r}, "worker").try_acquire()
        print("held", flush=True)
        time.sleep(60)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "held"
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def test_a_killed_holder_releases_the_lock(tmp_path, holder_process):
    assert is_busy(str(tmp_path))
    holder = lock_holder(str(tmp_path))
    assert holder is not None
    assert holder.pid == holder_process.pid
    holder_process.send_signal(signal.SIGKILL)
    holder_process.wait(timeout=10)
    assert not is_busy(str(tmp_path))
    assert lock_holder(str(tmp_path)) is None  # its pid is still written, but it is dead
    assert IntakeLock(str(tmp_path), "worker").try_acquire()
