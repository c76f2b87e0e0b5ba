"""CLI skeleton: help that lists every command, sysexits statuses."""

import subprocess
import sys

import pytest

from carpswitch.cli import main
from carpswitch.cli_words import COMMANDS


def run(capsys, *argv):
    code: object
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_lists_every_command_with_its_line(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in (
        "master",
        "backup",
        "promote",
        "demote",
        "status",
        "plan",
        "check",
        "history",
        "reconcile",
        "daemon",
        "pause",
        "resume",
        "lab",
    ):
        assert name in COMMANDS
        line = next(line for line in out.splitlines() if line.strip().startswith(name + " "))
        assert COMMANDS[name][:30] in line


def test_no_command_is_a_usage_error_that_lists_the_commands(capsys):
    code, _, err = run(capsys)
    assert code == 64
    assert "usage: carpswitch" in err
    for name, text in COMMANDS.items():
        assert any(line.split()[:1] == [name] and text[:20] in line for line in err.splitlines())


def test_unknown_command_exits_64_with_a_clear_message(capsys):
    code, _, err = run(capsys, "promot")
    assert code == 64
    assert "invalid choice: 'promot'" in err


def test_bad_arguments_exit_64(capsys):
    assert run(capsys, "status", "--jsn")[0] == 64
    assert run(capsys, "plan", "sideways")[0] == 64
    assert run(capsys, "history", "-n", "many")[0] == 64
    assert run(capsys, "master")[0] == 64


def test_config_error_exits_78_naming_file_and_key(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[node]\nnmae = "x"\n')
    code, _, err = run(capsys, "-c", str(path), "status")
    assert code == 78
    assert f"{path}: node.nmae: unknown key" in err


def test_missing_config_given_with_c_exits_78(capsys, tmp_path):
    code, _, err = run(capsys, "-c", str(tmp_path / "none.toml"), "check")
    assert code == 78
    assert "no such file" in err


def test_setup_is_offered_now_that_it_works(capsys):
    """`setup` was listed in --help and exited 69 (issue 8, item 31); issue 11 built it.

    Without its subcommand it is still a usage error (64), never "unavailable" (69)."""
    assert "setup" in COMMANDS
    _, out, _ = run(capsys, "--help")
    assert "setup" in out
    code, _, err = run(capsys, "setup")
    assert code == 64
    assert "the following arguments are required: SETUP" in err


@pytest.mark.parametrize(
    ("argv", "explained"),
    [
        (["plan", "--help"], ["master|backup", "the CARP state to plan for", "GROUP", "[[group]]"]),
        (["promote", "--help"], ["GROUP", "[[group]] name", "--force"]),
        (["demote", "--help"], ["GROUP", "[[group]] name"]),
        (["master", "--help"], ["VHID@IFACE|IFACE", "1@vtnet0"]),
        (["history", "--help"], ["-n N", "last N"]),
    ],
)
def test_each_subcommand_help_explains_its_arguments(capsys, argv, explained):
    code, out, _ = run(capsys, *argv)
    assert code == 0
    for text in explained:
        assert text in out


def test_an_empty_config_path_is_a_usage_error(capsys):
    code, _, err = run(capsys, "-c", "", "status")
    assert code == 64
    assert "argument -c/--config: empty path" in err


def test_config_errors_are_one_line_each_naming_file_and_key(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[group]]\nname = "g"\nvhid = true\nresources = []\n')
    code, out, err = run(capsys, "-c", str(path), "check")
    assert (code, out) == (78, "")
    assert err.splitlines() == [
        f"carpswitch: {path}: group[0].vhid: expected an integer from 1 to 255, not true",
        f"carpswitch: {path}: group[0].resources: expected at least 1 item, not an empty array",
    ]


def test_a_toml_error_says_its_line_once(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[node]\nname = hasta\n")
    code, _, err = run(capsys, "-c", str(path), "status")
    assert code == 78
    assert err == (f"carpswitch: {path}: line 2, column 8: not valid TOML: Invalid value\n")


@pytest.fixture
def hook_calls(mocker):
    """The hook's hand-off and syslog, recorded instead of done."""
    mocker.patch("syslog.openlog")
    mocker.patch("syslog.syslog")
    return mocker.patch("carpswitch.devd.hook.hand_on", return_value="handed on")


@pytest.mark.parametrize("word", ["MASTER", "master", "Master"])
def test_hook_words_are_case_insensitive(capsys, hook_calls, word):
    code, out, err = run(capsys, word, "1@vtnet0")
    assert (code, out, err) == (0, "", "")
    event = hook_calls.call_args.args[1]
    assert (event.state, event.subsystem) == ("MASTER", "1@vtnet0")


def test_the_hook_takes_config_and_verbosity_before_its_word(capsys, hook_calls, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(f'[paths]\nrun_dir = "{tmp_path}/run"\n')
    for argv in (["-c", str(config), "-vv"], [f"--config={config}", "-v", "--verbose"]):
        assert run(capsys, *argv, "backup", "vtnet0")[0] == 0
        settings, event, verbose = hook_calls.call_args.args
        assert settings.run_dir == f"{tmp_path}/run"
        assert (event.state, event.subsystem, verbose) == ("BACKUP", "vtnet0", 2)


def test_hook_help_goes_through_argparse(capsys, hook_calls):
    code, out, _ = run(capsys, "master", "--help")
    assert code == 0
    assert "VHID@IFACE|IFACE" in out
    hook_calls.assert_not_called()


def test_bad_hook_arguments_print_one_line(capsys, hook_calls):
    code, out, err = run(capsys, "master", "1@")
    assert (code, out) == (64, "")
    assert len(err.splitlines()) == 1
    assert err.startswith("carpswitch: hook: bad arguments ['master', '1@']")
    hook_calls.assert_not_called()


def test_the_hook_refuses_an_empty_config_path(capsys, hook_calls):
    code, _, err = run(capsys, "-c", "", "master", "1@vtnet0")
    assert code == 64
    assert err == "carpswitch: hook MASTER 1@vtnet0: not handled: -c: empty path\n"
    hook_calls.assert_not_called()


def test_pause_joins_its_reason_words(capsys, mocker):
    pause = mocker.patch("carpswitch.commands.intake.run_pause", return_value=0)
    assert run(capsys, "pause", "new", "disks")[0] == 0
    assert pause.call_args.args == (None, "new disks")


def test_reconcile_takes_boot(capsys, mocker):
    reconcile = mocker.patch("carpswitch.commands.intake.run_reconcile", return_value=0)
    assert run(capsys, "reconcile", "--boot")[0] == 0
    assert reconcile.call_args.kwargs == {"boot": True}


def test_module_runs_as_python_dash_m():
    result = subprocess.run(
        [sys.executable, "-m", "carpswitch", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("carpswitch ")


@pytest.mark.parametrize(
    "command", ["status", "check", "plan", "lab", "reconcile", "daemon", "pause", "resume"]
)
def test_each_command_has_its_own_help(capsys, command):
    if command == "lab":
        pytest.importorskip("carpswitch.lab.cli")
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert "usage:" in out


def test_any_command_finding_the_lock_held_exits_75(capsys, tmp_path):
    from carpswitch.engine.lock import ActorLock

    config = tmp_path / "c.toml"
    config.write_text(f'[paths]\nrun_dir = "{tmp_path}/run"\nstate_dir = "{tmp_path}/db"\n')
    with ActorLock(str(tmp_path / "run")):
        code, _, err = run(capsys, "-c", str(config), "clear")
    assert code == 75
    assert "another carpswitch is acting" in err
