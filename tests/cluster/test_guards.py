"""Issue 12's guards in the two-node lab: witness, self-fencing, the peer's view, metrics.

Each test brings up a cluster with the lab's recommended [guards] (layout.LAB_GUARDS:
witness = the client 198.18.0.10, self_fence, peer_view, interval 1 s, witness_grace
3 s) and the LUN served over iSCSI, with a client writing ledgered blocks through the
CARP address and the referee sampling both hosts every 100 ms. Every test is bounded and
its cluster is taken down at teardown, also when it fails (conftest.make_cluster).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from carpswitch.lab.cluster import ucarp
from carpswitch.lab.cluster.cluster import HOSTS, Cluster
from carpswitch.lab.cluster.command import ClusterError
from carpswitch.lab.cluster.demo import RESOURCE
from carpswitch.lab.cluster.net import Direction
from carpswitch.lab.cluster.watch import Referee
from carpswitch.lab.node import LabError, LabResource

from .test_chaos import REJOIN_BOUND, Chaos, describe, watched

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]

#: ucarp's master-down time (~3.5 s), the witness grace (3 s), a ping (1 s), the
#: daemon's interval (1 s) and a promotion: everything a guard waits on, with room.
GUARD_BOUND = 45.0
#: How long a vetoed host is watched for a promotion that must not happen.
VETO_WATCH = 8.0


@pytest.fixture
def guarded(make_cluster: Callable[..., Cluster]) -> Iterator[Chaos]:
    """A guarded cluster (hasta serving the LUN), its writer and its referee."""
    cluster = make_cluster(
        resources=[LabResource(RESOURCE, "raw")], services=["ctld"], guards=True, metrics=True
    )
    with watched(cluster) as chaos:
        yield chaos


def said(cluster: Cluster, name: str, text: str) -> bool:
    """`text` is in the host's journal or in its `status --json`."""
    state_dir = cluster.node(name).paths.carpswitch_state_dir
    for path in sorted(state_dir.glob("journal.jsonl*")):
        if text in path.read_text(errors="replace"):
            return True
    return text in status_json(cluster, name)


def status_json(cluster: Cluster, name: str) -> str:
    """`carpswitch status --json` on the host (its text; empty if it failed)."""
    done = cluster.host(name).controller("status", "--json", timeout=30)
    return done.stdout if done.returncode in (0, 1) else ""


def wait(cluster: Cluster, predicate: Callable[[], object], bound: float, what: str) -> float:
    """Seconds until `predicate` held; fails the test with the cluster's state if it did not."""
    started = time.monotonic()
    try:
        cluster.wait(predicate, started + bound, what)
    except ClusterError as exc:
        raise AssertionError(f"{exc}\n{describe(cluster)}") from None
    return time.monotonic() - started


def role(cluster: Cluster, name: str) -> str | None:
    """The host's HAST role for the LUN's resource (None while hastd does not answer)."""
    try:
        return cluster.node(name).role(RESOURCE)
    except (LabError, OSError, ValueError):
        return None


def never_primary(referee: Referee, name: str, since: float) -> None:
    """No sample since `since` shows a primary worker on `name` (reachable or not)."""
    seen = [s.at - since for s in referee.samples if s.at >= since and s.hosts[name].primaries]
    assert not seen, f"{name} had a primary worker at +{seen[0]:.1f} s"


def ledger_intact(chaos: Chaos) -> int:
    """One host serves, no sample had two, every acknowledged write reads back."""
    cluster, writer, referee = chaos.cluster, chaos.writer, chaos.referee
    wait(cluster, lambda: sum(cluster.serving(n) for n in HOSTS) == 1, REJOIN_BOUND, "one serving")
    answered = writer.wait_answered_after(time.monotonic(), REJOIN_BOUND)  # a write, now
    assert answered is not None, f"the LUN takes no write\n{describe(cluster)}"
    writer.stop()
    referee.stop()
    assert not writer.errors, writer.errors
    doubled = referee.two_primaries()
    assert doubled == [], f"two hosts served the LUN at once: {doubled[:5]}\n{describe(cluster)}"
    check = writer.initiator.check()
    assert check.checked > 0, "no write was acknowledged at all"
    assert check.ok, "\n".join([*check.lost[:10], describe(cluster)])
    return check.checked


