"""HAST steps: guard, leave init, wait for release, set role, wait for the provider."""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable, Sequence

from carpswitch.engine.boot import LeftInit, peer_bound, wait_for_peer
from carpswitch.engine.step import (
    BatchedStep,
    Step,
    StepContext,
    StepFailed,
    StepTimedOut,
    wait_until,
)
from carpswitch.errors import CommandError, CommandFailed, ParseError
from carpswitch.model import HastResource, HastRole, StepRecord
from carpswitch.parse.hastctl import parse_role_errors
from carpswitch.system import commands
from carpswitch.system.processes import hastd_pid, hastd_workers
from carpswitch.topology import Group

log = logging.getLogger(__name__)


def hast_resource(ctx: StepContext, name: str, *, live: bool = False) -> HastResource:
    """What hastctl said of `name` in this phase's look (`live`: what it says now, for the
    waits); StepFailed when hastd does not know it."""
    if live:
        found = next((r for r in ctx.observer.hast([name]) if r.name == name), None)
    else:
        found = ctx.look.hast(name)
    if found is None:
        raise StepFailed(f"hastctl does not report resource {name}")
    if found.error:
        raise StepFailed(f"hastd answered error {found.error} for resource {name}")
    return found


class Guard(Step):
    """The resource is in hast.conf and the config, and hastd knows it."""

    changes_node = False
    reads_only = True

    kind = "guard"
    timeout_key = "observe"

    def describe(self) -> str:
        return f"check that {self.resource} is configured here and known to hastd"

    def do(self, ctx: StepContext) -> str:
        assert self.resource is not None
        if self.resource not in ctx.topology.resources:
            raise StepFailed(f"resource {self.resource} is not in hast.conf for this node")
        mine = [p for p in ctx.topology.problems if f"'{self.resource}'" in p]
        if mine:
            raise StepFailed("; ".join(mine))
        role = hast_resource(ctx, self.resource).role
        return f"role {role}"


class LeaveInit(Step):
    """Give a primary peer its chance before any promotion of a resource out of `init`.

    A primary peer cannot connect to `init` (carpswitch.engine.boot), so from `init` the
    resource goes to secondary first; then, and for a resource that left `init` less than
    `peer_bound` ago, the peer gets the rest of that time to connect. A peer that connects
    holds the resource: the step fails, the promotion rolls back and gives the address
    away. Keyed on the resource, not on boot: no read failure, boot-window timing, devd
    event before rc.d or hastd restart can promote `init` straight to primary.
    """

    kind = "leave_init"
    timeout_key = "release"

    def __init__(self, resource: str, group: Group) -> None:
        super().__init__(resource)
        self.group = group

    def describe(self) -> str:
        return (
            f"if {self.resource} is in init (or left it lately): hastctl role secondary, "
            "then give a primary peer time to connect"
        )

    def record(self, ctx: StepContext) -> StepRecord:
        return super().record(ctx).model_copy(update={"timeout": self._bound(ctx)})

    def is_done(self, ctx: StepContext) -> bool:
        assert self.resource is not None
        role = hast_resource(ctx, self.resource).role
        return role is HastRole.PRIMARY or (role is HastRole.SECONDARY and self._left(ctx) is None)

    def do(self, ctx: StepContext) -> str:
        assert self.resource is not None
        name = self.resource
        if hast_resource(ctx, name).role is HastRole.INIT:
            SetRole(name, HastRole.SECONDARY).do(ctx)
            remaining = self._bound(ctx)  # even if the note could not be written
        else:
            left = self._left(ctx)
            remaining = 0.0 if left is None else self._bound(ctx) - left
        if remaining <= 0:
            return "secondary long enough: no primary peer connected"

        def this_resource() -> list[HastResource]:  # the wait polls the live node
            return [r for r in ctx.observer.hast([name]) if r.name == name]

        if wait_for_peer(this_resource, [self.group], remaining, ctx.sleep, ctx.abort.is_set):
            raise StepFailed(
                f"a remote primary connected to {name}: the peer is primary, not promoting"
            )
        return f"no primary peer connected within {remaining:.1f} s"

    def _bound(self, ctx: StepContext) -> float:
        assert self.resource is not None
        resource = ctx.topology.resources.get(self.resource)
        release = ctx.timeout("release")
        return release if resource is None else peer_bound(resource, release)

    def _left(self, ctx: StepContext) -> float | None:
        """Seconds since the resource left init, if that was less than the bound ago."""
        assert self.resource is not None
        left = LeftInit(ctx.config.paths.run_dir).seconds_ago(self.resource)
        return left if left is not None and left < self._bound(ctx) else None


