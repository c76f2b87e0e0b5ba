"""Issue 12 "Seeing why" on a simulated FreeBSD node: carpswitch.prom, the state word,
the reasons and `history ID`, through the CLI the admin and node_exporter see."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from carpswitch.lab.faults import device_never_appears
from carpswitch.lab.node import LabNode
from tests.node.test_hardening_state import FAST, carpswitch
from tests.node.test_intake_helpers import IntakeNode, wait_until

pytestmark = pytest.mark.node


def with_metrics(node: LabNode, directory: Path, extra: str = FAST) -> Path:
    config = node.config_path
    config.write_text(config.read_text() + extra + f'\n[metrics]\ndir = "{directory}"\n')
    return config


def samples(directory: Path) -> Samples:
    """Every sample of carpswitch.prom, parsed by Prometheus's own text parser."""
    text = (directory / "carpswitch.prom").read_text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def value(found: Samples, name: str, **labels: str) -> float:
    """The sample's value; a KeyError when the file does not have it."""
    return found[(name, frozenset(labels.items()))]


def test_the_metrics_file_parses_and_follows_every_transition(make_lab_node, capsys, tmp_path):
    node = make_lab_node(carp_state="MASTER")
    prom = tmp_path / "textfile"
    prom.mkdir()
    config = with_metrics(node, prom)

    assert carpswitch(capsys, config, "promote")[0] == 0
    first = samples(prom)
    assert value(first, "carpswitch_transitions_total", kind="promote", outcome="succeeded") == 1
    assert value(first, "carpswitch_hast_role", resource="tank", role="primary") == 1
    assert value(first, "carpswitch_hast_role", resource="tank", role="init") == 0
    assert value(first, "carpswitch_hast_split_brain", resource="tank") == 0
    assert value(first, "carpswitch_held") == 0
    steps = {k: v for k, v in first.items() if k[0].endswith("step_duration_seconds")}
    assert any(("step", "hast_role") in labels for _n, labels in steps)
    assert stat.S_IMODE((prom / "carpswitch.prom").stat().st_mode) == 0o644  # for nobody
    assert [p.name for p in prom.iterdir()] == ["carpswitch.prom"]  # no temporary left

    assert carpswitch(capsys, config, "demote")[0] == 0
    second = samples(prom)
    assert value(second, "carpswitch_transitions_total", kind="demote", outcome="succeeded") == 1
    assert value(second, "carpswitch_transitions_total", kind="promote", outcome="succeeded") == 1
    assert value(second, "carpswitch_hast_role", resource="tank", role="secondary") == 1
    assert value(second, "carpswitch_hast_role", resource="tank", role="primary") == 0
    assert value(second, "carpswitch_last_transition_start_seconds") > value(
        first, "carpswitch_last_transition_start_seconds"
    )

    node.set_faults([device_never_appears("tank")])
    assert carpswitch(capsys, config, "promote")[0] == 1
    third = samples(prom)
    assert value(third, "carpswitch_transitions_total", kind="promote", outcome="failed") == 1
    assert value(third, "carpswitch_failed_promotions") == 1
    assert value(third, "carpswitch_hast_role", resource="tank", role="secondary") == 1
    undo = [labels for name, labels in third if name.endswith("step_duration_seconds")]
    assert any(("undo", "yes") in labels for labels in undo)

    node.set_faults([])
    assert carpswitch(capsys, config, "reconcile")[0] == 0  # a timer round: written again
    fourth = samples(prom)
    assert value(fourth, "carpswitch_hast_role", resource="tank", role="primary") == 1
    assert value(fourth, "carpswitch_hast_dirty_bytes", resource="tank") >= 0
    assert value(fourth, "carpswitch_observed_seconds") > value(
        third, "carpswitch_observed_seconds"
    )


def test_a_metrics_dir_that_cannot_be_written_never_fails_a_transition(
    make_lab_node, capsys, tmp_path
):
    node = make_lab_node(carp_state="MASTER")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    config = with_metrics(node, blocker)
    code, out = carpswitch(capsys, config, "reconcile")  # two writes: the transition's, the round's
    assert code == 0, out
    assert node.role("tank") == "primary"
    assert out.count("cannot write carpswitch.prom") == 1, out  # logged once
    assert carpswitch(capsys, config, "demote")[0] == 0
    assert node.role("tank") == "secondary"