def test_a_cut_off_backup_becomes_master_but_does_not_promote(guarded: Chaos) -> None:
    cluster, referee = guarded.cluster, guarded.referee
    assert guarded.master() == "hasta"
    cut_at = time.monotonic()
    referee.cut_off.add("hastb")
    cluster.cut("hastb", "both")
    took = wait(cluster, lambda: cluster.carp_state("hastb") == "MASTER", GUARD_BOUND, "MASTER")
    print(f"\nhastb MASTER {took:.1f} s after its cable was cut")
    wait(
        cluster,
        lambda: said(cluster, "hastb", "no witness reachable"),
        GUARD_BOUND,
        "hastb saying it reaches no witness",
    )
    wait(cluster, lambda: vetoes(metrics(cluster, "hastb")).get("witness") == 1, 10, "a gauge")
    acknowledged = guarded.writer.acknowledged
    time.sleep(VETO_WATCH)
    never_primary(referee, "hastb", cut_at)
    assert cluster.serving("hasta"), describe(cluster)
    assert guarded.writer.acknowledged > acknowledged, "the master stopped serving"

    cluster.heal("hastb")
    referee.cut_off.discard("hastb")
    healed = time.monotonic()
    guarded.rejoined("hastb")  # secondary, hasta serving, the pair in sync again
    print(f"hastb secondary and in sync {time.monotonic() - healed:.1f} s after the heal")
    never_primary(referee, "hastb", cut_at)
    ledger_intact(guarded)


@pytest.mark.parametrize("direction", ["both", "out"])
def test_a_cut_off_master_fences_itself_and_the_peer_takes_over(
    guarded: Chaos, direction: Direction
) -> None:
    cluster, referee, writer = guarded.cluster, guarded.referee, guarded.writer
    assert guarded.master() == "hasta"
    referee.cut_off.add("hasta")
    cluster.cut("hasta", direction)
    cut_at = time.monotonic()  # a write in flight during the cut may still be acknowledged
    fenced = wait(cluster, lambda: role(cluster, "hasta") != "primary", GUARD_BOUND, "a fence")
    answered = writer.wait_answered_after(cut_at, GUARD_BOUND)
    assert answered is not None, f"the LUN stayed silent\n{describe(cluster)}"
    assert cluster.serving("hastb"), describe(cluster)
    print(
        f"\ncut {direction}: hasta fenced itself after {fenced:.1f} s, "
        f"the LUN answered from hastb after {answered - cut_at:.1f} s"
    )
    assert said(cluster, "hasta", "self-fencing"), describe(cluster)

    cluster.heal("hasta")
    referee.cut_off.discard("hasta")
    healed = time.monotonic()
    guarded.rejoined("hasta")  # secondary, hastb serving, the pair in sync again
    print(f"hasta secondary and in sync {time.monotonic() - healed:.1f} s after the heal")
    print(f"{ledger_intact(guarded)} acknowledged writes read back")


def test_a_peer_still_primary_vetoes_the_promotion(guarded: Chaos) -> None:
    cluster, referee = guarded.cluster, guarded.referee
    assert guarded.master() == "hasta"
    assert guarded.writer.wait_answered_after(0.0, GUARD_BOUND) is not None, "no write yet"
    paused = cluster.host("hasta").controller("pause", timeout=30)
    assert paused.returncode == 0, paused.stdout + paused.stderr
    given_at = time.monotonic()
    _give_carp_away(cluster, "hasta")
    wait(cluster, lambda: cluster.masters() == ["hastb"], GUARD_BOUND, "hastb the only MASTER")
    wait(
        cluster,
        lambda: said(cluster, "hastb", "peer still primary"),
        GUARD_BOUND,
        "hastb saying its peer is still primary",
    )
    time.sleep(VETO_WATCH / 2)
    never_primary(referee, "hastb", given_at)
    assert role(cluster, "hasta") == "primary"
    assert "peer still primary" in status_json(cluster, "hastb"), describe(cluster)
    assert vetoes(metrics(cluster, "hastb")).get("peer") == 1

    resumed_at = time.monotonic()
    resumed = cluster.host("hasta").controller("resume", timeout=60)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    took = wait(
        cluster,
        lambda: cluster.serving("hastb") and cluster.secondary("hasta"),
        GUARD_BOUND,
        "hastb serving, hasta secondary",
    )
    print(f"\nafter resume: hastb served {took:.1f} s later")
    assert time.monotonic() - resumed_at < GUARD_BOUND
    ledger_intact(guarded)


