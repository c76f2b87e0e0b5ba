"""Issue 8, bad input and intake, against a simulated node through the real CLI and hook.

Items 7 (flapping per vhid), 8 (config parts), 24 (the hook does not swallow a broken
config), 25 (no traceback from a local file), 26 (check catches what breaks at run time),
27 (one-line errors) and 29 (failing conditions back off).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carpswitch.intake.condition import Condition, ConditionFile
from carpswitch.lab.node import LabNode, LabResource
from carpswitch.lab.state import NetworkState, Vhid
from carpswitch.model import TransitionKind
from tests.node.test_intake_helpers import IntakeNode, wait_until

pytestmark = pytest.mark.node


def carpswitch(
    config: Path | str, *args: str, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "carpswitch", "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def add_vhid(node: LabNode, vhid: int, state: str) -> None:
    """Another CARP address on the node's interface (another service's, not carpswitch's)."""
    with node.store.update(NetworkState) as network:
        interface = network.interface(node.facts.interface)
        assert interface is not None
        interface.vhids.append(Vhid(vhid=vhid, state=state, address=f"198.18.0.{100 + vhid}"))


def assert_one_line_each(result: subprocess.CompletedProcess[str]) -> list[str]:
    """No traceback: every line of stderr is a `carpswitch: ...` line."""
    lines = result.stderr.splitlines()
    assert lines, result
    assert "Traceback" not in result.stderr
    assert all(line.startswith("carpswitch: ") for line in lines), result.stderr
    return lines


# --- item 7: flapping is judged per vhid ---------------------------------------------


def test_an_unconfigured_vhid_flapping_does_not_demote_the_healthy_primary(make_lab_node):
    """vhid 2 (not in the config) flapped for 12 s and the primary of vhid 1 was demoted."""
    intake = IntakeNode(make_lab_node(carp_state="MASTER"), settle=0.3, flap_limit=3.0)
    promoted = intake.carpswitch("promote", "storage")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert intake.role() == "primary"
    add_vhid(intake.node, 2, "BACKUP")
    state, deadline = "MASTER", time.monotonic() + 12.0
    events = 0
    while time.monotonic() < deadline:  # well past flap_limit
        intake.node.set_carp(state, vhid=2)
        intake.hook(state, "2@vtnet0")
        state, events = ("BACKUP" if state == "MASTER" else "MASTER"), events + 1
    assert events > 10
    intake.wait_quiet()
    assert intake.role() == "primary"
    assert [r.kind for r in intake.journal()] == [TransitionKind.PROMOTE]
    intake.hook("BACKUP", "1@vtnet0")  # our own vhid's events are still acted on
    intake.node.set_carp("BACKUP")
    intake.hook("BACKUP", "1@vtnet0")
    intake.wait_quiet()
    assert intake.role() == "secondary"


# --- item 24: the devd hook does not swallow a broken config -------------------------


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (('kind = "raw"', 'kind = "ext4"'), "resource[0].kind: expected one of zfs, ufs, raw"),
        (("vhid = 1", "vhid = 0"), "group[0].vhid: expected an integer from 1 to 255, not 0"),
        (("[node]\n", "[node]\nnmae = 1\n"), "node.nmae: unknown key"),
    ],
)
def test_a_config_the_worker_would_refuse_fails_the_hook(make_lab_node, edit, problem):
    node = make_lab_node(carp_state="MASTER")
    intake = IntakeNode(node)
    text = intake.config.read_text()
    assert edit[0] in text
    intake.config.write_text(text.replace(edit[0], edit[1], 1))
    result = intake.carpswitch("MASTER", "1@vtnet0", timeout=30)
    assert result.returncode == 78
    (line,) = assert_one_line_each(result)
    assert line.startswith(f"carpswitch: hook MASTER 1@vtnet0: not handled: {intake.config}: ")
    assert problem in line
    time.sleep(0.5)
    assert intake.workers() == []  # no worker that would exit 78 unseen
    assert not Path(intake.run_dir, "events").exists() or not os.listdir(
        Path(intake.run_dir, "events")
    )
    assert intake.role() == "init"


