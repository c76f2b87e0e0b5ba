"""sbin/carpswitch-hast-event, the program set-up's hast.conf `exec` names, run as hastd
runs it: execv(path) with argv[0] = basename(path), the event words after it, stdio on
/dev/null, not waited for (carpswitch.lab.hastd.hooks.fire does exactly that)."""

from __future__ import annotations

import re
import stat
import sys
import tomllib
from pathlib import Path

import pytest

from carpswitch.engine.hastevents import HastEventLog
from carpswitch.engine.splitbrain import SplitBrainMarks
from carpswitch.lab.hastd import hooks
from tests.unit.test_hast_event_lab import wait_for

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "sbin" / "carpswitch-hast-event"


def installed(directory: Path) -> Path:
    """The script as setuptools installs a script-file: `#!python` made this interpreter."""
    text = SCRIPT.read_text(encoding="utf-8")
    assert text.startswith("#!python\n")
    path = directory / "carpswitch-hast-event"
    path.write_text(f"#!{sys.executable}\n" + text.split("\n", 1)[1], encoding="utf-8")
    path.chmod(stat.S_IRWXU)
    return path


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config (found through $CARPSWITCH_CONFIG: hastd passes no options) and the script."""
    (tmp_path / "carpswitch.toml").write_text(
        f'[paths]\nstate_dir = "{tmp_path}/db"\nrun_dir = "{tmp_path}/run"\n'
    )
    monkeypatch.setenv("CARPSWITCH_CONFIG", str(tmp_path / "carpswitch.toml"))
    (tmp_path / "sbin").mkdir()
    installed(tmp_path / "sbin")
    return tmp_path


def fire(node: Path, *words: str) -> list[str]:
    """Run the script as hastd does and wait for it; what hastd would log about it."""
    logged: list[str] = []
    assert hooks.fire(str(node / "sbin" / "carpswitch-hast-event"), logged.append, *words)

    def ended() -> bool:
        hooks.check(logged.append)
        return not hooks.running()

    assert wait_for(ended, timeout=20)
    return logged


def test_run_as_hastd_runs_it_every_event_word_reaches_hast_event(node):
    assert fire(node, "role", "tank", "init", "secondary") == []  # exit 0: nothing logged
    assert fire(node, "connect", "tank") == []
    found = [(e.event, e.resource, e.args, e.known) for e in HastEventLog(f"{node}/db").events()]
    assert found == [
        ("role", "tank", ("init", "secondary"), True),
        ("connect", "tank", (), True),
    ]


def test_a_split_brain_through_the_script_marks_the_resource(node):
    assert fire(node, "split-brain", "tank") == []
    assert SplitBrainMarks(f"{node}/db").read().resources == {"tank"}


def test_the_commands_exit_status_is_the_scripts_and_hastd_logs_a_failure(node):
    (node / "carpswitch.toml").write_text("[paths\n")  # cannot be read: exit 78 (CONFIG)
    path = node / "sbin" / "carpswitch-hast-event"
    (line,) = fire(node, "connect", "tank")
    assert re.fullmatch(
        rf"Hook exited ungracefully \(pid=[1-9][0-9]*, exitcode=78, "
        rf"cmd=\[{re.escape(str(path))} connect tank\]\)\.",
        line,
    ), line


def test_it_is_installed_with_the_package_as_is():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "sbin/carpswitch-hast-event" in project["tool"]["setuptools"]["script-files"]
    assert SCRIPT.stat().st_mode & stat.S_IXUSR
    assert "scripts" not in project["project"]  # no generated console-script wrapper
