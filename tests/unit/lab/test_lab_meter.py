"""The lab's fixed-cost mode and command log (carpswitch.lab.meter), on unstarted nodes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from carpswitch.lab.faults import Fault
from carpswitch.lab.meter import log_line, quote
from carpswitch.lab.node import LabError, LabNode, create_node


def run(node: LabNode, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(node.bin / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=30
    )


def logged(node: LabNode) -> list[list[str]]:
    return [line.split(" ") for line in node.command_log.read_text().splitlines()]


def test_plain_words_stay_and_others_are_single_quoted_for_sh() -> None:
    assert quote("net.inet.carp.demotion=-240") == "net.inet.carp.demotion=-240"
    assert quote("") == "''"
    assert quote("a b") == "'a b'"
    assert quote("it's") == "'it'\\''s'"
    assert quote("$HOME") == "'$HOME'"
    assert quote("two\nlines") == "'two\\nlines'"


def test_a_log_line_is_start_elapsed_command_args() -> None:
    line = log_line(1764604606.5, 0.0123456, "hastctl", ["role", "primary", "tank"])
    assert line == "1764604606.500000 0.012346 hastctl role primary tank\n"


def test_a_node_without_meter_logs_nothing(tmp_path: Path) -> None:
    node = create_node(tmp_path / "hasta", start=False)
    result = run(node, "sysctl", "-n", "kern.hostname")
    assert (result.returncode, result.stdout) == (0, "hasta\n")
    assert not node.command_log.exists()
    assert node.facts.command_cost is None


def test_every_call_is_logged_with_its_arguments_and_the_output_is_unchanged(
    tmp_path: Path,
) -> None:
    node = create_node(tmp_path / "hasta", command_log=True, start=False)
    first = run(node, "sysctl", "-n", "kern.hostname")
    second = run(node, "mount", "-p")
    assert (first.returncode, first.stdout, first.stderr) == (0, "hasta\n", "")
    assert (second.returncode, second.stdout) == (0, "/dev/ada0p2\t\t/\t\t\tufs\trw\t\t1 1\n")
    lines = logged(node)
    assert [words[2:] for words in lines] == [["sysctl", "-n", "kern.hostname"], ["mount", "-p"]]
    assert float(lines[0][0]) <= float(lines[1][0])
    assert all(float(words[1]) >= 0 for words in lines)


def test_a_command_cost_pads_each_call_to_at_least_that_time(tmp_path: Path) -> None:
    node = create_node(tmp_path / "hasta", command_cost=0.4, command_log=True, start=False)
    result = run(node, "sysctl", "-n", "kern.hostname")
    assert (result.returncode, result.stdout) == (0, "hasta\n")
    [words] = logged(node)
    assert float(words[1]) >= 0.4


def test_a_failing_fault_keeps_its_exit_status_and_is_logged(tmp_path: Path) -> None:
    node = create_node(tmp_path / "hasta", command_cost=0.2, command_log=True, start=False)
    node.set_faults([Fault(command="mount", args="^-p$", exit=3, stderr="boom\n")])
    result = run(node, "mount", "-p")
    assert (result.returncode, result.stderr) == (3, "boom\n")
    [words] = logged(node)
    assert words[2:] == ["mount", "-p"]
    assert float(words[1]) >= 0.2


def test_a_negative_cost_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="command_cost"):
        create_node(tmp_path / "hasta", command_cost=-1.0, start=False)
