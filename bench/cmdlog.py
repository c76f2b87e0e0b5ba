"""What the commands of a run cost: the lab's command log and the runner's debug lines.

Two sources, both parsed here without I/O:

* the lab node's DIR/var/log/commands.log (node made with `command_log=True`): one line a
  command, `<unix start> <elapsed> <command> <args...>`, timed inside the shim;
* carpswitch's runner at debug (`carpswitch -vv`): `run ARGV: exit N in X.XXX s`, timed by
  the caller around the spawn; the benchmark stamps each line when it reads it (its end).

A transition runs commands in parallel, so "time spent in commands" is the union of their
intervals, not their sum.
"""

from __future__ import annotations

import os
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_RUN_LINE = re.compile(
    r"\brun (?P<argv>.+?): exit (?P<exit>-?\d+|None) in (?P<seconds>\d+(?:\.\d+)?) s"
    r"(?P<timed_out> \(timed out\))?\s*$"
)


@dataclass(frozen=True)
class Command:
    """One command that ran: when it started, how long it took, what it was."""

    start: float
    elapsed: float
    argv: tuple[str, ...]

    @property
    def end(self) -> float:
        return self.start + self.elapsed

    @property
    def name(self) -> str:
        """The command's name (basename of argv[0]): `hastctl`, `mount`, ..."""
        return os.path.basename(self.argv[0]) if self.argv else ""


def parse_command_log(text: str) -> list[Command]:
    """Lines of a lab commands.log; a line that does not parse (cut short) is skipped."""
    commands = []
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) < 3:
            continue
        try:
            start, elapsed = float(parts[0]), float(parts[1])
            argv = tuple(shlex.split(parts[2]))
        except ValueError:
            continue
        if argv:
            commands.append(Command(start, elapsed, argv))
    return commands


def parse_runner_line(line: str, read_at: float) -> Command | None:
    """A runner debug line read at `read_at` (its end), or None if it is not one.

    The argv is as the runner printed it (joined by blanks), so it is split on blanks.
    """
    found = _RUN_LINE.search(line.rstrip("\r\n"))
    if found is None:
        return None
    seconds = float(found["seconds"])
    return Command(read_at - seconds, seconds, tuple(found["argv"].split()))


def parse_runner_lines(lines: Iterable[tuple[float, str]]) -> list[Command]:
    """Every runner debug line among `(read_at, line)` pairs."""
    found = (parse_runner_line(line, at) for at, line in lines)
    return [c for c in found if c is not None]


def pair_up(runner: Sequence[Command], logged: Sequence[Command]) -> list[tuple[Command, Command]]:
    """The same calls seen by the runner and by the shims, paired in order of their argv.

    The runner names a command by its path, the log by its name: both are keyed by
    (name, arguments). A call the log lacks (killed before it could log) stays unpaired.
    """
    waiting: dict[tuple[str, tuple[str, ...]], list[Command]] = {}
    for command in sorted(logged, key=lambda c: c.start):
        waiting.setdefault((command.name, command.argv[1:]), []).append(command)
    pairs = []
    for command in sorted(runner, key=lambda c: c.start):
        queue = waiting.get((command.name, command.argv[1:]))
        if queue:
            pairs.append((command, queue.pop(0)))
    return pairs


def within(commands: Iterable[Command], start: float, end: float) -> list[Command]:
    """Commands that started in [start, end] (those of one run in a shared log)."""
    return [c for c in commands if start <= c.start <= end]


def busy_time(commands: Iterable[Command], start: float, end: float) -> float:
    """Seconds of [start, end] during which at least one of `commands` ran (their union)."""
    spans = sorted((max(c.start, start), min(c.end, end)) for c in commands)
    total = 0.0
    covered_to = start
    for begin, finish in spans:
        begin = max(begin, covered_to)
        if finish > begin:
            total += finish - begin
            covered_to = finish
    return total


def label(command: Command) -> str:
    """What the command does, in its own words: `hastctl role`, `mount -p`, `service onestart`."""
    words = [a for a in command.argv[1:] if not a.startswith("-")]
    name = command.name
    if name in ("hastctl", "zpool", "zfs"):
        # hastctl's -c takes a value: its verb is the first word that is not the value of -c
        args = list(command.argv[1:])
        if "-c" in args and args.index("-c") + 1 < len(args):
            del args[args.index("-c") : args.index("-c") + 2]
        verbs = [a for a in args if not a.startswith("-")]
        return f"{name} {verbs[0]}" if verbs else name
    if name == "service":
        return f"service {words[1]}" if len(words) > 1 else name
    if name == "mount":
        return "mount" if words else "mount (list)" if "-p" not in command.argv else "mount -p"
    if name == "sysctl":
        return "sysctl set" if any("=" in w for w in words) else "sysctl"
    if name == "ifconfig":
        return "ifconfig set" if "state" in words else "ifconfig"
    return name


#: Labels of commands that change the node; every other label only looks.
_CHANGING = frozenset(
    {
        "hastctl role",
        "hastctl create",
        "fsck",
        "mount",
        "umount",
        "zpool import",
        "zpool export",
        "zfs mount",
        "zfs unmount",
        "sysctl set",
        "ifconfig set",
    }
)


def changes_node(command: Command) -> bool:
    """Whether the command changes the node (a role, a mount, a pool, a service, CARP)."""
    key = label(command)
    if key.startswith("service "):
        return not key.endswith("status")
    return key in _CHANGING


def counts(commands: Iterable[Command], ignore: Sequence[str] = ("hastd",)) -> Counter[str]:
    """How often each kind of command ran, by `label` (the lab's own hastd is left out)."""
    return Counter(label(c) for c in commands if c.name not in ignore)
