"""What carpswitch's commands import at start: pydantic finds no plugin, looks for none."""

import argparse
import gc
import importlib
import subprocess
import sys
import textwrap

import pytest

from carpswitch.cli import main
from carpswitch.cli_parser import build_parser
from carpswitch.cli_words import COMMANDS
from carpswitch.startup import collector_paused

#: Validates a config and reports, as the last line, the modules of interest it imported.
VALIDATE = textwrap.dedent(
    """
    import sys
    {first}
    from carpswitch.config import parse_config
    assert parse_config({{"node": {{"name": "hasta"}}}}).node.name == "hasta"
    print(sorted(m for m in ("importlib.metadata", "spy_plugin") if m in sys.modules))
    """
)


def _plugin_dir(tmp_path):
    """A distribution on sys.path offering a pydantic plugin, as a real one would."""
    dist = tmp_path / "spy_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: spy-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pydantic]\nspy = spy_plugin:plugin\n")
    (tmp_path / "spy_plugin.py").write_text(
        "class Spy:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        "        return None, None, None\n"
        "plugin = Spy()\n"
    )
    return tmp_path


def _imported(tmp_path, first=""):
    result = subprocess.run(
        [sys.executable, "-c", VALIDATE.format(first=first)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(_plugin_dir(tmp_path)), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


def test_pydantic_loads_no_plugin_and_never_imports_importlib_metadata(tmp_path):
    assert _imported(tmp_path) == "[]"


def test_without_carpswitch_first_pydantic_would_load_the_plugin(tmp_path):
    """The control: pydantic imported before carpswitch keeps its own loader, which scans
    the entry points (and imports the plugin)."""
    first = "from pydantic import BaseModel\nclass Probe(BaseModel):\n    x: int = 0"
    assert _imported(tmp_path, first) == "['importlib.metadata', 'spy_plugin']"


# --- argparse: only the command's own subcommand is built


#: Command lines of every command, each with the arguments it takes.
COMMAND_LINES = [
    ["status", "--json"],
    ["check"],
    ["plan", "master", "storage"],
    ["plan", "backup"],
    ["promote", "--force", "storage"],
    ["demote", "storage", "web"],
    ["history", "-n", "3", "--json"],
    ["clear"],
    ["reconcile", "--boot"],
    ["daemon"],
    ["pause", "disk", "swap"],
    ["resume"],
    ["master", "1@vtnet0"],
    ["backup", "vtnet0"],
    ["lab", "start", "--x"],
    ["setup", "plan", "--json"],
    ["setup", "apply"],
    ["setup", "receive", "facts", "--as", "hastb"],
    ["setup", "init", "--remote-host", "hastb", "--no-iscsi"],
    ["hast-event", "role", "tank", "init", "secondary"],
    ["split-brain", "clear", "tank"],
]


def test_every_command_word_has_a_command_line_here():
    assert {line[0] for line in COMMAND_LINES} == set(COMMANDS)


@pytest.mark.parametrize("argv", COMMAND_LINES, ids=lambda argv: argv[0])
def test_the_lean_parser_reads_a_command_line_as_the_full_one_does(argv):
    full = build_parser().parse_args(["-v", "-c", "/x.toml", *argv])
    lean = build_parser(argv[0])
    assert lean.parse_args(["-v", "-c", "/x.toml", *argv]) == full
    only = next(a for a in lean._actions if isinstance(a, argparse._SubParsersAction))
    assert list(only.choices) == [argv[0]]


def test_help_before_the_command_word_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["-h", "status"])
    assert exited.value.code == 0
    listed = capsys.readouterr().out
    assert all(f"    {name}" in listed for name in COMMANDS)


def test_a_command_word_the_lean_parser_does_not_know_is_refused_with_the_list(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["statu"])
    assert exited.value.code == 64
    assert "choose from 'master', 'backup', 'promote'" in capsys.readouterr().err


# --- the collector: paused over the imports of the command's own process


def _after_history(tmp_path, own_process):
    """gc's state after `carpswitch history` ran as the process's command (or a caller's)."""
    state, run = tmp_path / "state", tmp_path / "run"
    state.mkdir(mode=0o700)
    run.mkdir(mode=0o700)
    config = tmp_path / "c.toml"
    config.write_text(f'[paths]\nstate_dir = "{state}"\nrun_dir = "{run}"\n')
    config.chmod(0o600)
    call = "main()" if own_process else "main(sys.argv[1:])"
    code = (
        "import gc, sys\n"
        "from carpswitch.cli import main\n"
        f"sys.argv = ['carpswitch', '-c', {str(config)!r}, 'history']\n"
        f"status = {call}\n"
        "print(status, gc.isenabled(), gc.get_freeze_count() > 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-3:]


def test_the_command_of_its_own_process_freezes_what_its_imports_made(tmp_path):
    assert _after_history(tmp_path, own_process=True) == ["0", "True", "True"]


def test_a_command_run_inside_a_callers_process_leaves_its_collector_alone(tmp_path):
    assert _after_history(tmp_path, own_process=False) == ["0", "True", "False"]


def test_the_collector_is_on_again_even_when_an_import_fails():
    was = gc.isenabled()
    try:
        with pytest.raises(ImportError), collector_paused(long_lived=False):
            importlib.import_module("carpswitch.no_such_module")
        assert gc.isenabled() == was
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this is pytest's process
