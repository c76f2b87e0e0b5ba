"""The lab's carpswitch.toml with the split-brain guards: what it says, and that it loads."""

from __future__ import annotations

import tomllib
from pathlib import Path

from carpswitch.config import load_config
from carpswitch.lab.node import create_node


def test_guards_and_metrics_are_rendered_and_load(tmp_path: Path) -> None:
    node = create_node(
        tmp_path / "hastb",
        name="hastb",
        peer="hasta",
        guards=True,
        witnesses=("198.18.0.10",),
        metrics_dir=str(tmp_path / "prom"),
        start=False,
    )
    data = tomllib.loads(node.config_path.read_text())
    assert data["node"] == {"name": "hastb", "peer": "198.18.0.1", "view_listen": "198.18.0.2"}
    assert data["guards"] == {
        "witnesses": ["198.18.0.10"],
        "self_fence": True,
        "peer_view": True,
        "interval": 1.0,
        "witness_grace": 3.0,
        "watchdog": 8,
    }
    assert data["metrics"] == {"dir": str(tmp_path / "prom")}
    assert (tmp_path / "prom").is_dir()
    assert data["commands"]["ping"] == str(node.paths.command("ping"))
    config = load_config(str(node.config_path))
    assert config.guards.witnesses == ["198.18.0.10"]
    assert config.guards.self_fence and config.guards.peer_view


def test_without_guards_the_config_is_the_old_one(tmp_path: Path) -> None:
    node = create_node(tmp_path / "hasta", start=False)
    data = tomllib.loads(node.config_path.read_text())
    assert "guards" not in data and "metrics" not in data
    assert data["node"] == {"name": "hasta"}
    load_config(str(node.config_path))


def test_an_empty_node_gets_its_guards_from_set_up(tmp_path: Path) -> None:
    node = create_node(tmp_path / "hasta", resources=(), guards=True, start=False)
    data = tomllib.loads(node.config_path.read_text())
    assert "guards" not in data and data["node"] == {"name": "hasta"}
