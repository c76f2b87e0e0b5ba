"""The guards in a promotion's plan, the peer guard's veto and term, the witness's clock,
and the daemon's watch that reconciles only when the guards change a decision."""

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from carpswitch.actions.guards import PeerGuard, PeerGuardAgain, WitnessGuard
from carpswitch.config import parse_config
from carpswitch.engine.plan import give_away_steps, plan_demote, plan_promote
from carpswitch.engine.step import StepContext, StepFailed
from carpswitch.guards.look import GuardLook, peer_address, view_address
from carpswitch.guards.server import ViewServer
from carpswitch.guards.terms import Terms
from carpswitch.guards.view import PeerView
from carpswitch.intake.guardwatch import GuardWatch
from carpswitch.model import CarpState, CarpVhid, HastResource, HastRole, NodeState
from carpswitch.system import commands
from carpswitch.system.observe import Observer
from carpswitch.topology import Group, Resource, Topology
from tests.fakes import FakeRunner

WITNESS = "198.18.0.10"
FIXTURES = Path(__file__).parents[2] / "fixtures" / "hastctl_list"
LUN = Resource(
    name="lun",
    kind="raw",
    provider_name="lun",
    device="/dev/hast/lun",
    local_path="/dev/ada1",
    remote_address="127.0.0.1",
)
GROUP = Group(name="storage", vhid=1, interface="vtnet0", resources=("lun",))
TOPOLOGY = Topology(node_names=("hasta",), resources={"lun": LUN}, groups=(GROUP,))


def config(tmp_path, port=1, **guards):
    return parse_config(
        {
            "node": {"name": "hasta", "peer": "127.0.0.1"},
            "paths": {"state_dir": str(tmp_path / "state"), "run_dir": str(tmp_path / "run")},
            "guards": {"view_port": port, "view_timeout": 1.0, **guards},
        }
    )


def context(cfg, runner=None):
    runner = runner or FakeRunner()
    return StepContext(runner=runner, config=cfg, topology=TOPOLOGY, observer=Observer(runner, cfg))


@pytest.fixture
def peer_view():
    """A real view server on 127.0.0.1 answering what the test puts in `answer`."""
    answer = {"view": PeerView("hastb", {"lun": "secondary"}, {"storage": 4}, {"storage": 100})}
    server = ViewServer("127.0.0.1", 0, lambda: answer["view"], max_age=0.0)
    assert server.start()
    yield server, answer
    server.close()


def test_a_promotion_checks_the_configured_guards_first(tmp_path):
    cfg = config(tmp_path, witnesses=[WITNESS], peer_view=True)
    plan = plan_promote(TOPOLOGY, GROUP, cfg, "vtnet0")
    assert [s.kind for s in plan.before[:2]] == ["guard_witness", "guard_peer"]
    assert plan.before[0].describe() == f"a witness answers (ping {WITNESS})"
    chain = [s.kind for s in plan.chains["lun"]]
    assert chain[chain.index("hast_role") - 1] == "guard_peer_again"
    forced = plan_promote(TOPOLOGY, GROUP, cfg, "vtnet0", guards=False)
    assert [
        (s.kind, getattr(s, "veto", None)) for s in forced.before if s.kind.startswith("guard_")
    ] == [
        ("guard_peer", False)  # no veto, but the forced primary takes a term (review F5)
    ]
    assert "guard_peer_again" not in [s.kind for s in forced.chains["lun"]]
    plain = plan_promote(TOPOLOGY, GROUP, config(tmp_path), "vtnet0")
    assert not [s for s in plain.before if s.kind.startswith("guard_")]


def test_a_guards_demotion_gives_the_address_away_after_the_resources(tmp_path):
    cfg = config(tmp_path)
    plan = plan_demote(TOPOLOGY, GROUP, give_away_steps(cfg, GROUP, "vtnet0", 0))
    assert [s.kind for s in plan.after] == ["carp_demote", "carp_backup"]
    again = give_away_steps(cfg, GROUP, "vtnet0", demotion_added=240)
    assert [s.kind for s in again] == ["carp_backup"]  # added once per boot
    assert plan_demote(TOPOLOGY, GROUP).after == []


def test_the_witness_guard_fails_when_no_witness_answers(tmp_path):
    cfg = config(tmp_path, witnesses=[WITNESS])
    runner = FakeRunner()
    runner.reply(commands.ping_once(WITNESS, 1), exit_status=2)
    with pytest.raises(StepFailed, match=re.escape("no witness reachable: 198.18.0.10: ")):
        WitnessGuard(GROUP, [WITNESS]).do(context(cfg, runner))
    runner.reply(commands.ping_once(WITNESS, 1), stdout="1 packets received\n")
    assert WitnessGuard(GROUP, [WITNESS]).do(context(cfg, runner)) == f"{WITNESS} answers"


PRIMARY_LIST = (FIXTURES / "primary_serving_idle_255.txt").read_text().replace("data", "lun")


