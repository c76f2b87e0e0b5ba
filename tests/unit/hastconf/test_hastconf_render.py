"""render_hast_conf writes one canonical layout, and parse/render round-trip."""

import random
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from carpswitch.parse.hastconf import (
    Checksum,
    Compression,
    HastConf,
    HastNodeSection,
    HastResourceNode,
    HastResourceSection,
    Replication,
    parse_hast_conf,
    render_hast_conf,
)
from carpswitch.parse.hastconf_lexer import tokenize

FIXTURES = Path(__file__).parents[2] / "fixtures" / "hastconf"
HAND_WRITTEN = sorted(FIXTURES.glob("*.conf"))


def test_every_keyword_fixture_renders_to_the_canonical_layout():
    conf = parse_hast_conf((FIXTURES / "every_keyword.conf").read_text())
    expected = (FIXTURES / "every_keyword.rendered.conf").read_text()
    assert render_hast_conf(conf) == expected


def test_handbook_example_renders_exactly_as_the_handbook_writes_it_with_tabs():
    text = (FIXTURES / "handbook.conf").read_text()
    assert render_hast_conf(parse_hast_conf(text)) == text


def test_empty_configuration_renders_as_empty_text():
    assert render_hast_conf(HastConf()) == ""


def test_sections_are_separated_by_one_blank_line_and_global_comes_first():
    conf = HastConf(
        timeout=5,
        nodes=(HastNodeSection(node="a", listen=("10.0.0.1",)),),
        resources=(HastResourceSection(name="r", on=(HastResourceNode(node="a"),)),),
    )
    assert render_hast_conf(conf) == (
        "timeout 5\n\non a {\n\tlisten 10.0.0.1\n}\n\nresource r {\n\ton a {\n\t}\n}\n"
    )


def test_resource_settings_are_followed_by_a_blank_line_before_node_blocks():
    conf = HastConf(
        resources=(
            HastResourceSection(
                name="r", local_path="/dev/da0", on=(HastResourceNode(node="a", metaflush=True),)
            ),
        )
    )
    assert render_hast_conf(conf) == (
        "resource r {\n\tlocal /dev/da0\n\n\ton a {\n\t\tmetaflush on\n\t}\n}\n"
    )


def test_comments_are_not_preserved():
    text = "# keep me?\ntimeout 5 # and me?\n"
    assert render_hast_conf(parse_hast_conf(text)) == "timeout 5\n"


@pytest.mark.parametrize("path", HAND_WRITTEN, ids=lambda path: path.name)
def test_hand_written_configs_round_trip(path):
    conf = parse_hast_conf(path.read_text())
    rendered = render_hast_conf(conf)
    assert parse_hast_conf(rendered) == conf
    assert render_hast_conf(parse_hast_conf(rendered)) == rendered


# --- generated configurations -------------------------------------------------------------

WORDS = [
    "hasta",
    "hastb.example.org",
    "hostid42",
    "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "node-1_x",
    "a",
]
ADDRESSES = ["10.0.0.1", "tcp4://10.0.0.2:8457", "tcp6://[::1]:8457", "0.0.0.0", "host.lan"]
PATHS = ["/dev/ad6", "/dev/mirror/tanka", "/var/run/x.pid", "/usr/local/sbin/hook", "rel/p"]


T = TypeVar("T")


def maybe(rng: random.Random, values: Sequence[T]) -> T | None:
    return rng.choice(values) if rng.random() < 0.5 else None


def maybe_bool(rng: random.Random) -> bool | None:
    return rng.choice([True, False, None])


def random_resource_node(rng: random.Random) -> HastResourceNode:
    return HastResourceNode(
        node=rng.choice(WORDS),
        provider_name=maybe(rng, ["prov", "shared-a", "x.y"]),
        local_path=maybe(rng, PATHS),
        metaflush=maybe_bool(rng),
        remote_address=maybe(rng, [*ADDRESSES, "none"]),
        source_address=maybe(rng, ADDRESSES),
    )


def random_resource(rng: random.Random, name: str) -> HastResourceSection:
    return HastResourceSection(
        name=name,
        replication=maybe(rng, list(Replication)),
        checksum=maybe(rng, list(Checksum)),
        compression=maybe(rng, list(Compression)),
        timeout=maybe(rng, [0, 1, 20, 4294967316]),
        exec_path=maybe(rng, PATHS),
        metaflush=maybe_bool(rng),
        provider_name=maybe(rng, ["prov", "p2"]),
        local_path=maybe(rng, PATHS),
        on=tuple(random_resource_node(rng) for _ in range(rng.randint(0, 3))),
    )


def random_conf(rng: random.Random) -> HastConf:
    return HastConf(
        control=maybe(rng, ["uds:///var/run/hastctl", "/tmp/ctl", "unix:///x"]),
        pidfile=maybe(rng, PATHS),
        listen=tuple(rng.choice(ADDRESSES) for _ in range(rng.randint(0, 3))),
        replication=maybe(rng, list(Replication)),
        checksum=maybe(rng, list(Checksum)),
        compression=maybe(rng, list(Compression)),
        timeout=maybe(rng, [3, 20, 600]),
        exec_path=maybe(rng, PATHS),
        metaflush=maybe_bool(rng),
        nodes=tuple(
            HastNodeSection(
                node=rng.choice(WORDS),
                control=maybe(rng, ["/var/run/c1", "uds:///c2"]),
                pidfile=maybe(rng, PATHS),
                listen=tuple(rng.choice(ADDRESSES) for _ in range(rng.randint(0, 2))),
            )
            for _ in range(rng.randint(0, 3))
        ),
        resources=tuple(
            random_resource(rng, rng.choice(["test", "shared", "tank", "r1"]))
            for _ in range(rng.randint(0, 4))
        ),
    )


def scramble(text: str, rng: random.Random) -> str:
    """Same tokens, other layout: random blanks, newlines, comments and skipped `;`."""
    separators = [" ", "\t", "\n", "  \n\t", " # comment\n", ";", "\r\n"]
    pieces = [token.text for token in tokenize(text)][:-1]
    return "".join(piece + rng.choice(separators) for piece in pieces)


GENERATED = [random_conf(random.Random(seed)) for seed in range(200)]


def test_generated_set_covers_every_kind_of_section_and_value():
    assert any(conf.nodes for conf in GENERATED)
    assert any(
        node.remote_address == "none" for c in GENERATED for r in c.resources for node in r.on
    )
    assert any(resource.timeout == 0 for c in GENERATED for resource in c.resources)
    assert {conf.replication for conf in GENERATED} >= set(Replication)


@pytest.mark.parametrize("seed", range(len(GENERATED)))
def test_generated_config_round_trips_through_render_and_parse(seed):
    conf = GENERATED[seed]
    rendered = render_hast_conf(conf)
    assert parse_hast_conf(rendered) == conf
    assert render_hast_conf(parse_hast_conf(rendered)) == rendered


@pytest.mark.parametrize("seed", range(0, len(GENERATED), 10))
def test_generated_config_parses_the_same_in_any_layout(seed):
    conf = GENERATED[seed]
    scrambled = scramble(render_hast_conf(conf), random.Random(seed))
    assert parse_hast_conf(scrambled) == conf
