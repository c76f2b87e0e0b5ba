"""`setup plan|apply|check` on two simulated nodes (ssh runs the peer's receive side)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from carpswitch.commands.setup import run_setup_apply, run_setup_check, run_setup_plan
from carpswitch.errors import CarpswitchError
from carpswitch.setup.files import SetupError
from carpswitch.setup.report import NOTHING_TO_DO
from tests.unit.setup.pair import Pair, make_pair


@pytest.fixture
def pair(tmp_path: Path, cluster_data: dict[str, Any]) -> Pair:
    return make_pair(tmp_path, cluster_data)


def _apply(pair: Pair) -> str:
    out = io.StringIO()
    assert run_setup_apply(pair.a_file, out, pair) == 0
    return out.getvalue()


def test_plan_shows_both_nodes_and_changes_nothing(pair: Pair) -> None:
    out = io.StringIO()
    assert run_setup_plan(pair.a_file, False, out, pair) == 0
    text = out.getvalue()
    assert text.index("== hasta (this node)") < text.index("== hastb (peer, root@198.18.0.2)")
    assert f"+++ {Path(pair.b_file).parent}/etc/hast.conf (new)" in text
    assert "run: zfs create -V 10G tank/hastvol" in text
    assert not pair.a.zvols and not pair.b.zvols
    assert "[cluster]" not in Path(pair.b_file).read_text()
    assert any("-O" in call for call in pair.ssh_calls)  # the master connection is ended


def test_plan_json_has_both_plans(pair: Pair) -> None:
    out = io.StringIO()
    run_setup_plan(pair.a_file, True, out, pair)
    answer = json.loads(out.getvalue())
    assert answer["local"]["host"] == "hasta" and answer["peer"]["host"] == "hastb"
    assert ["zfs", "create", "-V", "10G", "tank/hastvol"] in [
        c["argv"] for c in answer["peer"]["commands"]
    ]


def test_apply_sets_up_both_and_a_second_apply_is_a_no_op(pair: Pair) -> None:
    text = _apply(pair)
    assert "== hasta (this node):" in text and "== hastb (peer, root@198.18.0.2):" in text
    assert pair.a.hastd and pair.b.hastd
    assert pair.b.roles == {"hastvol": "secondary", "disk1": "secondary"}
    a_hast = Path(pair.a_file).parent / "etc/hast.conf"
    b_hast = Path(pair.b_file).parent / "etc/hast.conf"
    assert a_hast.read_text() == b_hast.read_text()
    assert 'name = "hastb"' in Path(pair.b_file).read_text()  # its own [node] kept
    assert _apply(pair) == NOTHING_TO_DO + "\n"
    out = io.StringIO()
    assert run_setup_check(pair.a_file, False, out, pair) == 0, out.getvalue()


def test_check_reports_an_induced_difference(pair: Pair) -> None:
    _apply(pair)
    b_hast = Path(pair.b_file).parent / "etc/hast.conf"
    b_hast.write_text(b_hast.read_text() + "# edited by hand\n")
    pair.b.hastd = False
    pair.b.zvols["tank/hastvol"] = 5 << 30
    out = io.StringIO()
    assert run_setup_check(pair.a_file, False, out, pair) == 1
    assert out.getvalue().splitlines() == [
        "hast.conf differs",
        "provider sizes differ for hastvol (10737418240 vs 5368709120)",
        "hastd not running on hastb",
    ]


def test_transport_error_changes_nothing_anywhere(pair: Pair) -> None:
    pair.ssh_reply = (255, "", "root@198.18.0.2: Permission denied (publickey).\n")
    with pytest.raises(SetupError, match=r"^peer hastb \(root@198.18.0.2\): no key accepted"):
        run_setup_apply(pair.a_file, io.StringIO(), pair)
    assert not pair.a.zvols and not (Path(pair.a_file).parent / "etc").exists()


def test_hanging_ssh_changes_nothing(pair: Pair) -> None:
    pair.ssh_hangs = True
    with pytest.raises(SetupError, match="ssh timed out"):
        run_setup_apply(pair.a_file, io.StringIO(), pair)
    assert not pair.a.zvols and not pair.a.hastd


def test_a_peer_that_is_the_wrong_host_changes_nothing(pair: Pair) -> None:
    text = Path(pair.b_file).read_text().replace('name = "hastb"', 'name = "hasta"')
    Path(pair.b_file).write_text(text)
    with pytest.raises(SetupError, match="this node is hasta, not hastb: nothing changed"):
        run_setup_apply(pair.a_file, io.StringIO(), pair)
    assert not pair.a.zvols and not pair.b.zvols


def test_a_peer_with_a_corrupt_config_changes_nothing(pair: Pair) -> None:
    Path(pair.b_file).write_text("[paths\nbroken = ")
    with pytest.raises(SetupError, match=r"^peer hastb: .*carpswitch.toml"):
        run_setup_apply(pair.a_file, io.StringIO(), pair)
    assert not pair.a.zvols and not (Path(pair.a_file).parent / "etc").exists()


def test_killed_between_the_nodes_a_new_apply_completes_the_peer(pair: Pair) -> None:
    calls = 0

    def killed_at_peer_apply(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        if args[0] == "ssh" and "apply" in args[-1]:
            calls += 1
            raise KeyboardInterrupt  # stands for SIGKILL: nothing after this line runs
        return Pair.run(pair, *args, **kwargs)

    pair_run = pair.run
    pair.run = killed_at_peer_apply  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        run_setup_apply(pair.a_file, io.StringIO(), pair)
    assert calls == 1 and pair.a.hastd and not pair.b.hastd
    pair.run = pair_run  # type: ignore[method-assign]
    text = _apply(pair)
    assert "== hasta (this node): nothing to change" in text
    assert pair.b.hastd and pair.b.roles["hastvol"] == "secondary"
    assert _apply(pair) == NOTHING_TO_DO + "\n"


def test_no_cluster_section_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "carpswitch.toml"
    path.write_text('[node]\nname = "hasta"\n')
    with pytest.raises(CarpswitchError, match="cluster: required for setup"):
        run_setup_plan(str(path), False, io.StringIO(), None)


def test_setup_help_teaches_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    from carpswitch.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["setup", "apply", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "carpswitch setup init --remote-host hastb" in text
    assert "Exit status: 0 done" in text


def test_setup_without_a_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from carpswitch.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["setup"])
    assert exited.value.code == 64
    assert "SETUP" in capsys.readouterr().err


def test_receive_through_the_command_line(
    pair: Pair, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from carpswitch.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("[cluster\n"))
    assert main(["-c", pair.b_file, "setup", "receive", "facts", "--as", "hastb"]) == 1
    assert json.loads(capsys.readouterr().out)["error"].startswith("carpswitch.toml sent by")


def test_a_failure_half_way_through_this_node_is_completed_by_the_next_apply(pair: Pair) -> None:
    pair.a.hang.add(("service", "hastd", "onestart"))
    with pytest.raises(SetupError, match="service hastd onestart: timed out"):
        run_setup_apply(pair.a_file, io.StringIO(), pair)
    assert pair.a.zvols and not pair.a.hastd  # zvol and files done, then it stopped
    assert not pair.b.zvols  # the peer is not touched after a local failure
    pair.a.hang.clear()
    text = _apply(pair)
    assert "service hastd onestart" in text and "zfs create" not in text.split("== hastb")[0]
    assert pair.a.metadata == {"hastvol", "disk1"}  # created once, never over metadata
    assert pair.a.calls.count(("hastctl", "create", "hastvol")) == 1
    assert _apply(pair) == NOTHING_TO_DO + "\n"
    directory = Path(pair.a_file).parent  # statefiles.replace_file's temporaries: .NAME.PID.tmp
    leftovers = [*directory.rglob(".*carpswitch-*"), *directory.rglob(".*.tmp")]
    assert leftovers == []
