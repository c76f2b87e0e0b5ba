"""What status and the metrics say of the guards' last look (run_dir/guards.json)."""

from prometheus_client.parser import text_string_to_metric_families

from carpswitch.engine.metrics import guard_vetoes as metric_vetoes
from carpswitch.metrics import MetricsFacts, render
from carpswitch.standing import guard_vetoes, guards_line
from carpswitch.topology import Group, Topology

GROUP = Group(name="storage", vhid=1, interface="vtnet0", resources=("tank",))
TOPOLOGY = Topology(node_names=("hasta",), resources={}, groups=(GROUP,))
LOST = {
    "at": 1000.0,
    "witness": {"reachable": [], "lost": {"198.18.0.10": "no reply"}, "lost_for": 7.2},
    "peer": {"address": "198.18.0.2", "name": "hastb", "roles": {"tank": "primary"}},
}
FINE = {
    "at": 1000.0,
    "witness": {"reachable": ["198.18.0.10"], "lost": {}, "lost_for": 0},
    "peer": {"address": "198.18.0.2", "name": None, "roles": None, "problem": "timed out"},
}


def test_a_lost_witness_and_a_primary_peer_are_vetoes_of_the_group():
    assert guard_vetoes(TOPOLOGY, LOST, {"storage": ["split-brain on tank"]}) == {
        "storage": [
            "split-brain on tank",
            "peer still primary (hastb: tank primary)",
            "no witness reachable (198.18.0.10: no reply)",
        ]
    }
    assert guard_vetoes(TOPOLOGY, FINE, {}) == {}
    assert guard_vetoes(TOPOLOGY, None, {}) == {}


def test_the_guards_line_says_what_was_seen_and_how_long_ago():
    assert guards_line(LOST, now=1003.4) == (
        "guards: no witness answers (for 7 s); peer hastb: tank primary (3 s ago)"
    )
    assert guards_line(FINE, now=1000.0) == (
        "guards: witness 198.18.0.10 answers; peer 198.18.0.2: timed out (0 s ago)"
    )
    assert guards_line(None, now=0.0) is None


def test_a_look_file_of_the_wrong_shape_never_fails_status():
    odd = {"witness": "x", "peer": {"roles": ["tank"]}, "at": "soon"}
    assert guard_vetoes(TOPOLOGY, odd, {}) == {}
    assert guards_line(odd, now=0.0) == "guards: peer None: no answer"


def test_the_metrics_show_each_configured_guard_and_parse():
    assert metric_vetoes(LOST) == {"witness": True, "peer": True}
    assert metric_vetoes(FINE) == {"witness": False, "peer": False}
    assert metric_vetoes({"at": 1.0}) == {}
    text = render(
        MetricsFacts(totals={}, last=None, failures=0, held=False, paused=False,
                     guards=metric_vetoes(LOST))
    )  # fmt: skip
    samples = {
        s.labels["guard"]: s.value
        for family in text_string_to_metric_families(text)
        if family.name == "carpswitch_guard_veto"
        for s in family.samples
    }
    assert samples == {"witness": 1.0, "peer": 1.0}
