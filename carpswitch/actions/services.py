"""Service steps: start (or reload) the group's rc.d services after a promotion, stop them
before a demotion takes the storage away."""

from __future__ import annotations

from carpswitch.engine.step import Step, StepContext
from carpswitch.errors import CommandError
from carpswitch.system import commands


def service_running(ctx: StepContext, name: str) -> bool:
    """Whether `name` ran when this phase looked (or since a step changed it)."""
    return ctx.look.service(name).running


class StartService(Step):
    """Start a service after promotion, or reload it when it already runs.

    Uses rc.subr's `one` prefix (`onestart`, `onereload`): HA-managed services stay
    disabled in rc.conf so that they do not start at boot on the wrong node. A reload that
    fails becomes a restart. Nothing runs when the service runs and no storage changed.
    The demotion's StopService takes it back.
    """

    kind = "service_start"
    timeout_key = "service"

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def describe(self) -> str:
        return f"service {self.service} onestart (onereload if running)"

    def is_done(self, ctx: StepContext) -> bool:
        return not ctx.changed and service_running(ctx, self.service)

    def do(self, ctx: StepContext) -> str:
        try:
            return self._start(ctx)
        finally:
            ctx.look.changed_service(self.service)

    def _start(self, ctx: StepContext) -> str:
        timeout = ctx.timeout(self.timeout_key)
        if not service_running(ctx, self.service):
            return ctx.runner.run(
                *commands.service(self.service, "onestart"), timeout=timeout
            ).stdout.strip()
        try:
            return ctx.runner.run(
                *commands.service(self.service, "onereload"), timeout=timeout
            ).stdout.strip()
        except CommandError as exc:  # e.g. nfsd: "unknown directive 'reload'." (no reload)
            restarted = ctx.runner.run(
                *commands.service(self.service, "onerestart"), timeout=timeout
            ).stdout.strip()
            return f"onereload failed ({str(exc).splitlines()[0]}); onerestart: {restarted}"


class StopService(Step):
    """`service NAME onestop` before the storage goes away."""

    kind = "service_stop"
    timeout_key = "service"

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def describe(self) -> str:
        return f"service {self.service} onestop"

    def is_done(self, ctx: StepContext) -> bool:
        return not service_running(ctx, self.service)

    def do(self, ctx: StepContext) -> str:
        argv = commands.service(self.service, "onestop")
        try:
            return ctx.runner.run(*argv, timeout=ctx.timeout(self.timeout_key)).stdout.strip()
        finally:
            ctx.look.changed_service(self.service)
