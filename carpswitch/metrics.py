"""carpswitch.prom: what carpswitch knows, in the Prometheus text exposition format.

For FreeBSD's node_exporter textfile collector (`--collector.textfile.directory`, the
port's rc.d default /var/tmp/node_exporter). Pure: the facts come in (carpswitch.engine.
metrics gathers them), the text goes out; the standard library only, so that nothing but
carpswitch's own models is needed to render it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from carpswitch.model import HastRole, StepResult, TransitionRecord

PREFIX = "carpswitch"
#: The roles `carpswitch_hast_role` has a series for (one of them 1, the others 0).
ROLES = (HastRole.INIT, HastRole.PRIMARY, HastRole.SECONDARY)


@dataclass(frozen=True)
class ResourceFacts:
    """One managed HAST resource as last seen (role adjusted by transitions since)."""

    name: str
    role: HastRole | None  # None: unreadable
    dirty: int | None  # bytes to synchronise; None when hastctl did not say
    split_brain: bool = False  # marked by `carpswitch hast-event split-brain`


@dataclass(frozen=True)
class MetricsFacts:
    """Everything carpswitch.prom says, gathered without running a command."""

    totals: Mapping[tuple[str, str], int]  # (kind, outcome) -> transitions journaled
    last: TransitionRecord | None
    failures: int  # failed promotions within [failover] failure_window
    held: bool
    paused: bool
    resources: Sequence[ResourceFacts] = ()
    observed_at: float | None = None  # when the resources were observed (Unix time)
    #: Guard name -> whether it vetoes a promotion now. Empty until the guards of issue
    #: 12 exist: then no series is written at all (a constant would look like a verdict).
    guards: Mapping[str, bool] = field(default_factory=dict)


def render(facts: MetricsFacts) -> str:
    """The whole file, HELP and TYPE before each family's samples."""
    out: list[str] = []
    family = _Family(out)
    family(
        "transitions_total",
        "counter",
        "Transitions journaled by this node since its metrics began, by kind and outcome",
        [({"kind": k, "outcome": o}, n) for (k, o), n in sorted(facts.totals.items())],
    )
    family(
        "failed_promotions",
        "gauge",
        "Failed promotions within [failover] failure_window",
        [({}, facts.failures)],
    )
    family(
        "held",
        "gauge",
        "1 while max_failures holds this node BACKUP until `carpswitch clear`",
        [({}, int(facts.held))],
    )
    family(
        "paused",
        "gauge",
        "1 while `carpswitch pause` keeps transitions off",
        [({}, int(facts.paused))],
    )
    if facts.last is not None:
        _last(family, facts.last)
    _resources(family, facts)
    if facts.guards:
        family(
            "guard_veto",
            "gauge",
            "1 while the named guard vetoes a promotion",
            [({"guard": g}, int(v)) for g, v in sorted(facts.guards.items())],
        )
    return "\n".join(out) + "\n"


def _last(family: _Family, last: TransitionRecord) -> None:
    # no id label: a new series per transition would grow without bound in Prometheus
    info = {"kind": last.kind, "group": last.group, "outcome": last.outcome}
    family("last_transition_info", "gauge", "The last finished transition (always 1)", [(info, 1)])
    family(
        "last_transition_start_seconds",
        "gauge",
        "When the last transition started (Unix)",
        [({}, last.started_at.timestamp())],
    )
    if last.ended_at is not None:
        seconds = (last.ended_at - last.started_at).total_seconds()
        family(
            "last_transition_duration_seconds",
            "gauge",
            "How long the last transition took",
            [({}, seconds)],
        )
    family(
        "last_transition_step_duration_seconds",
        "gauge",
        "Each step of the last transition (undo: a rollback step)",
        [*_steps(last.steps, "no"), *_steps(last.undo, "yes")],
    )


def _steps(results: Iterable[StepResult], undo: str) -> list[tuple[dict[str, str], float]]:
    return [
        (
            {
                "index": str(index),
                "step": r.step.kind,
                "resource": r.step.resource or "",
                "outcome": r.outcome,
                "undo": undo,
            },
            r.duration,
        )
        for index, r in enumerate(results)
    ]


def _resources(family: _Family, facts: MetricsFacts) -> None:
    if facts.observed_at is not None:
        family(
            "observed_seconds",
            "gauge",
            "When the HAST resources below were observed (Unix)",
            [({}, facts.observed_at)],
        )
    known = [r for r in facts.resources if r.role is not None]
    family(
        "hast_role",
        "gauge",
        "1 for the resource's HAST role (after transitions since it was observed)",
        [
            ({"resource": r.name, "role": role}, int(r.role is role))
            for r in known
            for role in ROLES
        ],
    )
    family(
        "hast_dirty_bytes",
        "gauge",
        "Bytes HAST still has to synchronise (hastctl list `dirty`, as observed)",
        [({"resource": r.name}, r.dirty) for r in facts.resources if r.dirty is not None],
    )
    family(
        "hast_split_brain",
        "gauge",
        "1 while the resource is marked split-brain (hastd's event, through `carpswitch "
        "hast-event`) until `carpswitch split-brain clear`",
        [({"resource": r.name}, int(r.split_brain)) for r in facts.resources],
    )


class _Family:
    """Appends one metric family (HELP, TYPE, samples) to the lines it was given."""

    def __init__(self, out: list[str]) -> None:
        self.out = out

    def __call__(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Sequence[tuple[Mapping[str, str], float]],
    ) -> None:
        full = f"{PREFIX}_{name}"
        help_escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
        self.out += [f"# HELP {full} {help_escaped}", f"# TYPE {full} {kind}"]
        for labels, value in samples:
            self.out.append(f"{full}{_labels(labels)} {_number(value)}")


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
