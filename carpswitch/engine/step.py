"""A step: one bounded, idempotent, undoable action of a transition.

The executor knows nothing about HAST: it asks a step whether it is already done
(`is_done` -> NOOP) and runs `do`; `do` may also find out from the command's own answer
that nothing was left to do (AlreadyDone -> NOOP). A failed promotion is taken back by
the group's demotion plan; `undo` is only for the few effects a demotion does not take
back (`reversible`). Steps raise StepFailed (or a CommandError from the runner) to fail; they
never wait longer than their timeout.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from carpswitch.config import Config
from carpswitch.errors import CarpswitchError
from carpswitch.model import NodeState, StepRecord
from carpswitch.system.observe import Observer
from carpswitch.system.runner import CommandRunner
from carpswitch.system.snapshot import Snapshot
from carpswitch.topology import Topology

#: Looks at the node while a fact it needs cannot be read (a reconcile's decision,
#: verify's findings): a read that failed once is not yet a finding.
LOOKS = 3
#: Pause before the second look; it doubles before each further one.
FIRST_PAUSE = 0.5


class StepFailed(CarpswitchError):
    """A step could not reach its goal; the message says why, for the journal."""


class StepTimedOut(StepFailed):
    """A wait ran out of time."""


class AlreadyDone(Exception):
    """Raised by `do` when the command's own answer says the node was already there.

    `umount`'s "not a file system root directory", `zpool export`'s "no such pool": the
    executor journals the step as NOOP (nothing changed), the message as its detail. Steps
    that must not trust an observation (a demotion's storage steps) ask the command instead.
    """


@dataclass
class StepContext:
    """What steps may use: the runner, the config, the topology and a way to observe."""

    runner: CommandRunner
    config: Config
    topology: Topology
    observer: Observer
    abort: threading.Event = field(default_factory=threading.Event)
    sleep: Callable[[float], None] = time.sleep
    changed: bool = False  # set by the executor once a step has changed the node
    #: What this phase saw of the node (carpswitch.system.snapshot); steps decide from it.
    look: Snapshot = field(init=False)

    def __post_init__(self) -> None:
        self.new_phase()

    def new_phase(self, seen: NodeState | None = None) -> None:
        """Start a phase: forget what was seen; `seen` is a look taken just before."""
        self.look = Snapshot(self.observer, seen)

    def timeout(self, key: str) -> float:
        """Timeout in seconds from the config's [timeouts] table."""
        value: float = getattr(self.config.timeouts, key)
        return value


class Step(ABC):
    """Base of every step. Subclasses set `kind` and `timeout_key` and implement `do`."""

    kind: ClassVar[str]
    timeout_key: ClassVar[str]
    reversible: bool = False  # True when `undo` takes back what the demotion does not
    changes_node: ClassVar[bool] = True  # False for checks and waits: they only look
    #: True when the step's only effect is reading the node: a command that fails there
    #: (CommandError, ParseError) means "could not look", not "the node is wrong"
    reads_only: ClassVar[bool] = False

    def __init__(self, resource: str | None = None) -> None:
        self.resource = resource

    @abstractmethod
    def describe(self) -> str:
        """One line for `plan`, the terminal and the journal."""

    def is_done(self, ctx: StepContext) -> bool:
        """True when the node is already where `do` would bring it (then nothing runs).

        In a demotion or a rollback an is_done that raises does not skip the step: the
        executor runs `do` anyway (when in doubt, act).
        """
        return False

    @abstractmethod
    def do(self, ctx: StepContext) -> str:
        """Bring the node one step further; return the output that matters."""

    def undo(self, ctx: StepContext) -> str:
        """Take back what `do` did (only called on rollback, when `reversible`)."""
        return ""

    def record(self, ctx: StepContext) -> StepRecord:
        """The step as data, for the journal and `plan`."""
        return StepRecord(
            kind=self.kind,
            description=self.describe(),
            resource=self.resource,
            timeout=ctx.timeout(self.timeout_key),
        )


class BatchedStep(Step):
    """A step FreeBSD's command does for many resources in one call (`hastctl role R a b`).

    The executor runs the batched steps that the resource chains reach together: each
    looks (`is_done`) on its own, then `do_batch` of the first runs one command for all
    that are not done and says, per step, what came of it (its output, or the error that
    step fails with). Steps batch together when their `batch_key` is equal.
    """

    def batch_key(self) -> Hashable:
        return type(self)

    @abstractmethod
    def do_batch(self, ctx: StepContext, steps: Sequence[Step]) -> list[str | Exception]:
        """Do `steps` (self among them, all with self's batch_key) in one command."""

    def do(self, ctx: StepContext) -> str:
        outcome = self.do_batch(ctx, [self])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    first_interval: float = 0.05,
    longest_interval: float = 1.0,
) -> bool:
    """Poll `condition` with a growing interval until it holds or `timeout` passes.

    Never a fixed sleep: the first checks come fast (a release is usually quick), later
    ones back off to `longest_interval`. Returns whether the condition came true.
    """
    deadline = time.monotonic() + timeout
    interval = first_interval
    while True:
        if condition():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        sleep(min(interval, remaining))
        interval = min(interval * 1.5, longest_interval)
