"""Safe state files and private directories (carpswitch.statefiles), as root would meet them.

The hostile user is `nobody` (uid 65534): files and directories are chowned to it or made
writable by others; these tests need root for the chown and skip without it.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from pathlib import Path

import pytest

from carpswitch.cli import main
from carpswitch.config import load_config
from carpswitch.intake.settings import read_hook_settings
from carpswitch.statefiles import (
    CORRUPT_MARK,
    UnsafePath,
    append_line,
    aside_name,
    check_config_file,
    check_private_dir,
    make_private_dir,
    open_lock_file,
    read_state_file,
    replace_file,
    set_aside,
    set_aside_files,
)

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown to nobody")


def refusal(check, path: Path) -> str:
    with pytest.raises(UnsafePath) as caught:
        check(str(path))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def test_a_root_owned_directory_under_sticky_tmp_is_fine(tmp_path):
    state = tmp_path / "var" / "db" / "carpswitch"
    state.mkdir(parents=True)
    check_private_dir(str(state))
    check_private_dir(str(tmp_path / "missing" / "run"))  # created later, the way is safe


@as_root
def test_a_directory_another_user_owns_is_refused(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, NOBODY, NOBODY)
    assert "owned by nobody (uid 65534)" in refusal(check_private_dir, state)


@pytest.mark.parametrize(("mode", "who"), [(0o777, "group and others"), (0o775, "group")])
def test_a_directory_others_can_write_is_refused(tmp_path, mode, who):
    run = tmp_path / "run"
    run.mkdir()
    run.chmod(mode)
    assert f"writable by {who} (mode 0{mode:o})" in refusal(check_private_dir, run)


def test_sticky_is_no_excuse_for_the_directory_itself(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    run.chmod(0o1777)
    assert "writable by group and others" in refusal(check_private_dir, run)


def test_a_world_writable_parent_without_the_sticky_bit_is_refused(tmp_path):
    parent = tmp_path / "shared"
    (parent / "state").mkdir(parents=True)
    parent.chmod(0o777)
    message = refusal(check_private_dir, parent / "state")
    assert f"{parent} is writable by group and others without the sticky bit" in message
    assert "is writable" in refusal(check_private_dir, parent / "not-yet")


@as_root
def test_a_symlink_another_user_owns_on_the_way_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "state"
    link.symlink_to(real)
    check_private_dir(str(link))  # root's own symlink: fine
    os.lchown(link, NOBODY, NOBODY)
    assert f"{link} is owned by nobody" in refusal(check_private_dir, link)


def test_the_target_of_a_symlink_is_checked(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    real.chmod(0o777)
    link = tmp_path / "state"
    link.symlink_to("real")
    assert f"(resolved to {real})" in refusal(check_private_dir, link)


def test_a_regular_file_is_not_a_state_directory(tmp_path):
    file = tmp_path / "state"
    file.write_text("")
    assert refusal(check_private_dir, file).endswith(": not a directory")
    assert f"{file} is not a directory" in refusal(check_private_dir, file / "below")


def test_a_symlink_loop_is_refused(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    assert "too many levels of symbolic links" in refusal(check_private_dir, loop)


@as_root
def test_a_config_file_another_user_owns_or_can_write_is_refused(tmp_path):
    config = tmp_path / "carpswitch.toml"
    config.write_text("")
    check_config_file(str(config))
    config.chmod(0o646)
    assert "writable by others (mode 0646)" in refusal(check_config_file, config)
    config.chmod(0o644)
    os.chown(config, NOBODY, NOBODY)
    assert "owned by nobody" in refusal(check_config_file, config)


def test_a_fifo_config_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "carpswitch.toml"
    os.mkfifo(fifo)
    assert refusal(check_config_file, fifo).endswith("not a regular file")


def test_a_missing_config_file_is_left_to_the_caller(tmp_path):
    check_config_file(str(tmp_path / "absent.toml"))


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


# --- where carpswitch applies the checks: the config loader and the devd hook -------


def lab_like_config(tmp_path: Path) -> Path:
    config = tmp_path / "carpswitch.toml"
    config.write_text(
        f'[paths]\nstate_dir = "{tmp_path}/db/carpswitch"\nrun_dir = "{tmp_path}/run/carpswitch"\n'
    )
    return config


@pytest.mark.parametrize("load", [load_config, read_hook_settings], ids=["cli", "hook"])
def test_a_world_writable_config_is_refused_before_it_is_read(tmp_path, load):
    config = lab_like_config(tmp_path)
    config.chmod(0o666)
    with pytest.raises(UnsafePath) as caught:
        load(str(config))
    assert str(caught.value) == f"{config}: writable by group and others (mode 0666)"


@pytest.mark.parametrize("load", [load_config, read_hook_settings], ids=["cli", "hook"])
@pytest.mark.parametrize("key", ["state_dir", "run_dir"])
def test_a_state_dir_or_run_dir_that_is_a_file_is_refused_and_nothing_is_made(tmp_path, load, key):
    config = lab_like_config(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    text = config.read_text().replace(
        f'{key} = "{tmp_path}/{"db" if key == "state_dir" else "run"}/carpswitch"',
        f'{key} = "{blocker}"',
    )
    config.write_text(text)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(UnsafePath) as caught:
        load(str(config))
    assert str(caught.value) == f"{blocker}: not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_the_cli_reports_an_unsafe_directory_as_a_config_error_exit_78(tmp_path, capsys):
    config = lab_like_config(tmp_path)
    (tmp_path / "db" / "carpswitch").mkdir(parents=True)
    (tmp_path / "db" / "carpswitch").chmod(0o777)
    assert main(["-c", str(config), "history"]) == 78
    err = capsys.readouterr().err
    assert f"{tmp_path}/db/carpswitch: writable by group and others (mode 0777)" in err
    assert "Traceback" not in err