def test_a_primary_being_repaired_is_not_rolled_back_for_a_lost_ping(tmp_path):
    """ctld died on a serving primary: the promotion that restarts it must not take the
    primary down because one ping got lost; self-fencing decides that (review F3)."""
    cfg = config(tmp_path, witnesses=[WITNESS])
    runner = FakeRunner()
    runner.reply(commands.ping_once(WITNESS, 1), exit_status=2)
    runner.reply(commands.hastctl_list(cfg.paths.hast_conf), stdout=PRIMARY_LIST)
    detail = WitnessGuard(GROUP, [WITNESS]).do(context(cfg, runner))
    assert detail == "already primary here: self-fencing decides, not this guard"
    assert commands.ping_once(WITNESS, 1) not in runner.calls


def test_a_winner_finishing_its_promotion_passes_the_peer_guard_without_a_new_term(
    tmp_path, peer_view
):
    """Both primary, this side's term newer: the peer guard lets it finish (review F2);
    the loser's side fails it."""
    server, answer = peer_view
    cfg = config(tmp_path, server.port, peer_view=True)
    runner = FakeRunner()
    runner.reply(commands.hastctl_list(cfg.paths.hast_conf), stdout=PRIMARY_LIST)
    terms = Terms(cfg.paths.state_dir)
    terms.bump("storage")  # ours: the wall clock in ms, newer than the peer's 4
    ours = terms.read().of("storage")
    answer["view"] = PeerView("hastb", {"lun": "primary"}, {"storage": 4})
    detail = PeerGuard(GROUP).do(context(cfg, runner))
    assert detail.endswith(f"already primary here: term {ours}")
    assert terms.read().of("storage") == ours
    answer["view"] = PeerView("hastb", {"lun": "primary"}, {"storage": ours + 1})
    with pytest.raises(StepFailed, match="two primaries and this side steps down"):
        PeerGuard(GROUP).do(context(cfg, runner))


def test_the_last_look_before_role_primary_stops_the_older_of_two_promotions(tmp_path, peer_view):
    """Both MASTER, both saw the other secondary and took terms: the newer goes on, the
    older stops before `role primary` (review F4)."""
    server, answer = peer_view
    cfg = config(tmp_path, server.port, peer_view=True)
    terms = Terms(cfg.paths.state_dir)
    terms.bump("storage")
    ours = terms.read().of("storage")
    steps = [PeerGuardAgain("lun", GROUP), PeerGuardAgain("other", GROUP)]
    answer["view"] = PeerView("hastb", {"lun": "secondary"}, {"storage": ours - 1})
    done = steps[0].do_batch(context(cfg), steps)
    assert done == [f"hastb (127.0.0.1): lun secondary; our term {ours} is the newest"] * 2
    answer["view"] = PeerView("hastb", {"lun": "secondary"}, {"storage": ours + 1})
    [failed, _] = steps[0].do_batch(context(cfg), steps)
    assert isinstance(failed, StepFailed) and "took a newer term" in str(failed)
    answer["view"] = PeerView("hastb", {"lun": "primary"}, {"storage": 0})
    [failed, _] = steps[0].do_batch(context(cfg), steps)
    assert isinstance(failed, StepFailed) and "peer became primary" in str(failed)


def test_the_peer_guard_vetoes_when_the_peer_is_primary(tmp_path, peer_view):
    server, answer = peer_view
    answer["view"] = PeerView("hastb", {"lun": "primary"}, {"storage": 4})
    cfg = config(tmp_path, server.port, peer_view=True)
    with pytest.raises(StepFailed, match=r"peer still primary: hastb \(127.0.0.1\): lun primary"):
        PeerGuard(GROUP).do(context(cfg))
    assert Terms(cfg.paths.state_dir).read().own == {}  # no new term for a vetoed promotion


def test_the_peer_guard_takes_the_term_past_the_peers(tmp_path, peer_view):
    server, _ = peer_view
    cfg = config(tmp_path, server.port, peer_view=True)
    detail = PeerGuard(GROUP).do(context(cfg))
    found = re.fullmatch(r"hastb \(127\.0\.0\.1\): lun secondary; term (\d+)", detail)
    assert found is not None, detail
    assert int(found[1]) > 4  # past the peer's 4 (and at least the clock, terms.py)
    assert Terms(cfg.paths.state_dir).read().own == {"storage": int(found[1])}


def test_an_unreachable_peer_does_not_veto_but_the_term_still_rises(tmp_path):
    cfg = config(tmp_path, port=9, peer_view=True)  # discard port: nothing listens
    Terms(cfg.paths.state_dir).saw("storage", 7)
    detail = PeerGuard(GROUP).do(context(cfg))
    found = re.fullmatch(r"127\.0\.0\.1: .*: no veto; term (\d+)", detail)
    assert found is not None, detail
    assert int(found[1]) > 7


def lost_for(look: GuardLook) -> float:
    witness = look.witness()
    assert witness is not None
    return witness.lost_for


