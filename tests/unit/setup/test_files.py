"""Atomic writes with a backup, and the unified diff set-up shows."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from carpswitch import statefiles
from carpswitch.setup.files import BACKUP_SUFFIX, SetupError, changes, write_file
from carpswitch.setup.render import NodeFile


def test_new_file_is_written_with_its_mode_and_no_backup(tmp_path: Path) -> None:
    file = NodeFile(str(tmp_path / "etc" / "netif"), "a=1\n", 0o600, "netif")
    (change,) = changes((file,))
    write_file(change.file, change.old_text)
    assert Path(file.path).read_text() == "a=1\n"
    assert os.stat(file.path).st_mode & 0o777 == 0o600
    assert not Path(file.path + BACKUP_SUFFIX).exists()
    assert changes((file,)) == ()


def test_differing_old_file_is_kept_as_backup(tmp_path: Path) -> None:
    path = tmp_path / "hast.conf"
    path.write_text("old\n")
    path.chmod(0o644)
    file = NodeFile(str(path), "new\n", 0o644, "hast.conf")
    (change,) = changes((file,))
    write_file(change.file, change.old_text)
    assert path.read_text() == "new\n"
    assert Path(str(path) + BACKUP_SUFFIX).read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_mode_alone_is_a_change(tmp_path: Path) -> None:
    path = tmp_path / "netif"
    path.write_text("same\n")
    path.chmod(0o644)
    (change,) = changes((NodeFile(str(path), "same\n", 0o600, "netif"),))
    assert "mode 0644 -> 0600" in change.diff
    write_file(change.file, change.old_text)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert not Path(str(path) + BACKUP_SUFFIX).exists()  # same text: nothing to keep


def test_diff_names_the_path_and_the_new_text(tmp_path: Path) -> None:
    path = tmp_path / "hast.conf"
    path.write_text("resource a {\n}\n")
    (change,) = changes((NodeFile(str(path), "resource b {\n}\n", 0o644, "hast.conf"),))
    lines = change.diff.splitlines()
    assert lines[:2] == [f"--- {path}", f"+++ {path} (new)"]
    assert "-resource a {" in lines and "+resource b {" in lines


def test_full_disk_fails_naming_the_path_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hast.conf"
    path.write_text("old\n")
    file = NodeFile(str(path), "new and longer\n", 0o644, "hast.conf")

    def full(_fd: int, _data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(statefiles, "_write_all", full)  # the one atomic writer's write loop
    with pytest.raises(SetupError) as caught:
        write_file(file, "old\n")
    assert str(caught.value) == f"cannot write {path}: No space left on device"
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hast.conf"]


def test_directory_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "etc").write_text("a file where a directory should be\n")
    with pytest.raises(SetupError, match=r"^cannot write .*/etc/x: File exists$"):
        write_file(NodeFile(str(tmp_path / "etc" / "x"), "t\n", 0o644, "x"), None)
    assert (tmp_path / "etc").read_text() == "a file where a directory should be\n"