def test_status_says_the_state_and_why_not_primary(make_lab_node, capsys, tmp_path):
    node = make_lab_node(carp_state="MASTER")
    config = node.config_path
    config.write_text(config.read_text() + FAST + "max_failures = 2\n")
    code, out = carpswitch(capsys, config, "status")
    assert code == 0 and out.splitlines()[0] == "idle"
    assert "not primary: group storage: CARP MASTER but tank init: no transition" in out

    node.set_faults([device_never_appears("tank")])
    assert carpswitch(capsys, config, "promote")[0] == 1
    _code, out = carpswitch(capsys, config, "status", "--json")
    document = json.loads(out)
    assert document["state"] == "failed"
    last = document["last_transition"]
    assert (last["kind"], last["outcome"]) == ("promote", "failed") and last["duration"] > 0
    assert "the last promotion failed" in document["reasons"][0]

    assert carpswitch(capsys, config, "promote")[0] == 1
    _code, out = carpswitch(capsys, config, "status")
    lines = out.splitlines()
    assert lines[0] == "held"
    assert "2 failed promotions, the last: " in lines[1], out
    assert lines[1].endswith(
        "did not appear within 1.5 s (role now primary): run `carpswitch clear`"
    )
    assert lines[2].startswith("  last transition: promote storage failed in ")

    assert carpswitch(capsys, config, "pause", "upgrading")[0] == 0
    _code, out = carpswitch(capsys, config, "status")
    assert out.splitlines()[0] == "paused"
    assert "paused (" in out and "upgrading): run `carpswitch resume`" in out


def test_history_id_prints_one_transitions_timeline(make_lab_node, capsys):
    node = make_lab_node(carp_state="MASTER")
    config = node.config_path
    config.write_text(config.read_text() + FAST)
    node.set_faults([device_never_appears("tank")])
    assert carpswitch(capsys, config, "promote")[0] == 1
    _code, out = carpswitch(capsys, config, "status", "--json")
    record_id = json.loads(out)["last_transition"]["id"]

    code, out = carpswitch(capsys, config, "history", record_id[:6])
    assert code == 0, out
    assert record_id in out.splitlines()[0]
    assert any("undo hast_role" in line for line in out.splitlines()), out
    code, out = carpswitch(capsys, config, "history", "--json", record_id)
    timeline = json.loads(out)
    assert timeline["id"] == record_id and timeline["outcome"] == "failed"
    failed = [s for s in timeline["steps"] if s["outcome"] == "timed_out"]
    assert failed and failed[0]["step"] == "wait_device"
    assert any(s["undo"] for s in timeline["steps"])

    code, out = carpswitch(capsys, config, "history", "feedbeef")
    assert code == 1 and out.strip() == "carpswitch: history: no transition feedbeef"


PROMOTED = frozenset({("kind", "promote"), ("outcome", "succeeded")})


def test_the_daemon_writes_on_its_timer_and_status_says_settling(make_lab_node, tmp_path):
    prom = tmp_path / "textfile"
    prom.mkdir()
    intake = IntakeNode(make_lab_node(carp_state="BACKUP"), settle=3.0, timer=0.3)
    intake.config.write_text(intake.config.read_text() + f'\n[metrics]\ndir = "{prom}"\n')
    with intake.daemon():
        assert wait_until(lambda: intake.role() == "secondary"), intake.daemon_log()  # from init
        assert wait_until(lambda: (prom / "carpswitch.prom").exists()), intake.daemon_log()
        seen = value(samples(prom), "carpswitch_observed_seconds")
        assert wait_until(lambda: value(samples(prom), "carpswitch_observed_seconds") > seen)
        assert ("carpswitch_transitions_total", PROMOTED) not in samples(prom)  # timer rounds only

        intake.carp_event("MASTER")  # the daemon holds it for `settle` seconds
        status = intake.carpswitch("status")
        assert status.stdout.splitlines()[0] == "settling", status.stdout + intake.daemon_log()
        assert "events wait out [intake] settle" in status.stdout
        assert wait_until(lambda: intake.role() == "primary"), intake.daemon_log()
        assert wait_until(
            lambda: (
                value(samples(prom), "carpswitch_hast_role", resource="tank", role="primary") == 1
            )
        )
        found = samples(prom)
        assert (
            value(found, "carpswitch_transitions_total", kind="promote", outcome="succeeded") == 1
        )
        assert wait_until(lambda: intake.carpswitch("status").stdout.startswith("idle\n"))
