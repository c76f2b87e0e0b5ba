"""Writing carpswitch.prom after every transition and every reconcile (the daemon's timer).

The counters come from `state_dir/metrics.json`, a few running totals bumped once per
finished transition (under the actor lock), never from reading the journal again. The
split-brain gauges come from the marks (carpswitch.engine.splitbrain). Roles
and dirty bytes come from the controller's last look at the node, with the roles the
transitions since then set (a promotion's `role primary`, a demotion's or rollback's
`role secondary`): writing the file runs no command.

The file is replaced atomically (a temporary file in the same directory, then rename;
node_exporter reads only `*.prom`; one a killed writer left is removed) and made 0644,
since node_exporter runs as `nobody`.
Nothing here is durable: the totals are a cache whose loss restarts the counters at zero,
which Prometheus takes as a counter reset. A write that fails never fails a transition:
it is logged once per problem and tried again next time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from carpswitch.config import Config
from carpswitch.engine.failures import FailureBook
from carpswitch.engine.journal import Journal
from carpswitch.engine.pause import PauseFlag
from carpswitch.engine.splitbrain import SplitBrainMarks
from carpswitch.guards.lastlook import last_look
from carpswitch.metrics import MetricsFacts, ResourceFacts, render
from carpswitch.model import (
    HastRole,
    NodeState,
    StepOutcome,
    TransitionKind,
    TransitionOutcome,
    TransitionRecord,
)
from carpswitch.statefiles import make_private_dir, read_state_file, replace_file
from carpswitch.topology import Topology

log = logging.getLogger(__name__)

PROM_NAME = "carpswitch.prom"
TOTALS_NAME = "metrics.json"
#: node_exporter (user nobody, the port's rc.d default) must read the file.
PROM_MODE = 0o644
PASSED = (StepOutcome.OK, StepOutcome.NOOP)


class Totals(BaseModel):
    """The content of metrics.json: transitions by kind and outcome."""

    transitions: dict[TransitionKind, dict[TransitionOutcome, int]] = Field(default_factory=dict)

    def add(self, record: TransitionRecord) -> None:
        by_outcome = self.transitions.setdefault(record.kind, {})
        by_outcome[record.outcome] = by_outcome.get(record.outcome, 0) + 1

    def flat(self) -> dict[tuple[str, str], int]:
        return {(k, o): n for k, outcomes in self.transitions.items() for o, n in outcomes.items()}


def roles_after(record: TransitionRecord) -> dict[str, HastRole]:
    """The HAST role each resource has after `record`, by its `hast_role` steps that ran.

    A promotion's own steps set primary; a demotion's and every undo step (a rollback is
    a demotion) set secondary; later results win.
    """
    roles: dict[str, HastRole] = {}
    primary = HastRole.PRIMARY if record.kind is TransitionKind.PROMOTE else HastRole.SECONDARY
    for results, role in ((record.steps, primary), (record.undo, HastRole.SECONDARY)):
        for result in results:
            step = result.step
            if step.kind == "hast_role" and step.resource and result.outcome in PASSED:
                roles[step.resource] = role
    return roles


def sweep_temporaries(directory: str) -> None:
    """Remove `.carpswitch.prom.PID.tmp` files whose writer is gone (killed mid-write):
    node_exporter skips them, but nothing else would ever remove them."""
    import psutil  # here, not at the top: most commands never need it (~15 ms to import)

    prefix, suffix = f".{PROM_NAME}.", ".tmp"
    for name in os.listdir(directory):
        pid = name.removeprefix(prefix).removesuffix(suffix)
        ours = name.startswith(prefix) and name.endswith(suffix) and pid.isdigit()
        if ours and not psutil.pid_exists(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))


class MetricsWriter:
    """The controller's view for carpswitch.prom; does nothing when `[metrics] dir` is unset."""

    def __init__(self, config: Config) -> None:
        self.directory = config.metrics.dir
        self.state_dir = Path(config.paths.state_dir)
        self.run_dir = config.paths.run_dir
        self._state: NodeState | None = None
        self._managed: list[str] = []
        self._roles: dict[str, HastRole] = {}  # set by transitions since the last look
        self._lock = threading.Lock()
        self._reported: set[str] = set()
        self._swept = False  # temporaries of writers that died removed (once per process)

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def observed(self, topology: Topology, state: NodeState) -> None:
        """A fresh look at the node: roles and dirty bytes from here on."""
        with self._lock:
            self._state, self._roles = state, {}
            self._managed = list(topology.resources)

    def transitions(self, records: Iterable[TransitionRecord]) -> None:
        """Finished transitions (run, refused and journaled, or closed as interrupted):
        count them, take their roles, write the file."""
        records = list(records)
        if not self.enabled or not records:
            return
        with self._lock:
            self._guarded("metrics.json", lambda: self._count(records))
            for record in records:
                self._roles.update(roles_after(record))
        self.write()

    def write(self) -> None:
        """Write carpswitch.prom from what is known now; never raises."""
        if self.directory is None:
            return
        directory = self.directory
        with self._lock:
            self._guarded(PROM_NAME, lambda: self._write(directory))

    def _count(self, records: list[TransitionRecord]) -> None:
        totals = self._totals()
        for record in records:
            totals.add(record)
        make_private_dir(str(self.state_dir))
        replace_file(
            str(self.state_dir / TOTALS_NAME), totals.model_dump_json().encode(), durable=False
        )

    def _totals(self) -> Totals:
        try:
            return Totals.model_validate_json(read_state_file(str(self.state_dir / TOTALS_NAME)))
        except FileNotFoundError:
            return Totals()
        except (OSError, ValueError) as exc:
            self._once(
                f"{TOTALS_NAME} unreadable ({exc.__class__.__name__}): counters restart at 0"
            )
            return Totals()

    def _write(self, directory: str) -> None:
        state_dir = str(self.state_dir)
        book = FailureBook(state_dir).peek()
        facts = MetricsFacts(
            totals=self._totals().flat(),
            last=Journal(state_dir).last(),
            failures=len(book.failures),
            held=book.held,
            paused=PauseFlag(state_dir).is_set(),
            resources=self._resources(),
            observed_at=self._state.observed_at.timestamp() if self._state else None,
            guards=guard_vetoes(last_look(self.run_dir)),
        )
        path = os.path.join(directory, PROM_NAME)
        replace_file(path, render(facts).encode(), durable=False, mode=PROM_MODE)
        self._reported.discard(PROM_NAME)  # it works again: a new failure is logged
        if not self._swept:
            self._swept = True
            sweep_temporaries(directory)

    def _resources(self) -> list[ResourceFacts]:
        seen = {r.name: r for r in self._state.resources} if self._state else {}
        marks = SplitBrainMarks(str(self.state_dir)).read()  # unreadable: every resource
        facts = []
        for name in self._managed:
            observed = seen.get(name)
            role = self._roles.get(name) or (observed.role if observed else None)
            dirty = observed.dirty if observed else None
            split_brain = marks.covers(name)
            facts.append(ResourceFacts(name=name, role=role, dirty=dirty, split_brain=split_brain))
        return facts

    def _guarded(self, what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:  # metrics never fail a transition
            self._once(f"cannot write {what}: {exc}", key=what)

    def _once(self, problem: str, key: str | None = None) -> None:
        if (key or problem) not in self._reported:
            self._reported.add(key or problem)
            log.warning("metrics: %s", problem)


def guard_vetoes(look: Mapping[str, Any] | None) -> dict[str, bool]:
    """Guard -> whether its last look vetoes a promotion (`witness`: none answered,
    `peer`: the peer said it is primary for a resource); only the configured guards."""
    if look is None:
        return {}
    found = {}
    witness = look.get("witness")
    if isinstance(witness, dict):
        found["witness"] = not witness.get("reachable")
    peer = look.get("peer")
    if isinstance(peer, dict):
        roles = peer.get("roles")
        found["peer"] = isinstance(roles, dict) and "primary" in roles.values()
    return found
