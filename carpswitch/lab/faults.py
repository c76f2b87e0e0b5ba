"""The fault plan (DIR/faults.json): make a simulated command fail, hang or babble.

A plan is a JSON list of faults. The first fault whose `command` is the command being run
and whose `args` regex matches (re.search) its arguments joined by single spaces fires:
sleep `hang` seconds, then either print junk and exit 0 (`garbage`), print `stdout` /
`stderr` and exit with `exit`, or (no `exit`) print them and carry on normally. `times`
caps how often a fault fires; the count is kept in the node state under the state lock.

Daemon-side faults use command "hastd" and these argument strings:
`worker primary NAME` / `worker secondary NAME` (a worker starting: `exit` = the worker
exits with that code before creating /dev/hast/NAME, `hang` = it waits that long first,
so a long hang is "the device never appears") and `control CMD` (a hastctl request:
`exit` = hastd answers with that top-level error, `hang` = it answers late).
"""

from __future__ import annotations

import json
import random
import re
import string
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from carpswitch.lab.records import RecordError, bounds, check, dump, dumps, load
from carpswitch.lab.state import FaultCounterState, StateStore


@dataclass(frozen=True, kw_only=True)
class Fault:
    """One entry of the fault plan (checked when built, like the plan file)."""

    command: str
    args: str = ""
    exit: int | None = field(default=None, metadata=bounds(ge=0, le=255))
    stdout: str = ""
    stderr: str = ""
    hang: float = field(default=0.0, metadata=bounds(ge=0.0))
    garbage: bool = False
    times: int | None = field(default=None, metadata=bounds(ge=1))

    def __post_init__(self) -> None:
        if not self.command:
            raise RecordError("command: must not be empty")
        try:
            re.compile(self.args)
        except re.error as exc:
            raise RecordError(f"args is not a valid regular expression: {exc}") from exc
        check(self)

    def matches(self, command: str, args: str) -> bool:
        """True if this fault is about `command` run with `args` (joined by spaces)."""
        return self.command == command and re.search(self.args, args) is not None

    @property
    def key(self) -> str:
        """Stable identity of the fault for its fire counter."""
        return f"{zlib.crc32(dumps(self).encode()):08x}"


def device_never_appears(resource: str) -> Fault:
    """The primary worker of `resource` never creates /dev/hast/<name>."""
    return Fault(command="hastd", args=f"^worker primary {re.escape(resource)}$", hang=86400.0)


def worker_dies(resource: str, exit_code: int = 66, times: int | None = None) -> Fault:
    """The primary worker of `resource` exits with `exit_code` before creating its device."""
    return Fault(
        command="hastd",
        args=f"^worker primary {re.escape(resource)}$",
        exit=exit_code,
        times=times,
    )


class FaultPlanError(Exception):
    """The fault plan file exists but is not a valid plan."""


def load_plan(path: Path) -> list[Fault]:
    """The faults in `path`; an absent file is an empty plan. Raises FaultPlanError."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise FaultPlanError(f"cannot read fault plan {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
        if not isinstance(data, list):
            raise RecordError(f"(plan): expected a list, got {data!r}")
        return [load(Fault, item, str(index)) for index, item in enumerate(data)]
    except ValueError as exc:  # RecordError or invalid JSON
        raise FaultPlanError(f"invalid fault plan {path}: {exc}") from exc


def save_plan(path: Path, faults: list[Fault]) -> None:
    """Write `faults` as the plan at `path`."""
    default = dump(Fault(command="-"))
    data = [
        {
            key: value
            for key, value in dump(fault).items()
            if key == "command" or value != default[key]
        }
        for fault in faults
    ]
    path.write_text(json.dumps(data, indent=2) + "\n")


def take_fault(store: StateStore, plan: list[Fault], command: str, args: str) -> Fault | None:
    """The fault that fires for this call, counting it; None if none applies."""
    candidates = [(i, f) for i, f in enumerate(plan) if f.matches(command, args)]
    if not candidates:
        return None
    with store.update(FaultCounterState) as counters:
        for index, fault in candidates:
            key = f"{index}:{fault.key}"
            fired = counters.fired.get(key, 0)
            if fault.times is not None and fired >= fault.times:
                continue
            counters.fired[key] = fired + 1
            return fault
    return None


@dataclass(frozen=True, kw_only=True)
class FaultOutcome:
    """What the caller must do after a fault's side effects: exit with a code, or go on."""

    exit_code: int | None


def apply_fault(fault: Fault, out: TextIO, err: TextIO) -> FaultOutcome:
    """Perform a fired fault on a command's streams (hang, garbage, texts)."""
    if fault.hang > 0:
        time.sleep(fault.hang)
    if fault.garbage:
        out.write(garbage_text())
        out.flush()
        return FaultOutcome(exit_code=0)
    if fault.stdout:
        out.write(fault.stdout)
        out.flush()
    if fault.stderr:
        err.write(fault.stderr)
        err.flush()
    return FaultOutcome(exit_code=fault.exit)


def garbage_text(lines: int = 4) -> str:
    """Random-looking junk, like a command that prints something unexpected."""
    rng = random.Random(time.time_ns())  # noqa: S311 - not for security
    alphabet = string.ascii_letters + string.digits + string.punctuation + " \t"
    return "".join(
        "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 60))) + "\n"
        for _ in range(lines)
    )


def report_plan_error(error: FaultPlanError, command: str) -> None:
    """Say loudly that a bad plan stopped `command` (tests rely on faults being applied)."""
    sys.stderr.write(f"carpswitch lab: {command}: {error}\n")
