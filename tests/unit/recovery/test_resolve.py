"""`split-brain resolve`: every refusal changes nothing; the fix runs in order; a failure at
each command stops there and says how to go on; ssh that hangs or lies."""

from __future__ import annotations

import pytest

from carpswitch.cli import main
from carpswitch.exitcodes import ExitCode
from tests.unit.recovery.simpair import SimPair, at, make_pair

CHANGES = ("role", "create")


@pytest.fixture
def pair(tmp_path, monkeypatch) -> SimPair:
    """Both primary and marked; hastb was promoted last (it holds the acknowledged data)."""
    monkeypatch.setattr("carpswitch.logsetup.SYSLOG_SOCKETS", ())
    made = make_pair(tmp_path)
    made.a.mark()
    made.b.mark()
    made.a.promoted(at(2))
    made.b.promoted(at(3))
    return made


def changes(node) -> list[tuple[str, ...]]:
    """The hastctl commands that change something, as (verb, role or resource...)."""
    return [c[1:2] + c[4:] for c in node.calls if c[0] == "hastctl" and c[1] in CHANGES]


def untouched(pair: SimPair) -> None:
    for node in (pair.a, pair.b):
        assert changes(node) == [] and node.demoted == [], node.name
        assert node.marks() == frozenset({"tank"}), node.name


FIX = [("role", "init", "tank"), ("create", "tank"), ("role", "secondary", "tank")]


def test_discard_this_demotes_then_runs_the_documented_fix_and_clears_both_marks(pair):
    code, out, err = pair.resolve("hasta", keep=False, yes=True)
    assert (code, err) == (ExitCode.OK, "")
    assert pair.a.demoted == ["vhid7"]
    assert changes(pair.a) == FIX
    assert changes(pair.b) == [] and pair.b.demoted == []
    assert pair.a.marks() == frozenset() and pair.b.marks() == frozenset()
    assert pair.a.roles == {"tank": "secondary"}
    assert ["carpswitch", "split-brain", "clear", "--", "tank"] in pair.ssh_calls
    assert out.index("plan: keep hastb's copy of tank, discard hasta's") < out.index("running")


def test_keep_this_runs_the_discard_on_the_peer_and_clears_this_nodes_mark(pair):
    pair.a.promoted(at(5))  # now hasta was primary last
    code, out, err = pair.resolve("hasta", keep=True, yes=True)
    assert (code, err) == (ExitCode.OK, "")
    assert changes(pair.a) == [] and pair.a.demoted == []
    assert pair.b.demoted == ["vhid7"] and changes(pair.b) == FIX
    assert pair.a.marks() == frozenset() and pair.b.marks() == frozenset()
    remote = [w for w in pair.ssh_calls if "resolve" in w]
    assert remote == [
        ["carpswitch", "split-brain", "resolve", "--discard-this", "--yes",
         "--checked-by", "hasta", "--", "tank"],
    ]  # fmt: skip
    assert "  hastb: running hastctl create" in out


def test_a_secondary_discarding_side_is_not_demoted(pair):
    pair.a.roles["tank"] = "secondary"
    code, _, _ = pair.resolve("hasta", keep=False, yes=True)
    assert code == ExitCode.OK
    assert pair.a.demoted == [] and changes(pair.a) == FIX


def test_refuses_to_discard_the_side_that_was_primary_last(pair):
    code, out, err = pair.resolve("hastb", keep=False, yes=True)
    assert code == ExitCode.FAILED
    assert "would discard hastb, which holds the acknowledged data (hastb was primary" in err
    assert out == ""
    untouched(pair)
    code, _, err = pair.resolve("hasta", keep=True, yes=True)
    assert code == ExitCode.FAILED and "would discard hastb" in err
    untouched(pair)


def test_force_overrides_the_journals_verdict(pair):
    code, _, err = pair.resolve("hastb", keep=False, yes=True, force=True)
    assert (code, err) == (ExitCode.OK, "")
    assert changes(pair.b) == FIX and changes(pair.a) == []


def test_refuses_when_neither_journal_tells(tmp_path, monkeypatch):
    monkeypatch.setattr("carpswitch.logsetup.SYSLOG_SOCKETS", ())
    pair = make_pair(tmp_path)
    pair.a.mark()
    pair.b.mark()
    code, _, err = pair.resolve("hasta", keep=False, yes=True)
    assert code == ExitCode.FAILED
    assert "cannot tell which side holds the acknowledged data (neither journal" in err
    untouched(pair)


