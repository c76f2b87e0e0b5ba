"""Issue 8 items 12, 14, 15 and 25 (state files) on a simulated FreeBSD node.

State files as a full disk or a stray byte leaves them, a reboot between a failed
promotion and the next one, and a hostile local user (`nobody`) who could write where
carpswitch keeps its config, its state and its locks. The controller runs unchanged,
through its CLI, pointed at the lab's shims by the lab config.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carpswitch.cli import main
from carpswitch.engine.journal import Journal
from carpswitch.lab.faults import device_never_appears
from carpswitch.lab.node import LabNode
from carpswitch.lab.state import SysctlState
from carpswitch.model import TransitionKind, TransitionOutcome, TransitionRecord
from tests.node.test_intake_helpers import IntakeNode, wait_until

pytestmark = pytest.mark.node

NOBODY = 65534
FAST = "\n[timeouts]\nrelease = 1.5\ndevice = 1.5\n\n[failover]\nforce_backup = false\n"


def carpswitch(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str]:
    """Run the CLI in this process; (exit status, stdout + stderr). A traceback fails."""
    capsys.readouterr()
    try:
        code = main(["-c", str(config), *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out + captured.err


def make_primary(node: LabNode) -> None:
    """tank primary with its provider, as a crashed or interrupted demotion leaves it."""
    assert node.run("hastctl", "role", "primary", "tank").returncode == 0
    assert node.wait_for(lambda: node.provider_exists("tank"))


def state_dir(node: LabNode) -> Path:
    return node.paths.carpswitch_state_dir


def run_dir(node: LabNode) -> Path:
    return node.paths.carpswitch_run_dir


# --- item 12: broken state files never stop a demotion or a reconcile --------------


def record(outcome: TransitionOutcome = TransitionOutcome.SUCCEEDED) -> TransitionRecord:
    return TransitionRecord(
        id=os.urandom(6).hex(),
        kind=TransitionKind.DEMOTE,
        group="storage",
        trigger="earlier",
        reason="caf\u00e9 closed",
        started_at=datetime.now(UTC),
        outcome=outcome,
    )


def empty_failure_book(directory: Path) -> str:
    (directory / "failover.json").write_bytes(b"")
    return "held because failover.json is unreadable (empty)"


def stray_byte_in_the_journal(directory: Path) -> str:
    Journal(str(directory)).write(record())
    with (directory / "journal.jsonl").open("ab") as journal:
        journal.write(b"\xff\n")
    return "journal.jsonl:2: not UTF-8 (byte 0): line skipped"


def line_torn_inside_a_character(directory: Path) -> str:
    Journal(str(directory)).write(record())
    line = (record(TransitionOutcome.RUNNING).model_dump_json() + "\n").encode()
    with (directory / "journal.jsonl").open("ab") as journal:
        journal.write(line[: line.index("\u00e9".encode()) + 1])  # the disk was full here
    return "journal.jsonl:2: not UTF-8 (byte"


Corruption = Callable[[Path], str]


@pytest.mark.parametrize(
    "corrupt",
    [empty_failure_book, stray_byte_in_the_journal, line_torn_inside_a_character],
    ids=["empty-failover.json", "0xff-in-journal", "torn-utf8-line"],
)
def test_a_broken_state_file_never_stops_a_demotion_or_a_reconcile(
    make_lab_node, capsys, corrupt: Corruption
):
    node = make_lab_node(carp_state="BACKUP")
    config = node.config_path
    make_primary(node)
    shown = corrupt(state_dir(node))
    code, out = carpswitch(capsys, config, "status")
    assert code == 0 and shown in out, out
    assert carpswitch(capsys, config, "reconcile")[0] == 0
    assert node.role("tank") == "secondary"
    make_primary(node)
    corrupt(state_dir(node))
    assert carpswitch(capsys, config, "demote")[0] == 0
    assert node.role("tank") == "secondary"
    assert carpswitch(capsys, config, "history")[0] == 0
    if corrupt is empty_failure_book:
        kept = sorted(state_dir(node).glob("failover.json.corrupt-*"))
        assert kept and all(k.read_bytes() == b"" for k in kept)
        code, out = carpswitch(capsys, config, "status")
        assert code == 0 and "HELD BACKUP until `carpswitch clear`" in out
        assert f"unreadable state files set aside: {kept[0].name}" in out


@pytest.mark.parametrize(
    "corrupt",
    [empty_failure_book, stray_byte_in_the_journal, line_torn_inside_a_character],
    ids=["empty-failover.json", "0xff-in-journal", "torn-utf8-line"],
)
def test_a_daemon_round_survives_a_broken_state_file(make_lab_node, corrupt: Corruption):
    intake = IntakeNode(make_lab_node(carp_state="BACKUP"), settle=0.2)
    make_primary(intake.node)
    corrupt(Path(intake.state_dir))
    with intake.daemon() as daemon:
        assert wait_until(lambda: intake.role() == "secondary"), intake.daemon_log()
        assert daemon.poll() is None, intake.daemon_log()
        daemon.terminate()
        assert daemon.wait(timeout=30) == 0
    assert "Traceback" not in intake.daemon_log()


# --- item 14: the demotion memory survives only its boot ---------------------------


def set_boottime(node: LabNode, seconds: float) -> None:
    with node.store.update(SysctlState) as sysctls:
        sysctls.boottime_sec = int(seconds)
        sysctls.boottime_usec = int(seconds % 1 * 1_000_000)


def reboot(node: LabNode, kernel_demotion: int) -> None:
    """hastd and the kernel start over (a new boottime), with the kernel's own demotion."""
    node.reboot(carp_state="MASTER")
    with node.store.update(SysctlState) as sysctls:
        sysctls.values["net.inet.carp.demotion"] = kernel_demotion


