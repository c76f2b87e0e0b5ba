"""`carpswitch hast-event` (hast.conf's exec hook), the marks it sets, `split-brain clear`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from carpswitch.cli import main
from carpswitch.commands.hast_event import parse_event
from carpswitch.engine.hastevents import EVENTS_NAME, HastEvent, HastEventLog
from carpswitch.engine.splitbrain import (
    MARKS_DIR,
    SplitBrainMarks,
    file_name,
    resource_name,
)
from carpswitch.exitcodes import ExitCode


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config with state_dir, run_dir and a notify hook that writes down its calls; logs
    go to stderr even where a syslogd listens."""
    monkeypatch.setattr("carpswitch.logsetup.SYSLOG_SOCKETS", ())
    notify = tmp_path / "notify"
    notify.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/notified\ncat >> {tmp_path}/stdin\n')
    notify.chmod(stat.S_IRWXU)
    (tmp_path / "carpswitch.toml").write_text(
        f'[paths]\nstate_dir = "{tmp_path}/db"\nrun_dir = "{tmp_path}/run"\n'
        f'[hooks]\nnotify = "{notify}"\n'
    )
    return tmp_path


def hook(node: Path, *words: str) -> int:
    return main(["-c", str(node / "carpswitch.toml"), "hast-event", *words])


def events(node: Path) -> list[HastEvent]:
    return HastEventLog(str(node / "db")).events()


def err(capsys: pytest.CaptureFixture[str]) -> str:
    """What the hook logged (stderr: no syslog in a test, carpswitch.logsetup)."""
    return capsys.readouterr().err


def notified(node: Path) -> list[str]:
    path = node / "notified"
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize(
    "words",
    [
        ["role", "tank", "init", "secondary"],
        ["connect", "tank"],
        ["disconnect", "tank"],
        ["syncstart", "tank"],
        ["syncdone", "tank"],
        ["syncintr", "tank"],
    ],
)
def test_every_hastd_event_is_journaled_and_marks_nothing(node, words):
    assert hook(node, *words) == ExitCode.OK
    (event,) = events(node)
    assert (event.event, event.resource, list(event.args), event.known) == (
        words[0],
        "tank",
        words[2:],
        True,
    )
    assert SplitBrainMarks(str(node / "db")).read().resources == frozenset()
    assert notified(node) == []


def test_an_unknown_event_exits_0_and_is_journaled_and_logged(node, capsys):
    assert hook(node, "meltdown", "tank", "soon") == ExitCode.OK
    (event,) = events(node)
    assert (event.event, event.known, event.args) == ("meltdown", False, ("soon",))
    assert "WARNING: hast-event: unknown event from hastd: meltdown tank soon" in err(capsys)


def test_a_known_event_of_another_shape_is_not_taken_as_known():
    assert parse_event(["role", "tank"]).known is False  # role wants OLD NEW
    assert parse_event(["split-brain"]).known is False  # no resource
    assert parse_event(["split-brain", "tank", "x"]).known is False


def test_split_brain_marks_logs_critical_and_notifies_once(node, capsys):
    assert hook(node, "split-brain", "tank") == ExitCode.OK
    assert hook(node, "split-brain", "tank") == ExitCode.OK  # a degraded primary re-fires
    assert SplitBrainMarks(str(node / "db")).read().resources == {"tank"}
    critical = [line for line in err(capsys).splitlines() if "CRITICAL" in line]
    assert len(critical) == 1
    assert "split-brain on tank (hastd): never promoted automatically" in critical[0]
    first, second = events(node)
    assert notified(node) == [f"split-brain hast-event tank {first.id}"]  # not for the second
    assert json.loads((node / "stdin").read_text())["resource"] == "tank"
    assert second.event == "split-brain"  # journaled all the same


def test_a_notify_hook_that_hangs_is_bounded(node):
    (node / "notify").write_text("#!/bin/sh\nexec sleep 60\n")
    with (node / "carpswitch.toml").open("a") as config:
        config.write("[timeouts]\nhook = 0.5\n")
    assert hook(node, "split-brain", "tank") == ExitCode.OK  # killed after 0.5 s, logged
    assert SplitBrainMarks(str(node / "db")).read().resources == {"tank"}


def test_a_mark_that_cannot_be_made_is_critical_and_fails_the_hook(node, capsys):
    (node / "db").mkdir(mode=0o700)
    (node / "db" / MARKS_DIR).write_text("")  # a file where the directory should be
    assert hook(node, "split-brain", "tank") == ExitCode.FAILED  # hastd logs "ungracefully"
    text = err(capsys)
    assert "CRITICAL: split-brain on tank (hastd): cannot mark it" in text
    assert "NOT blocked" in text
    assert len(notified(node)) == 1  # the admin is told anyway


def test_a_config_that_cannot_be_loaded_still_logs_the_split_brain(node, tmp_path, capsys):
    (tmp_path / "broken.toml").write_text("[paths\n")
    assert main(["-c", str(tmp_path / "broken.toml"), "hast-event", "split-brain", "tank"]) == 78
    assert "CRITICAL: split-brain on tank (hastd): NOT marked" in err(capsys)