class WaitRelease(Step):
    """Wait until the old primary has let go: no `hastd: NAME (secondary)` worker remains.

    A secondary worker lives while a remote primary is connected (hastd.c listen_accept);
    the FreeBSD scripts wait for it to vanish before promoting. Bounded by `release`.
    """

    changes_node = False
    reads_only = True

    kind = "wait_release"
    timeout_key = "release"

    def describe(self) -> str:
        return f"wait until no 'hastd: {self.resource} (secondary)' worker remains"

    def is_done(self, ctx: StepContext) -> bool:
        assert self.resource is not None
        return hast_resource(ctx, self.resource).role is HastRole.PRIMARY

    def do(self, ctx: StepContext) -> str:
        assert self.resource is not None
        name = self.resource
        timeout = ctx.timeout(self.timeout_key)
        parent = hastd_pid(ctx.topology.hastd_pidfile)

        def workers() -> list[int]:
            return hastd_workers(name, "secondary", parent)

        if not wait_until(lambda: not workers(), timeout, ctx.sleep):
            pids = ", ".join(map(str, workers()))
            raise StepTimedOut(
                f"the old primary still holds {name} after {timeout:g} s "
                f"(secondary worker pid {pids})"
            )
        return "released"


class SetRole(BatchedStep):
    """`hastctl role ROLE NAME...` (role primary is taken back by the demotion's secondary).

    One call for every resource of the group that reaches this step (hastd handles each
    name and answers each; hastctl names the failed ones on stderr): a resource hastd
    answered an error for fails, the others succeed; a call that failed in a way that
    names no resource fails them all. Skipped only when hastctl positively says the
    resource already has the role: `role secondary` is harmless to repeat, and a read that
    fails must never leave a primary. `role secondary` from `init` (or from a role that
    could not be read) is noted in LeftInit, so that a promotion soon after gives the peer
    its chance (LeaveInit).
    """

    kind = "hast_role"
    timeout_key = "role"

    def __init__(self, resource: str, role: HastRole) -> None:
        super().__init__(resource)
        self.role = role

    def describe(self) -> str:
        return f"hastctl role {self.role} {self.resource}"

    def is_done(self, ctx: StepContext) -> bool:
        assert self.resource is not None
        return hast_resource(ctx, self.resource).role is self.role

    def batch_key(self) -> Hashable:
        return (SetRole, self.role)

    def do_batch(self, ctx: StepContext, steps: Sequence[Step]) -> list[str | Exception]:
        names = [step.resource for step in steps if step.resource is not None]
        assert len(names) == len(steps)
        leaving = [n for n in names if self.role is HastRole.SECONDARY and _maybe_init(ctx, n)]
        argv = commands.hastctl_role(ctx.config.paths.hast_conf, self.role, names)
        try:
            result = ctx.runner.run(*argv, timeout=ctx.timeout(self.timeout_key))
        except CommandFailed as exc:
            return _attributed(exc, names)
        except CommandError as exc:
            return [exc] * len(names)
        finally:  # also when hastctl failed: it may have changed the role all the same
            for name in names:
                ctx.look.changed_hast(name)
            for name in leaving:
                _note_left_init(ctx, name)
        text = (result.stdout + result.stderr).strip()
        return [_lines_of(text, name, len(names)) for name in names]


def _attributed(exc: CommandFailed, names: list[str]) -> list[str | Exception]:
    """Each resource's outcome of a `hastctl role` that exited non-zero.

    Only hastctl's own per-resource lines clear a resource: when they name none of the
    call's resources (hastctl failed as a whole) or a name not in the call, all fail.
    """
    errors = parse_role_errors(exc.stderr)
    if not errors or not set(errors) <= set(names):
        return [exc] * len(names)
    return [
        StepFailed(f"hastd answered error {errors[name]} for {name} ({exc.command_line})")
        if name in errors
        else _lines_of(exc.stderr.strip(), name, len(names))
        for name in names
    ]


def _lines_of(text: str, name: str, count: int) -> str:
    """What hastctl printed about `name` (all of it when the call had one resource)."""
    if count == 1:
        return text
    return "\n".join(line for line in text.splitlines() if f"[{name}]" in line)


def _maybe_init(ctx: StepContext, name: str) -> bool:
    """Whether `name` is in init; a role that cannot be read may be init."""
    try:
        return hast_resource(ctx, name).role is HastRole.INIT
    except (CommandError, ParseError, StepFailed):
        return True


def _note_left_init(ctx: StepContext, name: str) -> None:
    """Keep when `name` left init. A note that cannot be written must not stop a demotion:
    it is logged as an error (a promotion soon after would then not wait for the peer)."""
    try:
        LeftInit(ctx.config.paths.run_dir).note(name)
    except OSError as exc:
        log.error("%s left init but that cannot be noted: %s", name, exc)


class WaitDevice(Step):
    """Wait for /dev/hast/NAME: `hastctl role primary` returns before the worker creates it."""

    changes_node = False
    reads_only = True

    kind = "wait_device"
    timeout_key = "device"

    def __init__(self, resource: str, device: str) -> None:
        super().__init__(resource)
        self.device = device

    def describe(self) -> str:
        return f"wait for {self.device}"

    def is_done(self, ctx: StepContext) -> bool:
        return os.path.exists(self.device)

    def do(self, ctx: StepContext) -> str:
        assert self.resource is not None
        timeout = ctx.timeout(self.timeout_key)
        if wait_until(lambda: os.path.exists(self.device), timeout, ctx.sleep):
            return f"{self.device} present"
        role = hast_resource(ctx, self.resource, live=True).role
        raise StepTimedOut(f"{self.device} did not appear within {timeout:g} s (role now {role})")
