"""State files (carpswitch.statefiles): private, never through a symlink, set aside when broken."""

from __future__ import annotations

import os
import re
import stat
import threading
from pathlib import Path

import pytest

from carpswitch.statefiles import (
    CORRUPT_MARK,
    append_line,
    aside_name,
    make_private_dir,
    open_lock_file,
    read_state_file,
    replace_file,
    rotate_numbered,
    set_aside,
    set_aside_files,
)


def test_private_directories_are_made_0700_and_their_parents_0755_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        make_private_dir(str(tmp_path / "var" / "db" / "carpswitch"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "var" / "db" / "carpswitch").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "var" / "db").stat().st_mode) == 0o755
    make_private_dir(str(tmp_path / "var" / "db" / "carpswitch"))  # again: nothing happens


def test_state_files_are_never_read_or_written_through_a_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "journal.jsonl"
    link.symlink_to(victim)
    for touch in (
        lambda: read_state_file(str(link)),
        lambda: append_line(str(link), b"{}\n"),
    ):
        with pytest.raises(OSError):
            touch()
    replace_file(str(link), b"new\n")  # replaces the link itself
    assert victim.read_text() == "precious\n"
    assert not link.is_symlink()
    assert link.read_bytes() == b"new\n"


@pytest.mark.parametrize("kind", ["symlink", "directory", "fifo"])
def test_whatever_sits_where_a_lock_file_belongs_is_set_aside(tmp_path, kind):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    lock = tmp_path / "carpswitch.lock"
    {
        "symlink": lambda: lock.symlink_to(victim),
        "directory": lock.mkdir,
        "fifo": lambda: os.mkfifo(lock),
    }[kind]()
    os.close(open_lock_file(str(lock)))
    assert lock.is_file() and not lock.is_symlink()
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert victim.read_text() == "precious\n"
    assert len(list(tmp_path.glob("carpswitch.lock.corrupt-*"))) == 1


def test_a_fifo_state_file_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "failover.json"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_state_file(str(fifo))
        except OSError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert outcome and "not a regular file" in str(outcome[0])


def test_a_torn_last_line_is_ended_before_the_next_one(tmp_path):
    path = tmp_path / "journal.jsonl"
    append_line(str(path), b'{"a": 1}\n')
    with path.open("ab") as file:
        file.write('{"torn": "\u00e9'.encode()[:-1])  # cut inside the UTF-8 character
    append_line(str(path), b'{"b": 2}\n')
    assert path.read_bytes().split(b"\n")[-2] == b'{"b": 2}'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_replace_can_keep_the_old_file_and_never_leaves_the_name_empty(tmp_path):
    path = tmp_path / "failover.json"
    path.write_bytes(b"")
    kept = aside_name(str(path))
    replace_file(str(path), b"{}", keep_old_as=kept)
    assert path.read_bytes() == b"{}"
    assert Path(kept).read_bytes() == b""
    assert CORRUPT_MARK in kept
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_directory_in_the_way_is_moved_aside(tmp_path):
    path = tmp_path / "failover.json"
    path.mkdir()
    kept = aside_name(str(path))
    replace_file(str(path), b"{}", keep_old_as=kept)
    assert path.read_bytes() == b"{}"
    assert Path(kept).is_dir()


def test_set_aside_names_are_stamped_unique_and_listed(tmp_path):
    path = tmp_path / "journal.jsonl"
    names = []
    for _ in range(2):
        path.write_text("x")
        names.append(Path(set_aside(str(path))).name)
    assert names[0] != names[1]
    assert all(re.fullmatch(r"journal\.jsonl\.corrupt-\d{8}T\d{6}Z(-2)?", n) for n in names)
    assert set_aside_files(str(tmp_path)) == names


def test_rotate_numbered_shifts_and_drops_the_oldest(tmp_path: Path) -> None:
    path = tmp_path / "log"
    for name, text in (("log", "new"), ("log.1", "older"), ("log.2", "oldest")):
        (tmp_path / name).write_text(text)
    rotate_numbered(str(path), keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.1", "log.2"]
    assert (tmp_path / "log.1").read_text() == "new"
    assert (tmp_path / "log.2").read_text() == "older"
    with pytest.raises(FileNotFoundError):
        rotate_numbered(str(path), keep=2)  # the current file is gone
    rotate_numbered(str(path), keep=2, missing_ok=True)  # a racing rotation won
    assert (tmp_path / "log.2").read_text() == "new"
