"""hast.conf `exec` = carpswitch hast-event on a simulated FreeBSD node: the lab's hastd
runs it on every role change; a split-brain event (fired as hastd's secondary worker fires
it, carpswitch.lab.hastd.hooks) keeps the group from automatic promotion until
`carpswitch split-brain clear`, and `carpswitch clear` does not lift it.

An induced split-brain between two replicating hastds needs two network namespaces (the
cluster tier); here the hook is fired exactly as the worker would fire it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from carpswitch.engine.hastevents import HastEventLog
from carpswitch.engine.splitbrain import SplitBrainMarks
from carpswitch.lab.hastd import hooks
from carpswitch.lab.node import LabNode
from tests.node.conftest import wait_until
from tests.node.test_hardening_state import FAST, carpswitch

pytestmark = pytest.mark.node


def with_exec(node: LabNode, tmp_path: Path) -> tuple[Path, Path]:
    """hast.conf `exec` pointing at a two-line wrapper of `carpswitch hast-event` (hastd
    gives the program no options, so the config path is the wrapper's); (config, hook)."""
    config = node.config_path
    config.write_text(config.read_text() + FAST)
    hook = node.path / "carpswitch-hast-event"  # inside the node: hastd's `/` (chroot rule)
    hook.write_text(f'#!/bin/sh\nexec {sys.executable} -m carpswitch -c {config} hast-event "$@"\n')
    hook.chmod(0o755)
    conf = node.paths.hast_conf
    text = conf.read_text()
    conf.write_text(text.replace("\ntimeout ", f"\nexec {hook}\ntimeout ", 1))
    return config, hook


def state_dir(config: Path) -> str:
    from carpswitch.config import load_config

    return load_config(str(config)).paths.state_dir


def settled(logged: list[str]) -> bool:
    """The hooks fired here have ended (failures logged into `logged`)."""
    hooks.check(logged.append)
    return not hooks.running()


def hast_events(config: Path) -> list[tuple[str, str | None, tuple[str, ...]]]:
    return [(e.event, e.resource, e.args) for e in HastEventLog(state_dir(config)).events()]


def test_role_changes_run_the_hook_and_a_split_brain_blocks_automatic_promotion(
    make_lab_node, capsys, tmp_path
):
    node = make_lab_node(carp_state="MASTER", start=False)
    config, hook = with_exec(node, tmp_path)
    node.start()

    assert carpswitch(capsys, config, "promote")[0] == 0
    promoted = [("role", "tank", ("init", "secondary")), ("role", "tank", ("secondary", "primary"))]
    assert wait_until(lambda: len(hast_events(config)) == 2, timeout=10)
    assert hast_events(config) == promoted  # hastd's own calls, in order
    assert carpswitch(capsys, config, "demote")[0] == 0
    assert wait_until(lambda: len(hast_events(config)) == 3, timeout=10)
    assert hast_events(config)[2] == ("role", "tank", ("primary", "secondary"))

    logged: list[str] = []
    hooks.fire(str(hook), logged.append, "split-brain", "tank")  # the secondary worker's call
    marks = SplitBrainMarks(state_dir(config))
    assert wait_until(lambda: marks.read().resources == {"tank"}, timeout=10)
    assert wait_until(lambda: settled(logged), timeout=10)
    assert logged == []  # the hook exited 0

    refusal = "promote storage: refused (split-brain on tank: run carpswitch split-brain status"
    code, out = carpswitch(capsys, config, "reconcile")
    assert code == 1 and out.startswith(refusal)
    assert node.role("tank") == "secondary"  # CARP MASTER, and still not promoted
    _, out = carpswitch(capsys, config, "status")
    assert (
        "not primary: group storage: CARP MASTER but tank secondary: "
        "split-brain on tank: run carpswitch split-brain status"
    ) in out
    _, out = carpswitch(capsys, config, "history", "--json", "-n", "1")
    last = json.loads(out.splitlines()[-1])
    assert (last["kind"], last["outcome"]) == ("promote", "refused")

    assert carpswitch(capsys, config, "promote")[1].startswith(refusal)  # without --force
    assert node.role("tank") == "secondary"
    carpswitch(capsys, config, "clear")  # the hold's business, not the mark's
    assert marks.read().resources == {"tank"}

    assert carpswitch(capsys, config, "promote", "--force")[0] == 0  # the admin decides
    assert node.role("tank") == "primary"
    assert marks.read().resources == {"tank"}  # and the mark stays
    assert carpswitch(capsys, config, "reconcile")[0] == 0
    assert node.role("tank") == "primary"  # left as it is: nothing heals on its own

    assert carpswitch(capsys, config, "split-brain", "clear", "tank") == (
        0,
        "carpswitch: split-brain mark on tank cleared\n"
        "carpswitch: WARNING: split-brain mark on tank cleared by admin\n",
    )
    assert marks.read().resources == frozenset()
    assert wait_until(lambda: len(hast_events(config)) == 5, timeout=10)  # the hook is done
    assert hast_events(config)[3:] == [
        ("split-brain", "tank", ()),
        ("role", "tank", ("secondary", "primary")),
    ]