def test_marks_of_resources_with_awkward_names_round_trip(tmp_path):
    marks = SplitBrainMarks(str(tmp_path))
    names = ["tank", ".hidden", "a/b", "100%", "%2E"]
    for name in names:
        assert marks.mark(name, "e1") is True
        assert resource_name(file_name(name)) == name
    assert marks.read().resources == set(names)
    assert all("/" not in file_name(n) and not file_name(n).startswith(".") for n in names)


def test_a_mark_with_unreadable_content_is_still_a_mark(tmp_path):
    marks = SplitBrainMarks(str(tmp_path))
    marks.mark("tank", "e1")
    Path(marks.path("tank")).write_bytes(b"\xff garbage")
    seen = marks.read()
    assert seen.covers("tank") and "unknown" in seen.details["tank"]


def test_an_unreadable_marks_directory_counts_as_every_resource_marked(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / MARKS_DIR)  # never followed
    seen = SplitBrainMarks(str(tmp_path)).read()
    assert seen.unreadable is not None
    assert seen.covers("tank") and seen.covers("any")
    assert seen.reason(("tank",)) is not None and "unreadable" in str(seen.reason(("tank",)))
    assert seen.reason(()) is None  # a group without resources has nothing to promote


def test_split_brain_clear_is_the_way_to_drop_a_mark(node, capsys):
    hook(node, "split-brain", "tank")
    hook(node, "split-brain", "lun")
    config = str(node / "carpswitch.toml")
    assert main(["-c", config, "split-brain", "clear", "tank"]) == ExitCode.OK
    assert SplitBrainMarks(str(node / "db")).read().resources == {"lun"}
    assert main(["-c", config, "split-brain", "clear", "tank"]) == ExitCode.FAILED
    assert "tank has no split-brain mark" in capsys.readouterr().out
    assert main(["-c", config, "split-brain", "clear", "--all"]) == ExitCode.OK
    assert SplitBrainMarks(str(node / "db")).read().resources == frozenset()


def test_split_brain_clear_wants_resources_or_all(node):
    config = str(node / "carpswitch.toml")
    assert main(["-c", config, "split-brain", "clear"]) == ExitCode.USAGE
    assert main(["-c", config, "split-brain", "clear", "--all", "tank"]) == ExitCode.USAGE


def test_only_clear_all_takes_an_unreadable_marks_directory_away(node, capsys):
    (node / "db").mkdir(mode=0o700)
    (node / "db" / MARKS_DIR).write_text("")
    config = str(node / "carpswitch.toml")
    assert main(["-c", config, "split-brain", "clear", "tank"]) == ExitCode.FAILED
    assert "may name any resource" in capsys.readouterr().out
    assert SplitBrainMarks(str(node / "db")).read().unreadable is not None
    assert main(["-c", config, "split-brain", "clear", "--all"]) == ExitCode.OK
    assert SplitBrainMarks(str(node / "db")).read() == SplitBrainMarks("/nonexistent").read()
    assert any(".corrupt-" in n for n in os.listdir(node / "db"))  # kept for a look


def test_carpswitch_clear_leaves_the_marks_alone(node):
    hook(node, "split-brain", "tank")
    main(["-c", str(node / "carpswitch.toml"), "clear"])  # the hold's business only
    assert SplitBrainMarks(str(node / "db")).read().resources == {"tank"}


def test_the_events_file_rotates_and_keeps_every_line_of_the_kept_files(tmp_path):
    log = HastEventLog(str(tmp_path), max_bytes=300, keep=2)
    sent = [HastEvent.now("connect", f"r{i}", (), True) for i in range(20)]
    for event in sent:
        log.append(event)
    kept = log.events()
    assert (tmp_path / f"{EVENTS_NAME}.1").exists() and (tmp_path / f"{EVENTS_NAME}.2").exists()
    assert not (tmp_path / f"{EVENTS_NAME}.3").exists()
    assert [e.id for e in kept] == [e.id for e in sent][-len(kept) :]  # newest, in order
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) < 4 * 300


def test_a_torn_line_in_the_events_file_is_skipped(tmp_path):
    log = HastEventLog(str(tmp_path))
    log.append(HastEvent.now("connect", "tank", (), True))
    with open(tmp_path / EVENTS_NAME, "ab") as torn:
        torn.write(b'{"id": "x", "ev')
    log.append(HastEvent.now("disconnect", "tank", (), True))
    assert [e.event for e in log.events()] == ["connect", "disconnect"]


def test_the_hook_starts_without_pydantic_or_argparse(node):
    """hastd forks it for every event: the path of `carpswitch hast-event` stays light."""
    config = node / "carpswitch.toml"
    code = (
        "import sys; from carpswitch.cli import main;"
        f"status = main(['-c', {str(config)!r}, 'hast-event', 'connect', 'tank']);"
        "print(status, sorted(m for m in ('pydantic', 'argparse') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "0 []\n"
    assert [e.event for e in events(node)] == ["connect"]
