"""`split-brain status` and `facts`: both nodes' view, an unreachable or lying peer."""

from __future__ import annotations

import io
import json

import pytest

from carpswitch.cli import main
from carpswitch.commands.split_brain_status import run_split_brain_status
from carpswitch.engine.hastevents import HastEvent, HastEventLog
from carpswitch.exitcodes import ExitCode
from tests.unit.recovery.simpair import SimPair, at, make_pair


@pytest.fixture
def pair(tmp_path, monkeypatch) -> SimPair:
    monkeypatch.setattr("carpswitch.logsetup.SYSLOG_SOCKETS", ())
    return make_pair(tmp_path)


def status(pair: SimPair, as_json: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    code = run_split_brain_status(pair.a.config_file, as_json, out, pair.runner("hasta"))
    return code, out.getvalue()


def test_status_shows_both_nodes_who_was_primary_last_and_what_to_run(pair):
    pair.a.mark()
    pair.b.mark()
    pair.a.promoted(at(2))
    pair.b.promoted(at(3))
    code, text = status(pair)
    assert code == ExitCode.FAILED
    lines = text.splitlines()
    assert lines[0] == "split-brain on tank:"
    assert lines[1].startswith("  hasta (this node): role primary, status degraded, dirty 0 B")
    assert "marked since" in lines[1] and "2026-12-01T02:00:00+00:00" in lines[1]
    assert lines[2].startswith("  hastb (peer): role primary") and "T03:00:00" in lines[2]
    assert lines[3].startswith("  acknowledged data: hastb (hastb was primary last")
    assert lines[4] == "  run here: carpswitch split-brain resolve tank --discard-this"
    assert ["carpswitch", "split-brain", "facts", "--json"] in pair.ssh_calls


def test_status_json_carries_the_same(pair):
    pair.b.mark()
    pair.a.promoted(at(4))
    code, text = status(pair, as_json=True)
    data = json.loads(text)
    assert code == ExitCode.FAILED
    assert data["split_brain"]["tank"]["holder"] == "hasta"
    assert data["split_brain"]["tank"]["to_run"] == [
        "carpswitch split-brain resolve tank --keep-this"
    ]
    assert data["this"]["resources"]["tank"]["mark"] is None
    assert data["peer"]["resources"]["tank"]["mark"] is not None
    assert data["peer"]["node"] == "hastb"


def test_nothing_in_split_brain_exits_0(pair):
    code, text = status(pair)
    assert (code, text) == (ExitCode.OK, "no resource in split-brain\n")


def test_hastds_report_counts_without_a_mark(pair):
    HastEventLog(pair.b.state_dir).append(HastEvent.now("split-brain", "tank", (), True))
    code, text = status(pair)
    assert code == ExitCode.FAILED
    assert "hastd reported split-brain at" in text
    assert "acknowledged data: unknown (neither journal" in text


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("ssh_down", "peer: peer hastb (root@198.18.0.2): unreachable (connection refused"),
        ("ssh_hangs", "peer: peer hastb: ssh timed out after"),
        ("lies", "peer: peer hastb: answered as node hasta, expected hastb"),
        ("garbage", "peer: peer hastb: not an answer of carpswitch split-brain facts"),
    ],
)
def test_a_peer_that_cannot_be_asked_is_one_line_never_an_exception(pair, fault, expected):
    pair.a.mark()
    if fault == "ssh_down":
        pair.ssh_down = True
    elif fault == "ssh_hangs":
        pair.ssh_hangs = True
    elif fault == "lies":
        pair.ssh_says = json.dumps({"node": "hasta", "resources": {}})
    else:
        pair.ssh_says = "Welcome to FreeBSD!\n"
    code, text = status(pair)
    assert code == ExitCode.FAILED  # tank is marked here
    assert expected in text, text
    assert "  hastb (peer): peer hastb" in text
    assert "acknowledged data: unknown (unknown: peer hastb" in text


def test_an_unreachable_peer_with_nothing_here_is_unavailable(pair):
    pair.ssh_down = True
    code, text = status(pair)
    assert code == ExitCode.UNAVAILABLE
    assert text.startswith("peer: peer hastb (root@198.18.0.2): unreachable")


def test_facts_name_what_could_not_be_read_and_keep_the_rest(pair, capsys):
    pair.a.fail["list"] = (71, "[ERROR] Unable to connect to hastd via /var/run/hastctl.\n")
    pair.a.mark()
    pair.a.promoted(at(1))
    pair.b.promoted(at(2))
    code, text = status(pair)
    assert code == ExitCode.FAILED
    assert text.startswith("carpswitch: hast: ")
    assert "Unable to connect to hastd" in text.splitlines()[0]
    assert "hasta (this node): role unknown, status unknown, dirty -, marked since" in text
    assert "acknowledged data: hastb" in text  # the journals are still read


def test_facts_needs_json(pair, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["-c", pair.a.config_file, "split-brain", "facts"])
    assert stopped.value.code == ExitCode.USAGE
    assert "required: --json" in capsys.readouterr().err


def test_facts_change_nothing(pair):
    pair.a.mark()
    before = sorted(p.name for p in (pair.a.root / "db").rglob("*"))
    out = io.StringIO()
    from carpswitch.commands.split_brain_status import run_split_brain_facts

    assert run_split_brain_facts(pair.a.config_file, out, pair.runner("hasta")) == ExitCode.OK
    data = json.loads(out.getvalue())
    assert data["node"] == "hasta" and data["resources"]["tank"]["in_split_brain"] is True
    assert sorted(p.name for p in (pair.a.root / "db").rglob("*")) == before
    assert all(call[:2] in (("hastctl", "list"), ("ifconfig",)) for call in pair.a.calls)


def test_status_says_to_make_the_side_to_keep_primary_first(pair):
    pair.a.mark()
    pair.b.promoted(at(3))
    pair.b.roles["tank"] = "secondary"
    code, text = status(pair)
    assert code == ExitCode.FAILED
    assert "  first: hastb is secondary, not primary: make it primary first" in text
    code, text = status(pair, as_json=True)
    assert json.loads(text)["split_brain"]["tank"]["note"].startswith("hastb is secondary")