@pytest.mark.parametrize("kernel_demotion", [0, 240], ids=["none", "link-down"])
def test_a_reboot_voids_what_a_failed_promotion_added(make_lab_node, capsys, kernel_demotion):
    node = make_lab_node(carp_state="MASTER")
    config = node.config_path
    config.write_text(config.read_text() + FAST)
    set_boottime(node, time.time() - 3600)  # booted an hour ago
    node.set_faults([device_never_appears("tank")])
    assert carpswitch(capsys, config, "promote")[0] == 1
    assert node.demotion() == 240
    reboot(node, kernel_demotion)  # e.g. 240 from the kernel itself: a link is down
    node.set_faults([])
    assert carpswitch(capsys, config, "promote")[0] == 0
    assert node.role("tank") == "primary"
    assert node.demotion() == kernel_demotion  # not -240, and the kernel's own is left


# --- item 15: permissions ----------------------------------------------------------


def hostile_hastctl(tmp_path: Path) -> tuple[Path, Path]:
    """A script of `nobody`'s that root must never run; it leaves a mark if it runs."""
    home = tmp_path / "nobody"
    home.mkdir()
    mark = home / "ran-as-root"
    script = home / "hastctl"
    script.write_text(f"#!/bin/sh\ntouch {mark}\n")
    script.chmod(0o755)
    os.chown(home, NOBODY, NOBODY)
    os.chown(script, NOBODY, NOBODY)
    return script, mark


def test_a_config_another_user_can_write_is_refused_by_every_command(
    make_lab_node, capsys, tmp_path
):
    node = make_lab_node(carp_state="MASTER")
    config = node.config_path
    script, mark = hostile_hastctl(tmp_path)
    text = config.read_text().replace(str(node.paths.command("hastctl")), str(script))
    config.write_text(text)
    config.chmod(0o666)  # world-writable: `nobody` made the edit above
    wanted = f"{config}: writable by group and others (mode 0666)"
    for args in (["status"], ["reconcile"], ["promote"], ["demote"], ["master", "1@vtnet0"]):
        code, out = carpswitch(capsys, config, *args)
        assert code == 78, (args, out)
        if args[0] != "master":  # the hook's stderr line comes with item 24
            assert wanted in out, (args, out)
    assert not mark.exists()
    assert node.role("tank") == "init"
    assert not (run_dir(node) / "events").exists()


@pytest.mark.parametrize(
    "make_hostile",
    [
        lambda node: os.chown(state_dir(node), NOBODY, NOBODY),
        lambda node: run_dir(node).chmod(0o777),
        lambda node: os.chown(run_dir(node).parent, NOBODY, NOBODY),
    ],
    ids=["state_dir-owned-by-nobody", "run_dir-world-writable", "parent-owned-by-nobody"],
)
def test_a_state_or_run_dir_another_user_can_write_is_refused(make_lab_node, capsys, make_hostile):
    node = make_lab_node(carp_state="BACKUP")
    make_primary(node)
    make_hostile(node)
    config = node.config_path
    for args in (["reconcile"], ["demote"], ["backup", "1@vtnet0"]):
        assert carpswitch(capsys, config, *args)[0] == 78, args
    code, out = carpswitch(capsys, config, "status")
    assert code == 78
    assert "owned by nobody (uid 65534), not by root" in out or "(mode 0777)" in out, out
    assert node.role("tank") == "primary"  # refused before anything ran
    assert not (state_dir(node) / "journal.jsonl").exists()