def test_refuses_when_nothing_is_in_split_brain(tmp_path, monkeypatch):
    monkeypatch.setattr("carpswitch.logsetup.SYSLOG_SOCKETS", ())
    pair = make_pair(tmp_path)
    pair.b.promoted(at(3))
    code, _, err = pair.resolve("hasta", keep=False, yes=True)
    assert code == ExitCode.FAILED and "not in split-brain on either node" in err
    assert changes(pair.a) == []


@pytest.mark.parametrize("keep", [True, False])
def test_refuses_when_the_peer_is_unreachable(pair, keep):
    pair.ssh_down = True
    code, _, err = pair.resolve("hasta", keep=keep, yes=True)
    assert code == ExitCode.UNAVAILABLE
    assert "peer hastb (root@198.18.0.2): unreachable (connection refused" in err
    untouched(pair)


def test_keep_this_refuses_an_unreachable_peer_even_forced(pair):
    pair.ssh_hangs = True
    code, _, err = pair.resolve("hasta", keep=True, yes=True, force=True)
    assert code == ExitCode.UNAVAILABLE and "ssh timed out" in err
    untouched(pair)


def test_discard_this_forced_goes_on_without_the_peer_and_says_its_mark_stays(pair):
    pair.ssh_down = True
    code, out, err = pair.resolve("hasta", keep=False, yes=True, force=True)
    assert changes(pair.a) == FIX
    assert pair.a.marks() == frozenset() and pair.b.marks() == frozenset({"tank"})
    assert "note: peer hastb (root@198.18.0.2): unreachable" in out
    assert code == ExitCode.FAILED
    assert "its mark stays; run `carpswitch split-brain clear tank` on hastb" in err


def test_a_peer_that_lies_about_who_it_is_is_refused(pair):
    pair.ssh_says = '{"node": "hasta", "resources": {}}'
    code, _, err = pair.resolve("hasta", keep=False, yes=True)
    assert code == ExitCode.UNAVAILABLE and "answered as node hasta, expected hastb" in err
    untouched(pair)


@pytest.mark.parametrize("typed", ["", "tan", "tank2", "yes"])
def test_without_the_typed_resource_name_nothing_changes(pair, typed):
    code, out, err = pair.resolve("hasta", keep=False, typed=typed + "\n")
    assert code == ExitCode.FAILED and "not confirmed: nothing changed" in err
    assert "type tank to discard hasta's copy: " in out
    untouched(pair)


def test_the_typed_resource_name_confirms(pair):
    code, _, _ = pair.resolve("hasta", keep=False, typed="tank\n")
    assert code == ExitCode.OK and changes(pair.a) == FIX


@pytest.mark.parametrize(
    ("verb", "done", "rest"),
    [
        ("role init", 0, "hastctl role init tank; hastctl create tank; hastctl role secondary"),
        ("create", 1, "hastctl create tank; hastctl role secondary tank; then"),
        ("role secondary", 2, "hastctl role secondary tank; then carpswitch split-brain clear"),
    ],
)
def test_a_failure_at_each_command_stops_there_and_says_how_to_go_on(pair, verb, done, rest):
    pair.a.fail[verb] = (1, "[ERROR] [tank] Unable to open /dev/ada1: Device busy.\n")
    code, _, err = pair.resolve("hasta", keep=False, yes=True)
    assert code == ExitCode.FAILED
    assert len(err.splitlines()) == 1, err
    assert f"stopped at `hastctl {verb} tank`" in err and "Device busy" in err
    assert f"to go on run by hand: {rest}" in err
    assert len(changes(pair.a)) == done + 1  # the failed one was tried, nothing after it
    assert pair.a.marks() == frozenset({"tank"}) and pair.b.marks() == frozenset({"tank"})


def test_a_hanging_hastctl_is_bounded_and_stops(pair):
    pair.a.hang.add("create")
    code, _, err = pair.resolve("hasta", keep=False, yes=True)
    assert code == ExitCode.FAILED and "stopped at `hastctl create tank`" in err
    assert "timed out" in err
    assert changes(pair.a) == FIX[:2]


def test_a_failed_demotion_stops_before_any_hastctl(pair):
    pair.a.demote_fails = "demotion failed: umount: /mnt: Device busy"
    code, _, err = pair.resolve("hasta", keep=False, yes=True)
    assert code == ExitCode.FAILED
    assert "stopped at the demotion of group vhid7 (demotion failed" in err
    assert "nothing of tank discarded" in err
    assert changes(pair.a) == []
    assert pair.a.marks() == frozenset({"tank"})


