"""hast.conf as the lab's hastctl/hastd resolve it, reused only for the same text and host."""

from __future__ import annotations

from pathlib import Path

import pytest

from carpswitch.lab import hastsetup
from carpswitch.lab.hastsetup import HastSetupError, load_hast_setup
from carpswitch.lab.node import create_node

HOST = ("hasta", "uuid-a", 1)


@pytest.fixture
def conf(tmp_path: Path) -> tuple[Path, Path]:
    node = create_node(tmp_path / "hasta", start=False)
    return node.paths.hast_conf, tmp_path / "cache.json"


def no_parsing(*args: object) -> object:
    raise AssertionError("hast.conf was parsed again")


def test_the_same_text_on_the_same_host_is_not_parsed_again(conf, monkeypatch) -> None:
    path, cache = conf
    first = load_hast_setup(path, *HOST, cache)
    assert cache.exists()
    monkeypatch.setattr(hastsetup, "_resolve", no_parsing)
    assert load_hast_setup(path, *HOST, cache) == first
    assert [r.name for r in first.resources] == ["tank"]


def test_a_changed_text_or_host_is_parsed_again(conf, monkeypatch) -> None:
    path, cache = conf
    load_hast_setup(path, *HOST, cache)
    monkeypatch.setattr(hastsetup, "_resolve", no_parsing)
    with pytest.raises(AssertionError, match="parsed again"):
        load_hast_setup(path, "hastb", "uuid-a", 1, cache)
    path.write_text(path.read_text() + "\n")
    with pytest.raises(AssertionError, match="parsed again"):
        load_hast_setup(path, *HOST, cache)


def test_a_broken_hast_conf_fails_every_time_and_is_never_cached(conf) -> None:
    path, cache = conf
    good = load_hast_setup(path, *HOST, cache)
    path.write_text(path.read_text().replace("resource tank {", "resource tank"))
    for _ in range(2):
        with pytest.raises(HastSetupError) as failure:
            load_hast_setup(path, *HOST, cache)
        assert failure.value.exit_code == 78
    assert str(good.control_socket) in cache.read_text()


def test_a_torn_cache_is_parsed_again(conf) -> None:
    path, cache = conf
    good = load_hast_setup(path, *HOST, cache)
    cache.write_text('{"config_path": ')
    assert load_hast_setup(path, *HOST, cache) == good


def test_a_node_starts_with_its_hast_conf_resolved(tmp_path: Path) -> None:
    node = create_node(tmp_path / "hasta", start=False)
    assert str(node.paths.hast_conf) in node.paths.hast_setup_cache.read_text()