def test_the_witnesses_lost_time_counts_from_the_first_silent_look(tmp_path):
    cfg = config(tmp_path, witnesses=[WITNESS])
    runner = FakeRunner()
    runner.reply(commands.ping_once(WITNESS, 1), exit_status=2)
    now = [100.0]
    look = GuardLook(cfg, runner, clock=lambda: now[0])
    assert lost_for(look) == 0.0
    now[0] = 107.5
    assert lost_for(look) == 7.5
    (tmp_path / "run" / "witness-lost").write_text("garbage")
    assert lost_for(look) == 0.0  # a note that cannot be read starts again
    now[0] = 110.0
    assert lost_for(look) == 2.5
    runner.reply(commands.ping_once(WITNESS, 1), stdout="1 packets received\n")
    assert lost_for(look) == 0.0
    assert not (tmp_path / "run" / "witness-lost").exists()


def test_a_look_leaves_its_verdict_for_status(tmp_path, peer_view):
    from carpswitch.guards.lastlook import last_look

    server, _ = peer_view
    cfg = config(tmp_path, server.port, witnesses=[WITNESS], peer_view=True)
    runner = FakeRunner()
    runner.reply(commands.ping_once(WITNESS, 1), exit_status=2)
    facts = GuardLook(cfg, runner).look()
    assert facts is not None and facts.witness_lost()
    assert facts.peer is not None and facts.peer.roles == {"lun": "secondary"}
    left: dict[str, Any] | None = last_look(cfg.paths.run_dir)
    assert left is not None and facts.witness is not None
    assert left["peer"]["name"] == "hastb"
    assert left["witness"]["lost"] == {WITNESS: facts.witness.lost[WITNESS]}
    assert Terms(cfg.paths.state_dir).read().seen == {"storage": 4}


def test_no_guard_configured_means_no_look(tmp_path):
    assert GuardLook(config(tmp_path), FakeRunner()).look() is None


def test_addresses_come_from_node_or_cluster(tmp_path):
    cfg = config(tmp_path)
    assert peer_address(cfg) == "127.0.0.1"
    assert view_address(cfg) is None


def observed(carp=CarpState.MASTER, role=HastRole.PRIMARY):
    return NodeState(
        node="hasta",
        observed_at=datetime.now(UTC),
        carp=[CarpVhid(interface="vtnet0", vhid=1, state=carp, advbase=1, advskew=0)],
        resources=[HastResource(name="lun", role=role, device_present=role is HastRole.PRIMARY)],
    )


def test_the_watch_reconciles_only_when_the_guards_change_a_decision(tmp_path):
    cfg = config(tmp_path, witnesses=[WITNESS], self_fence=True, witness_grace=5.0)
    runner = FakeRunner()
    runner.reply(commands.ping_once(WITNESS, 1), stdout="1 packets received\n")
    now = [0.0]
    seen = [(TOPOLOGY, observed())]
    watch = GuardWatch(cfg, runner, lambda: seen[0], clock=lambda: now[0])
    assert watch.tick() is None  # the witness answers: nothing changes
    runner.reply(commands.ping_once(WITNESS, 1), exit_status=2)
    assert watch.tick() is None  # lost, but not for the grace time yet
    now[0] = 6.0
    why = watch.tick()
    assert why is not None and why.startswith("guards: group storage: self-fencing")
    assert watch.tick() is None  # the same effect again: already asked for
    runner.reply(commands.ping_once(WITNESS, 1), stdout="1 packets received\n")
    assert watch.tick() == "guards: nothing holds back any more"
    assert watch.due == now[0] + cfg.guards.interval


def test_a_backup_secondary_node_does_not_look(tmp_path):
    cfg = config(tmp_path, witnesses=[WITNESS])
    runner = FakeRunner()  # a ping would fail the test: no reply is set
    watch = GuardWatch(
        cfg, runner, lambda: (TOPOLOGY, observed(CarpState.BACKUP, HastRole.SECONDARY))
    )
    assert watch.tick() is None
    assert runner.calls == []
    assert GuardWatch(cfg, runner, lambda: None).tick() is None


def test_a_witness_note_from_before_a_reboot_starts_the_count_again(tmp_path):
    """run_dir survived a reboot: a CLOCK_MONOTONIC stamp in the new clock's future must
    not keep self-fencing off for the last boot's uptime (review F10)."""
    cfg = config(tmp_path, witnesses=[WITNESS])
    runner = FakeRunner()
    runner.reply(commands.ping_once(WITNESS, 1), exit_status=2)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "witness-lost").write_text("99999.0\n")
    now = [50.0]
    look = GuardLook(cfg, runner, clock=lambda: now[0])
    assert lost_for(look) == 0.0
    now[0] = 58.0
    assert lost_for(look) == 8.0


def test_an_effect_that_stays_asks_again_every_few_looks(tmp_path):
    """The round the watch asked for found the lock busy: the watch asks again (F8b)."""
    from carpswitch.intake.guardwatch import AGAIN

    cfg = config(tmp_path, witnesses=[WITNESS], self_fence=True, witness_grace=0.0)
    runner = FakeRunner()
    runner.reply(commands.ping_once(WITNESS, 1), exit_status=2)
    watch = GuardWatch(cfg, runner, lambda: (TOPOLOGY, observed()))
    answers = [watch.tick() for _ in range(2 * AGAIN + 1)]
    asked = [n for n, why in enumerate(answers) if why]
    assert asked == [0, AGAIN, 2 * AGAIN]
