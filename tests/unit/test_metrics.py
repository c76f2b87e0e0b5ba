"""carpswitch.prom: valid exposition text (Prometheus's own parser reads it back), counters
from the running totals, roles after transitions, and writes that never fail a transition."""

from __future__ import annotations

import logging
import os
import stat
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from carpswitch.config import parse_config
from carpswitch.engine.metrics import TOTALS_NAME, MetricsWriter, roles_after
from carpswitch.errors import ConfigError
from carpswitch.metrics import MetricsFacts, ResourceFacts, render
from carpswitch.model import (
    HastRole,
    StepOutcome,
    StepRecord,
    StepResult,
    TransitionKind,
    TransitionOutcome,
)
from tests.unit.test_status_word import T0, TOPOLOGY, node, record, release_timed_out


def parsed(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def role_step(role: str, outcome: StepOutcome = StepOutcome.OK) -> StepResult:
    return StepResult(
        step=StepRecord(
            kind="hast_role", description=f"hastctl role {role} tank", resource="tank", timeout=5
        ),
        outcome=outcome,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=0.25),
    )


def facts(**changes: object) -> MetricsFacts:
    base: dict[str, object] = {
        "totals": {("promote", "succeeded"): 2, ("demote", "failed"): 1},
        "last": record(steps=(role_step("primary"), release_timed_out())),
        "failures": 1,
        "held": False,
        "paused": True,
        "resources": [
            ResourceFacts("tank", HastRole.PRIMARY, 4096),
            ResourceFacts("vol", None, None),
        ],
        "observed_at": 1_800_000_000.5,
    }
    return MetricsFacts(**(base | changes))  # type: ignore[arg-type]


def test_the_rendered_file_reads_back_with_every_value():
    found = parsed(render(facts()))
    assert (
        found[
            (
                "carpswitch_transitions_total",
                frozenset({("kind", "promote"), ("outcome", "succeeded")}),
            )
        ]
        == 2
    )
    assert found[("carpswitch_failed_promotions", frozenset())] == 1
    assert found[("carpswitch_paused", frozenset())] == 1
    assert found[("carpswitch_held", frozenset())] == 0
    assert found[("carpswitch_last_transition_duration_seconds", frozenset())] == 31.5
    steps = {
        dict(labels)["step"]: v
        for (name, labels), v in found.items()
        if name == "carpswitch_last_transition_step_duration_seconds"
    }
    assert steps == {"hast_role": 0.25, "wait_release": 30}
    assert (
        found[("carpswitch_hast_role", frozenset({("resource", "tank"), ("role", "primary")}))] == 1
    )
    assert (
        found[("carpswitch_hast_role", frozenset({("resource", "tank"), ("role", "secondary")}))]
        == 0
    )
    assert found[("carpswitch_hast_dirty_bytes", frozenset({("resource", "tank")}))] == 4096
    assert ("carpswitch_hast_role", frozenset({("resource", "vol"), ("role", "init")})) not in found
    assert found[("carpswitch_hast_split_brain", frozenset({("resource", "vol")}))] == 0
    assert found[("carpswitch_observed_seconds", frozenset())] == 1_800_000_000.5


def test_guard_verdicts_appear_only_once_there_are_guards():
    assert "guard" not in render(facts())
    found = parsed(render(facts(guards={"witness": True, "peer": False})))
    assert found[("carpswitch_guard_veto", frozenset({("guard", "witness")}))] == 1
    assert found[("carpswitch_guard_veto", frozenset({("guard", "peer")}))] == 0


def test_label_values_are_escaped():
    odd = record().model_copy(update={"group": 'a"b\\c\nd'})
    found = parsed(render(facts(last=odd)))
    info = next(dict(labels) for name, labels in found if name == "carpswitch_last_transition_info")
    assert info["group"] == 'a"b\\c\nd'


def test_nothing_about_a_last_transition_before_the_first():
    text = render(facts(last=None, totals={}))
    assert "last_transition" not in text
    assert parsed(text)[("carpswitch_held", frozenset())] == 0


def test_roles_after_a_transition_follow_the_role_steps_that_ran():
    promoted = record(outcome=TransitionOutcome.SUCCEEDED, steps=(role_step("primary"),))
    assert roles_after(promoted) == {"tank": HastRole.PRIMARY}
    rolled_back = promoted.model_copy(update={"undo": [role_step("secondary")]})
    assert roles_after(rolled_back) == {"tank": HastRole.SECONDARY}
    undone = record(steps=(role_step("primary", StepOutcome.UNDONE),))
    assert roles_after(undone) == {}
    demoted = record(TransitionKind.DEMOTE, steps=(role_step("secondary", StepOutcome.NOOP),))
    assert roles_after(demoted) == {"tank": HastRole.SECONDARY}


