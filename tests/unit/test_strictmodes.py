"""StrictModes (carpswitch.strictmodes): what another local user could change is refused.

The hostile user is `nobody` (uid 65534): files and directories are chowned to it or made
writable by others; the chown tests need root and skip without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from carpswitch.cli import main
from carpswitch.config import load_config
from carpswitch.intake.settings import read_hook_settings
from carpswitch.strictmodes import UnsafePath, check_config_file, check_private_dir

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