def _give_carp_away(cluster: Cluster, name: str) -> None:
    """SIGUSR2 to the host's ucarp (what test_chaos's flap does): it goes BACKUP at once,
    the peer takes the address ~2.4 s later; the host's own controller is not asked."""
    speaker = ucarp.running(cluster.node(name).paths)
    assert speaker is not None, f"{name} runs no ucarp"
    os.kill(speaker.pid, signal.SIGUSR2)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def metrics(cluster: Cluster, name: str) -> Samples:
    """Every sample of the host's carpswitch.prom, through Prometheus's own parser."""
    text = (cluster.metrics_dir(name) / "carpswitch.prom").read_text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(found: Samples, name: str, **labels: str) -> float:
    """The sum over samples of `name` whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in found.items() if n == name and wanted <= got)


def vetoes(found: Samples) -> dict[str, float]:
    """carpswitch_guard_veto per guard: 1 while that guard vetoes a promotion."""
    return {
        dict(labels)["guard"]: v for (n, labels), v in found.items() if n == "carpswitch_guard_veto"
    }


def names(found: Samples) -> set[str]:
    return {name for name, _ in found}


def test_the_metrics_file_parses_and_follows_each_transition(guarded: Chaos) -> None:
    cluster = guarded.cluster

    def settled() -> bool:  # `up` returns once hasta serves: its promotion may still run
        a, b = metrics(cluster, "hasta"), metrics(cluster, "hastb")
        return (
            total(a, "carpswitch_hast_role", resource=RESOURCE, role="primary") == 1
            and total(b, "carpswitch_hast_role", resource=RESOURCE, role="secondary") == 1
        )

    wait(cluster, settled, GUARD_BOUND, "the metrics of the first promotion")
    before = {name: metrics(cluster, name) for name in HOSTS}
    # the guard gauges (a BACKUP secondary does not look at its guards: the primary's)
    assert vetoes(before["hasta"]) == {"witness": 0, "peer": 0}, sorted(before["hasta"])
    promoted_before = total(before["hastb"], "carpswitch_transitions_total", kind="promote")

    _give_carp_away(cluster, "hasta")  # hasta's controller demotes, hastb's promotes
    wait(
        cluster,
        lambda: cluster.serving("hastb") and cluster.secondary("hasta"),
        GUARD_BOUND,
        "the failover to hastb",
    )

    def followed() -> bool:
        a, b = metrics(cluster, "hasta"), metrics(cluster, "hastb")
        return (
            total(b, "carpswitch_transitions_total", kind="promote") > promoted_before
            and total(b, "carpswitch_hast_role", resource=RESOURCE, role="primary") == 1
            and total(a, "carpswitch_hast_role", resource=RESOURCE, role="secondary") == 1
        )

    wait(cluster, followed, GUARD_BOUND, "the metrics following the failover")
    after = {name: metrics(cluster, name) for name in HOSTS}
    assert total(after["hasta"], "carpswitch_transitions_total", kind="demote") > total(
        before["hasta"], "carpswitch_transitions_total", kind="demote"
    )
    assert vetoes(after["hastb"]) == {"witness": 0, "peer": 0}, sorted(after["hastb"])
    for name in HOSTS:
        assert after[name] != before[name]
        assert [p.name for p in Path(cluster.metrics_dir(name)).iterdir()] == ["carpswitch.prom"]
    print(
        "\nmetrics: " + json.dumps({n: sorted(names(after[n]) - names(before[n])) for n in HOSTS})
    )