def writer(tmp_path, metrics: bool = True) -> MetricsWriter:
    state_dir = tmp_path / "state"
    data: dict[str, object] = {
        "paths": {"state_dir": str(state_dir), "run_dir": str(tmp_path / "run")}
    }
    if metrics:
        (tmp_path / "prom").mkdir(exist_ok=True)
        data["metrics"] = {"dir": str(tmp_path / "prom")}
    return MetricsWriter(parse_config(data))


def read(tmp_path) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return parsed((tmp_path / "prom" / "carpswitch.prom").read_text())


SUCCEEDED = frozenset({("kind", "promote"), ("outcome", "succeeded")})


def test_counters_come_from_the_running_totals_and_roles_from_the_look(tmp_path):
    metrics = writer(tmp_path)
    metrics.observed(TOPOLOGY, node(role=HastRole.SECONDARY))
    promoted = record(outcome=TransitionOutcome.SUCCEEDED, steps=(role_step("primary"),))
    metrics.transitions([promoted])
    first = read(tmp_path)
    assert first[("carpswitch_transitions_total", SUCCEEDED)] == 1
    assert (
        first[("carpswitch_hast_role", frozenset({("resource", "tank"), ("role", "primary")}))] == 1
    )
    again = writer(tmp_path)  # another process: the totals persist
    again.transitions([promoted])
    assert read(tmp_path)[("carpswitch_transitions_total", SUCCEEDED)] == 2
    metrics.observed(TOPOLOGY, node(role=HastRole.SECONDARY))  # a new look wins over old steps
    metrics.write()
    after = read(tmp_path)
    assert (
        after[("carpswitch_hast_role", frozenset({("resource", "tank"), ("role", "secondary")}))]
        == 1
    )
    prom = tmp_path / "prom"
    assert [p.name for p in prom.iterdir()] == ["carpswitch.prom"]
    assert stat.S_IMODE((prom / "carpswitch.prom").stat().st_mode) == 0o644


def test_unset_dir_writes_nothing(tmp_path):
    metrics = writer(tmp_path, metrics=False)
    metrics.observed(TOPOLOGY, node())
    metrics.transitions([record()])
    metrics.write()
    assert not (tmp_path / "state").exists()  # not even the totals


def test_a_corrupt_totals_file_restarts_the_counters(tmp_path, caplog):
    metrics = writer(tmp_path)
    (tmp_path / "state").mkdir(mode=0o700)
    (tmp_path / "state" / TOTALS_NAME).write_bytes(b"\xff{")
    with caplog.at_level(logging.WARNING):
        metrics.transitions([record(outcome=TransitionOutcome.SUCCEEDED)])
    assert read(tmp_path)[("carpswitch_transitions_total", SUCCEEDED)] == 1
    assert any("counters restart at 0" in r.getMessage() for r in caplog.records)


def test_a_failing_write_never_raises_and_is_logged_once(tmp_path, caplog):
    metrics = writer(tmp_path)
    (tmp_path / "prom").rmdir()
    (tmp_path / "prom").write_text("a file, not a directory")
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            metrics.transitions([record()])
            metrics.write()
    failing = [r for r in caplog.records if "cannot write carpswitch.prom" in r.getMessage()]
    assert len(failing) == 1
    (tmp_path / "prom").unlink()
    (tmp_path / "prom").mkdir()
    metrics.write()  # it works again
    assert (
        read(tmp_path)[
            (
                "carpswitch_transitions_total",
                frozenset({("kind", "promote"), ("outcome", "failed")}),
            )
        ]
        == 3
    )


def test_a_temporary_a_killed_writer_left_is_swept(tmp_path):
    metrics = writer(tmp_path)
    prom = tmp_path / "prom"
    left = prom / ".carpswitch.prom.4194304.tmp"  # above Linux's and FreeBSD's pid_max
    left.write_text("half a file")
    mine = prom / f".carpswitch.prom.{os.getpid()}.tmp.other"  # not a temporary of ours
    mine.write_text("")
    metrics.write()
    assert sorted(p.name for p in prom.iterdir()) == sorted(["carpswitch.prom", mine.name])


def test_the_metrics_dir_is_off_by_default_and_must_be_absolute():
    assert parse_config({}).metrics.dir is None
    with pytest.raises(ConfigError) as error:
        parse_config({"metrics": {"dir": "var/tmp/node_exporter"}})
    assert any(p.startswith("metrics.dir: ") for p in error.value.problems)
    with pytest.raises(ConfigError) as error:
        parse_config({"metrics": {"directory": "/var/tmp/node_exporter"}})
    assert any("metrics.directory" in p for p in error.value.problems)
