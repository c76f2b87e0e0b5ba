"""Process identity: pid plus start since boot, so that a reused pid is told apart."""

import os

import psutil

from carpswitch.system import identity
from carpswitch.system.identity import ProcessIdentity, identify, own_identity


def test_identity_tells_a_reused_pid_apart():
    me = own_identity()
    assert me is not None
    assert me.same_as(identify(os.getpid()))
    assert not me.same_as(ProcessIdentity(me.pid, me.start + 1.0))
    assert not me.same_as(ProcessIdentity(me.pid + 1, me.start))


def test_a_zombie_has_no_identity():
    child = psutil.Popen(["/bin/true"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
        assert identify(child.pid) is None
        assert identify(child.pid, zombie_is_gone=False) is not None
    finally:
        child.wait()


def test_the_psutil_identity_used_off_linux_agrees_with_proc(monkeypatch):
    child = psutil.Popen(["/bin/sleep", "5"])
    try:
        from_proc = identify(child.pid)
        monkeypatch.setattr(identity, "_PROC_STAT", False)
        assert from_proc is not None and from_proc.same_as(identify(child.pid))
    finally:
        child.kill()
        child.wait()


def test_a_command_name_with_parentheses_and_spaces_is_parsed(tmp_path):
    odd = tmp_path / "x) Z (y"
    odd.symlink_to("/bin/sleep")
    child = psutil.Popen([str(odd), "5"])
    try:
        found = identify(child.pid)
        expected = psutil.Process(child.pid).create_time() - psutil.boot_time()
        assert found is not None and abs(found.start - expected) < 0.05
    finally:
        child.kill()
        child.wait()