def test_symlinks_planted_in_state_and_run_dir_are_never_followed(make_lab_node, capsys):
    intake = IntakeNode(make_lab_node(carp_state="BACKUP"), settle=0.2)
    node = intake.node
    make_primary(node)
    planted = [
        run_dir(node) / "carpswitch.lock",
        run_dir(node) / "intake.lock",
        state_dir(node) / "journal.jsonl",
        state_dir(node) / "failover.json",
    ]
    victims = {}
    for link in planted:
        victim = node.path / f"precious-{link.name}"
        victim.write_text('{"held": false}\n')
        link.symlink_to(victim)
        victims[victim] = victim.read_text()
    assert carpswitch(capsys, intake.config, "reconcile")[0] == 0
    assert node.role("tank") == "secondary"
    assert {v: v.read_text() for v in victims} == victims
    code, out = carpswitch(capsys, intake.config, "status")
    assert code == 0
    assert "held because failover.json was unreadable (a symbolic link (not followed))" in out
    assert carpswitch(capsys, intake.config, "clear")[0] == 0
    intake.node.set_carp("MASTER")
    intake.hook("MASTER")  # a worker, through intake.lock
    intake.wait_quiet()
    assert node.role("tank") == "primary"
    assert {v: v.read_text() for v in victims} == victims
    assert [p.is_file() and not p.is_symlink() for p in planted] == [True] * len(planted)


def test_a_forged_failure_book_cannot_push_the_demotion_below_zero(make_lab_node, capsys):
    node = make_lab_node(carp_state="BACKUP")
    boottime = int(time.time()) - 60
    set_boottime(node, boottime)
    (state_dir(node) / "failover.json").write_text(
        f'{{"demotion_added": 200, "demotion_boottime": {boottime}}}'
    )
    code, out = carpswitch(capsys, node.config_path, "clear")
    assert code == 0, out
    assert "nothing taken back: net.inet.carp.demotion is 0" in out
    assert node.demotion() == 0  # not -200


# --- item 25 (state parts): no traceback from any local file -----------------------


def test_binary_journal_and_pause_files_are_shown_not_tracebacks(make_lab_node, capsys):
    node = make_lab_node(carp_state="MASTER")
    config = node.config_path
    (state_dir(node) / "journal.jsonl").write_bytes(bytes(range(256)) * 16)
    (state_dir(node) / "paused").write_bytes(b"\xfe\xff\x00\x1b[31m")
    code, out = carpswitch(capsys, config, "status")
    assert code == 0, out
    assert "paused: \ufffd\ufffd [31m (observing only" in out
    assert "state file: " in out and "not UTF-8" in out and "line skipped" in out
    code, out = carpswitch(capsys, config, "history")
    assert (code, out.strip().splitlines()[-1]) == (0, "no transitions journaled yet")
    assert carpswitch(capsys, config, "reconcile")[0] == 0
    assert node.role("tank") == "init"  # paused: observe only


@pytest.mark.parametrize("key", ["state_dir", "run_dir"])
def test_a_state_dir_or_run_dir_that_is_a_file_is_one_config_error(make_lab_node, capsys, key):
    node = make_lab_node(carp_state="MASTER")
    directory = state_dir(node) if key == "state_dir" else run_dir(node)
    directory.rmdir()
    directory.write_text("")
    for args in (["status"], ["promote"], ["history"]):
        code, out = carpswitch(capsys, node.config_path, *args)
        assert code == 78, (args, out)
        assert f"{directory}: not a directory" in out
    assert node.role("tank") == "init"


def test_clear_repairs_a_corrupt_failure_book_and_promotions_resume(make_lab_node, capsys):
    node = make_lab_node(carp_state="MASTER")
    config = node.config_path
    (state_dir(node) / "failover.json").write_bytes(b'{"failures": ["2026-')
    code, out = carpswitch(capsys, config, "promote")
    assert code == 1 and "this node stays BACKUP until an admin runs `carpswitch clear`" in out
    assert node.role("tank") == "init"
    code, out = carpswitch(capsys, config, "clear")
    assert code == 0 and "replaced by an empty failure book" in out, out
    code, out = carpswitch(capsys, config, "status")
    assert "HELD" not in out and "failed promotions (window): 0" in out
    assert carpswitch(capsys, config, "promote")[0] == 0
    assert node.role("tank") == "primary"
