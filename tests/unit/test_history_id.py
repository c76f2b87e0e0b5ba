"""`carpswitch history ID`: one transition's timeline, found by a unique id prefix."""

from __future__ import annotations

import json
from datetime import timedelta

from carpswitch.commands.history import find, timeline
from carpswitch.engine.journal import Journal
from carpswitch.model import TransitionOutcome
from tests.unit.test_cli import run
from tests.unit.test_metrics import role_step
from tests.unit.test_status_word import T0, record, release_timed_out


def test_a_unique_prefix_finds_one_and_anything_else_says_why():
    a = record().model_copy(update={"id": "abc123000000"})
    b = record().model_copy(update={"id": "abd456000000"})
    assert find([a, b], "abc")[0] is a
    assert find([a, b], "abd456000000")[0] is b
    assert find([a, b], "ab") == (
        None,
        "ab is the start of more than one transition id: abc123000000, abd456000000",
    )
    assert find([a, b], "ffff") == (None, "no transition ffff")
    assert find([a, b], "")[0] is None


def test_the_timeline_has_offsets_durations_and_undo_marked():
    failed = record(steps=(role_step("primary"), release_timed_out()))
    failed.steps[0] = failed.steps[0].model_copy(update={"started_at": T0 + timedelta(seconds=1)})
    failed.undo = [
        role_step("secondary").model_copy(update={"started_at": T0 + timedelta(seconds=31)})
    ]
    document = timeline(failed)
    assert document["duration"] == 31.5
    rows = [(r["step"], r["offset"], r["outcome"], r["undo"]) for r in document["steps"]]
    assert rows == [
        ("hast_role", 1.0, "ok", False),
        ("wait_release", 0.0, "timed_out", False),
        ("hast_role", 31.0, "ok", True),
    ]
    assert document["steps"][1]["detail"] == "release wait timed out after 30 s"


def config_with(tmp_path, *records) -> str:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (tmp_path / "run").mkdir(mode=0o700)
    journal = Journal(str(state))
    for r in records:
        journal.write(r)
    path = tmp_path / "carpswitch.toml"
    path.write_text(f'[paths]\nstate_dir = "{state}"\nrun_dir = "{tmp_path / "run"}"\n')
    return str(path)


def test_history_id_through_the_cli(capsys, tmp_path):
    failed = record(steps=(release_timed_out(),)).model_copy(update={"id": "0123456789ab"})
    other = record(outcome=TransitionOutcome.SUCCEEDED).model_copy(update={"id": "fedcba987654"})
    config = config_with(tmp_path, failed, other)
    code, out, _ = run(capsys, "-c", config, "history", "0123")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "promote storage failed in 31.50s  (id 0123456789ab)"
    assert lines[3].split() == ["OFFSET", "DURATION", "STEP", "RESOURCE", "OUTCOME", "DETAIL"]
    assert lines[4].split()[:5] == ["+0.000s", "30.000s", "wait_release", "-", "timed_out"]
    code, out, _ = run(capsys, "-c", config, "history", "--json", "fed")
    assert code == 0 and json.loads(out)["id"] == "fedcba987654"
    code, out, err = run(capsys, "-c", config, "history", "9999")
    assert (code, out, err) == (1, "", "carpswitch: history: no transition 9999\n")
    code, out, _ = run(capsys, "-c", config, "history")  # without ID: as before
    assert code == 0 and "id 0123456789ab, trigger: admin" in out
