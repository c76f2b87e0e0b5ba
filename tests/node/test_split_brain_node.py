"""`split-brain resolve --discard-this` on a simulated FreeBSD node: carpswitch's own
demotion (journaled) before the lab's hastctl role init / create / role secondary."""

from __future__ import annotations

import pytest

from carpswitch.config import load_config
from carpswitch.engine.journal import Journal
from carpswitch.engine.splitbrain import SplitBrainMarks
from carpswitch.exitcodes import ExitCode
from carpswitch.model import TransitionKind, TransitionOutcome
from tests.node.test_hardening_state import FAST, carpswitch

pytestmark = pytest.mark.node


def test_discarding_a_primary_demotes_its_group_first_then_recreates_it(make_lab_node, capsys):
    node = make_lab_node(carp_state="MASTER")
    config = node.config_path
    config.write_text(config.read_text() + FAST)
    state_dir = load_config(str(config)).paths.state_dir
    assert carpswitch(capsys, config, "promote")[0] == ExitCode.OK
    assert node.role("tank") == "primary"
    SplitBrainMarks(state_dir).mark("tank", "e1")
    resuid = node.run("hastctl", "dump", "tank").stdout

    # no [cluster]: the peer cannot be asked; --force goes on and says its mark stays
    code, out = carpswitch(
        capsys, config, "split-brain", "resolve", "tank", "--discard-this", "--yes"
    )
    assert code == ExitCode.UNAVAILABLE and "no [cluster] in carpswitch.toml" in out
    assert node.role("tank") == "primary"  # refused: nothing changed
    code, out = carpswitch(
        capsys, config, "split-brain", "resolve", "tank", "--discard-this", "--yes", "--force"
    )
    assert code == ExitCode.FAILED, out  # resolved, but the peer's mark is not cleared
    assert "its mark stays; run `carpswitch split-brain clear tank` on the peer" in out
    assert node.role("tank") == "secondary"
    assert node.run("hastctl", "dump", "tank").stdout != resuid  # new metadata
    assert SplitBrainMarks(state_dir).read().resources == frozenset()
    demotions = [r for r in Journal(state_dir).records() if r.kind is TransitionKind.DEMOTE]
    assert [(r.trigger, r.outcome) for r in demotions] == [
        ("admin split-brain resolve", TransitionOutcome.SUCCEEDED)
    ]
    ran = [line.split()[1:3] for line in out.splitlines() if line.startswith("running ")]
    assert ran == [["hastctl", "role"], ["hastctl", "create"], ["hastctl", "role"]]
    assert out.index("demoting group storage") < out.index("running hastctl")