def test_a_config_that_is_a_fifo_or_a_device_is_refused_at_once(make_lab_node, tmp_path):
    node = make_lab_node()
    intake = IntakeNode(node)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    for config, status, end in (
        (str(fifo), 78, f"{fifo}: a FIFO, not a regular file"),
        ("/dev/zero", 78, "/dev/zero: a character device, not a regular file"),
        ("", 64, "-c: empty path"),
    ):
        started = time.monotonic()
        result = carpswitch(config, "backup", "1@vtnet0", timeout=30)
        assert time.monotonic() - started < 20  # a FIFO hung the hook in open()
        assert result.returncode == status
        (line,) = assert_one_line_each(result)
        assert line.endswith(end)
    assert intake.workers() == []


def test_bad_hook_arguments_say_so_on_stderr(make_lab_node):
    intake = IntakeNode(make_lab_node())
    result = intake.carpswitch("master", "256@vtnet0", timeout=30)
    assert result.returncode == 64
    (line,) = assert_one_line_each(result)
    assert line.startswith("carpswitch: hook: bad arguments ['master', '256@vtnet0']")


# --- item 25: no traceback from a local file -----------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'[node]\nname = "caf\xe9"\n', "line 2: not UTF-8 text (byte 0xe9)"),
        (b"x = " + b"[" * 50_000 + b"]" * 50_000 + b"\n", "nested too deeply"),
        (b"[node]\nname = hasta\n", "line 2, column 8: not valid TOML: Invalid value"),
        (
            b'[[group]]\nname = "' + b"g" * 5000 + b'"\nvhid = 1\nresources = ["tank"]\n',
            "group[0].name",
        ),
        (b'[paths]\nrun_dir = "/' + b"r" * 200 + b'"\n', "paths.run_dir"),
    ],
)
def test_a_config_no_one_can_use_is_one_line_naming_the_file(tmp_path, content, expected):
    config = tmp_path / "carpswitch.toml"
    config.write_bytes(content)
    for command in (["check"], ["status"], ["backup", "1@vtnet0"]):
        result = carpswitch(config, *command)
        assert result.returncode == 78, (command, result.stderr)
        lines = assert_one_line_each(result)
        assert len(lines) == 1, lines
        assert str(config) in lines[0] and expected in lines[0]


def test_a_hast_conf_that_is_not_utf8_is_read_as_hastd_reads_it(make_lab_node):
    node = make_lab_node()
    hast_conf = node.paths.hast_conf
    hast_conf.write_bytes(b"# r\xe9plication: voir la doc\n" + hast_conf.read_bytes())
    ok = carpswitch(node.config_path, "check")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    hast_conf.write_bytes(hast_conf.read_bytes() + b"\xff\xfe resource \x00 {\n")
    bad = carpswitch(node.config_path, "check")
    assert bad.returncode == 78
    assert "Traceback" not in bad.stderr
    assert f"cannot parse {hast_conf} (line" in bad.stdout


# --- items 8 and 26: check catches what breaks at run time ---------------------------


def lab_config(node: LabNode, old: str, new: str) -> Path:
    text = node.config_path.read_text()
    assert old in text
    node.config_path.write_text(text.replace(old, new, 1))
    return node.config_path


def test_check_refuses_a_hook_that_cannot_run(make_lab_node, tmp_path):
    node = make_lab_node()
    hook = tmp_path / "pre-promote"
    hook.write_text("#!/bin/sh\nexit 0\n")  # mode 0644: every promotion would fail
    config = lab_config(node, "[[group]]", f'[hooks]\npre_promote = "{hook}"\n\n[[group]]')
    result = carpswitch(config, "check")
    assert result.returncode == 78
    assert result.stdout.splitlines() == [
        f"carpswitch: hooks.pre_promote: {hook} is not an executable file"
    ]
    hook.chmod(0o755)
    assert carpswitch(config, "check").returncode == 0


