"""The record of running commands (run_dir/inflight): written before, completed after spawn."""

import errno
import json
import os

import psutil
import pytest

from carpswitch.system.identity import identify, own_identity
from carpswitch.system.inflight import INFLIGHT_ENV, InflightBook, is_running_here
from carpswitch.system.runner import Runner


def test_a_record_names_its_owner_before_the_spawn_and_its_command_after(tmp_path):
    book = InflightBook(str(tmp_path))
    record = book.begin(("/sbin/hastctl", "role", "primary", "tank"))
    assert record is not None
    [pending] = book.records()
    assert pending.argv == ("/sbin/hastctl", "role", "primary", "tank")
    me = own_identity()
    assert me is not None and me.same_as(pending.owner)
    assert pending.command is None  # an actor killed here leaves only the token
    assert is_running_here(record.token)
    child = psutil.Popen(["/bin/sleep", "0"])
    try:
        record.started(child.pid)
        [complete] = book.records()
        assert complete.command is not None
        assert complete.command.pid == child.pid
        assert complete.command.same_as(identify(child.pid, zombie_is_gone=False))
    finally:
        child.wait()
    record.finished()
    assert list(book.records()) == []
    assert not is_running_here(record.token)


def test_the_record_directory_is_private(tmp_path):
    assert InflightBook(str(tmp_path)).begin(("/bin/true",)) is not None
    directory = tmp_path / "inflight"
    assert directory.stat().st_mode & 0o777 == 0o700
    [entry] = directory.iterdir()
    assert entry.stat().st_mode & 0o777 == 0o600


def test_the_runner_records_each_command_while_it_runs_and_removes_it_after(tmp_path):
    script = 'echo "$CARPSWITCH_INFLIGHT"; head -n 1 "$0/inflight/$CARPSWITCH_INFLIGHT"'
    result = Runner(run_dir=str(tmp_path)).run("/bin/sh", "-c", script, str(tmp_path))
    token, line = result.stdout.splitlines()
    assert json.loads(line)["argv"] == ["/bin/sh", "-c", script, str(tmp_path)]
    assert json.loads(line)["owner"][0] == os.getpid()
    assert len(token) == 16
    assert list((tmp_path / "inflight").iterdir()) == []


def test_without_a_run_dir_commands_run_unrecorded(tmp_path):
    inherited = {**os.environ, INFLIGHT_ENV: "0123456789abcdef"}  # carpswitch run by a hook
    result = Runner(env=inherited).run("/bin/sh", "-c", f'echo "${{{INFLIGHT_ENV}:-none}}"')
    assert result.stdout == "none\n"
    missing = tmp_path / "not-yet"
    assert Runner(run_dir=str(missing)).run("/bin/true").exit_status == 0
    assert not missing.exists()  # creating run_dir is the actor lock's job


def test_a_symlinked_record_directory_is_not_used(tmp_path, caplog):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "inflight").symlink_to(elsewhere)
    assert Runner(run_dir=str(run_dir)).run("/bin/echo", "ran").stdout == "ran\n"
    assert list(elsewhere.iterdir()) == []
    assert "commands run unrecorded" in caplog.text


def test_a_symlink_among_the_records_is_removed_without_being_followed(tmp_path):
    book = InflightBook(str(tmp_path))
    record = book.begin(("/bin/true",))
    assert record is not None
    target = tmp_path / "victim"
    target.write_text("precious\n")
    (tmp_path / "inflight" / "planted").symlink_to(target)
    assert [r.token for r in book.records()] == [record.token]
    assert not (tmp_path / "inflight" / "planted").is_symlink()
    assert target.read_text() == "precious\n"


def test_an_unreadable_record_still_yields_its_token(tmp_path):
    book = InflightBook(str(tmp_path))
    assert book.begin(("/bin/true",)) is not None
    (tmp_path / "inflight" / "torn").write_bytes(b'{"owner": [12\xff')
    torn = next(r for r in book.records() if r.token == "torn")
    assert (torn.owner, torn.command, torn.argv) == (None, None, ())


def test_a_record_of_another_user_is_removed_unread(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file away")
    book = InflightBook(str(tmp_path))
    assert book.begin(("/bin/true",)) is not None
    forged = tmp_path / "inflight" / "forged"
    forged.write_text('{"owner": [1, 0], "argv": ["/bin/true"]}\n{"command": [1, 0]}\n')
    os.chown(forged, 65534, 65534)
    assert "forged" not in {r.token for r in book.records()}
    assert not forged.exists()


def test_a_full_run_dir_never_stops_a_command(tmp_path, monkeypatch, caplog):
    def disk_full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", disk_full)
    result = Runner(run_dir=str(tmp_path)).run("/bin/echo", "demoted")
    monkeypatch.undo()
    assert result.stdout == "demoted\n"
    assert list((tmp_path / "inflight").iterdir()) == []  # no half record left behind
    assert "commands run unrecorded" in caplog.text and "No space left" in caplog.text