def test_keep_this_when_the_peers_discard_stops_keeps_this_mark(pair):
    pair.a.promoted(at(5))
    pair.b.fail["create"] = (1, "[ERROR] [tank] Unable to open /dev/ada1: Device busy.\n")
    code, out, err = pair.resolve("hasta", keep=True, yes=True)
    assert code == ExitCode.FAILED
    assert "the discard on hastb stopped (exit 1, see above); this node's mark stays" in err
    assert "  hastb: carpswitch: split-brain resolve tank: stopped at `hastctl create" in out
    assert pair.a.marks() == frozenset({"tank"}) and pair.b.marks() == frozenset({"tank"})


def test_keep_this_when_ssh_hangs_during_the_discard_says_it_may_be_half_done(pair):
    pair.a.promoted(at(5))
    pair.ssh_hangs_on = "resolve"
    code, _, err = pair.resolve("hasta", keep=True, yes=True)
    assert code == ExitCode.UNAVAILABLE
    assert "ssh timed out" in err and "may be half done: run carpswitch split-brain status" in err
    assert pair.a.marks() == frozenset({"tank"})


def test_a_primary_in_no_group_is_not_discarded(pair):
    (pair.a.root / "hast.conf").write_text("")  # no resource: hastd's view only, no group
    pair.b.promoted(at(6))
    code, _, err = pair.resolve("hasta", keep=False, yes=True)
    assert code == ExitCode.FAILED, err
    assert "primary on hasta and in no group carpswitch demotes" in err
    untouched(pair)


def test_checked_by_is_only_for_the_peer(pair):
    code, _, err = pair.resolve("hasta", keep=False, yes=True, checked_by="mallory")
    assert code == ExitCode.USAGE and "only the peer hastb passes it" in err
    untouched(pair)


def test_the_command_line_needs_one_side(pair, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["-c", pair.a.config_file, "split-brain", "resolve", "tank"])
    assert stopped.value.code == ExitCode.USAGE
    assert "one of the arguments --keep-this --discard-this is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["-c", pair.a.config_file, "split-brain", "resolve", "tank", "--keep-this",
              "--discard-this"])  # fmt: skip


def test_discard_this_when_clearing_the_peers_mark_hangs_says_so(pair):
    pair.ssh_hangs_on = "clear"
    code, _, err = pair.resolve("hasta", keep=False, yes=True)
    assert code == ExitCode.FAILED
    assert changes(pair.a) == FIX and pair.a.marks() == frozenset()
    assert "hastb (peer hastb: ssh timed out after 60 s): its mark stays" in err
    assert pair.b.marks() == frozenset({"tank"})


@pytest.mark.parametrize("keep", [True, False])
def test_refuses_when_the_side_to_keep_is_not_primary(pair, keep):
    kept = "hasta" if keep else "hastb"
    if keep:
        pair.a.promoted(at(5))  # hasta was primary last: the verdict allows keeping it
    pair.node(kept).roles["tank"] = "secondary"
    code, _, err = pair.resolve("hasta", keep=keep, yes=True)
    assert code == ExitCode.FAILED
    assert f"tank is secondary on {kept}, the side to keep: hastd synchronises from" in err
    untouched(pair)


def test_after_a_stop_the_same_resolve_goes_on_from_the_start(pair):
    pair.a.fail["create"] = (74, "[ERROR] [tank] Unable to write metadata: Input/output error.\n")
    assert pair.resolve("hasta", keep=False, yes=True)[0] == ExitCode.FAILED
    assert pair.a.roles["tank"] == "init" and pair.a.marks() == frozenset({"tank"})
    del pair.a.fail["create"]
    pair.a.calls.clear()
    code, _, err = pair.resolve("hasta", keep=False, yes=True)  # init now: no demotion
    assert (code, err) == (ExitCode.OK, "")
    assert changes(pair.a) == FIX and pair.a.demoted == ["vhid7"]
    assert pair.a.marks() == frozenset() and pair.b.marks() == frozenset()


def test_a_resource_made_primary_after_the_checks_is_not_discarded(pair):
    pair.a.roles["tank"] = "secondary"  # nothing to demote at the checks
    pair.a.meanwhile = {"tank": "primary"}  # an admin's promote --force in between
    code, _, err = pair.resolve("hasta", keep=False, yes=True)
    assert code == ExitCode.FAILED
    assert "tank is primary here again (after the checks): nothing discarded" in err
    assert changes(pair.a) == [] and pair.a.marks() == frozenset({"tank"})