def test_check_refuses_a_service_rc_d_does_not_know(make_lab_node):
    node = make_lab_node(services=["ctld"])
    assert carpswitch(node.config_path, "check").returncode == 0
    config = lab_config(node, 'services = ["ctld"]', 'services = ["ctdl"]')
    result = carpswitch(config, "check")
    assert result.returncode == 78
    (line,) = result.stdout.splitlines()
    assert line.startswith("carpswitch: group 'storage': service ctdl: ")
    assert "does not exist" in line


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "[commands]\n",
            '[commands]\nhastclt = "/sbin/hastctl"\n',
            "commands.hastclt: unknown command",
        ),
        ("vhid = 1", "vhid = true", "group[0].vhid: expected an integer from 1 to 255, not true"),
        ("state_dir = ", 'state_dir = ""  # was ', "paths.state_dir: expected an absolute path"),
        ("[[group]]", "[intake]\nsettle = 1e308\n\n[[group]]", "intake.settle: expected seconds"),
        ("[[group]]", "[timeouts]\nrole = inf\n\n[[group]]", "timeouts.role: expected seconds"),
        ('kind = "raw"', 'kind = "zfs"\npool = "mirror"', "resource[0].pool: expected a pool name"),
    ],
)
def test_check_refuses_values_that_break_at_run_time(make_lab_node, old, new, problem):
    node = make_lab_node()
    config = lab_config(node, old, new)
    result = carpswitch(config, "check")
    assert result.returncode == 78
    (line,) = assert_one_line_each(result)
    assert line.startswith(f"carpswitch: {config}: {problem}")


def test_check_refuses_a_service_in_two_groups(make_lab_node):
    node = make_lab_node(
        resources=[LabResource("tank", "raw"), LabResource("data", "raw")], services=["ctld"]
    )
    config = lab_config(node, 'resources = ["tank", "data"]', 'resources = ["tank"]')
    text = (
        config.read_text()
        + '\n[[group]]\nname = "more"\nvhid = 2\nresources = ["data"]\nservices = ["ctld"]\n'
    )
    config.write_text(text)
    result = carpswitch(config, "check")
    assert result.returncode == 78
    (line,) = assert_one_line_each(result)
    assert "service 'ctld' is in group 'storage' and 'more'" in line


def test_check_says_when_release_cannot_cover_the_peers_demotion(make_lab_node):
    node = make_lab_node(resources=[LabResource("tank", "ufs")], services=["ctld"])
    assert carpswitch(node.config_path, "check").returncode == 0  # the defaults fit
    config = lab_config(node, "[[group]]", "[timeouts]\nrelease = 30\n\n[[group]]")
    result = carpswitch(config, "check")
    assert result.returncode == 78
    assert result.stdout.splitlines() == [
        "carpswitch: timeouts.release: 30 s is shorter than the peer's worst-case demotion "
        "of group 'storage' (155 s: services 70 s, resource tank 85 s); raise it to at least 155"
    ]


# --- item 29: failing conditions back off ---------------------------------------------


def test_a_missing_hastctl_is_tried_a_few_times_not_twenty(make_lab_node, tmp_path):
    """One event ran 20 failed demotions in 16 s, each trigger longer than the last."""
    node = make_lab_node(carp_state="BACKUP")
    intake = IntakeNode(node, settle=0.2)
    missing = tmp_path / "no" / "hastctl"
    text = intake.config.read_text()
    text = re.sub(r'(?m)^hastctl = ".*"$', f'hastctl = "{missing}"', text)
    intake.config.write_text(text)
    started = time.monotonic()
    intake.hook("BACKUP")
    condition = ConditionFile(intake.run_dir)
    assert wait_until(lambda: (condition.read() or Condition("", 0, 0, 0)).attempts >= 2, 30)
    time.sleep(max(0.0, 16.0 - (time.monotonic() - started)))
    # hastctl cannot run, so HAST cannot be read: nothing is done (item 1), and that is a
    # condition that is retried with a growing interval, not twenty times
    assert intake.journal() == []
    now = condition.read()
    assert now is not None and 2 <= now.attempts <= 6, now
    assert now.failure.startswith("group storage: cannot read hast")
    status = intake.carpswitch("status")
    failing = [line.strip() for line in status.stdout.splitlines() if "failing since" in line]
    assert len(failing) == 1, status.stdout
    assert str(missing) in failing[0]
    for worker in intake.workers():  # the retries go on (up to [intake] timer apart)
        worker.terminate()
    assert wait_until(lambda: not intake.workers(), timeout=30)


def test_a_hast_conf_replaced_by_a_fifo_does_not_hang_check(make_lab_node):
    node = make_lab_node()
    hast_conf = node.paths.hast_conf
    hast_conf.unlink()  # hastd has read it already
    os.mkfifo(hast_conf)
    result = carpswitch(node.config_path, "check", timeout=30)
    assert result.returncode == 78
    assert "Traceback" not in result.stderr
    assert f"carpswitch: cannot read {hast_conf}: a FIFO, not a regular file" in result.stdout
