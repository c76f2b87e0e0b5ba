"""`setup receive`: the peer checks who it is, keeps its node-local sections, answers JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from carpswitch.config import parse_config
from carpswitch.setup.receive import run_receive, shared_of
from tests.unit.setup.pair import make_pair


def _receive(tmp_path: Path, cluster_data: dict[str, Any], what: str, text: str, who: str) -> Any:
    pair = make_pair(tmp_path, cluster_data)
    out = io.StringIO()
    status = run_receive(what, who, pair.b_file, io.StringIO(text), out, pair.b)
    return status, json.loads(out.getvalue()), pair


def _shared(cluster_data: dict[str, Any]) -> str:
    return shared_of(parse_config(cluster_data))


def test_plan_uses_this_nodes_paths_not_the_senders(
    tmp_path: Path, cluster_data: dict[str, Any]
) -> None:
    status, answer, pair = _receive(tmp_path, cluster_data, "plan", _shared(cluster_data), "hastb")
    assert status == 0 and answer["host"] == "hastb"
    paths = [f["path"] for f in answer["files"]]
    assert all(path.startswith(str(tmp_path / "b")) for path in paths), paths
    assert pair.b.calls and not pair.a.calls


def test_wrong_host_is_refused(tmp_path: Path, cluster_data: dict[str, Any]) -> None:
    status, answer, pair = _receive(tmp_path, cluster_data, "apply", _shared(cluster_data), "hasta")
    assert status == 1
    assert answer == {"error": "this node is hastb, not hasta: nothing changed"}
    assert not pair.b.calls


def test_text_that_is_not_toml_is_refused(tmp_path: Path, cluster_data: dict[str, Any]) -> None:
    status, answer, _pair = _receive(tmp_path, cluster_data, "plan", "[cluster\n", "hastb")
    assert status == 1 and answer["error"].startswith("carpswitch.toml sent by the peer: not TOML")


def test_invalid_values_are_refused_by_key(tmp_path: Path, cluster_data: dict[str, Any]) -> None:
    text = _shared(cluster_data).replace("vhid = 7", "vhid = 256")
    status, answer, _pair = _receive(tmp_path, cluster_data, "apply", text, "hastb")
    assert status == 1 and "cluster.vhid" in answer["error"]
    assert not (tmp_path / "b" / "etc").exists()


def test_facts_of_an_empty_node(tmp_path: Path, cluster_data: dict[str, Any]) -> None:
    status, answer, _pair = _receive(
        tmp_path, cluster_data, "facts", _shared(cluster_data), "hastb"
    )
    assert status == 0
    assert answer["hast_conf_sha256"] is None
    assert answer["provider_sizes"] == {"hastvol": None, "disk1": None}
    assert answer["carp_netif"] is False and answer["hastd_running"] is False
