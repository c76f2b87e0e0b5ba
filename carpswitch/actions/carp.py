"""CARP steps: give the address away (demotion sysctl, forced backup) and take back the
demotion an earlier failure added."""

from __future__ import annotations

from carpswitch.engine.demotion import take_back
from carpswitch.engine.step import Step, StepContext
from carpswitch.system import commands


class RaiseDemotion(Step):
    """`sysctl net.inet.carp.demotion=+N`: the peer (with preempt) takes the address."""

    kind = "carp_demote"
    timeout_key = "observe"

    def __init__(self, amount: int) -> None:
        super().__init__()
        self.amount = amount

    def describe(self) -> str:
        return f"sysctl {commands.DEMOTION_SYSCTL}={self.amount} (adds {self.amount})"

    def do(self, ctx: StepContext) -> str:
        argv = commands.sysctl_set(commands.DEMOTION_SYSCTL, self.amount)
        return ctx.runner.run(*argv, timeout=ctx.timeout(self.timeout_key)).stdout.strip()


class ForceBackup(Step):
    """`ifconfig IFACE vhid N state backup`: give the address away now."""

    kind = "carp_backup"
    timeout_key = "observe"

    def __init__(self, interface: str, vhid: int) -> None:
        super().__init__()
        self.interface = interface
        self.vhid = vhid

    def describe(self) -> str:
        return f"ifconfig {self.interface} vhid {self.vhid} state backup"

    def do(self, ctx: StepContext) -> str:
        argv = commands.ifconfig_carp_state(self.interface, self.vhid, "backup")
        return ctx.runner.run(*argv, timeout=ctx.timeout(self.timeout_key)).stdout.strip()


class LowerDemotion(Step):
    """Take back the demotion an earlier failed promotion added (`sysctl ...=-N`), never
    more than is there (carpswitch.engine.demotion).

    Undone (what was taken back is added again) when the promotion fails after it: the
    demotion plan does not know about it, and failover.json still remembers it as added.
    """

    kind = "carp_undemote"
    timeout_key = "observe"
    reversible = True

    def __init__(self, amount: int) -> None:
        super().__init__()
        self.amount = amount
        self.taken = 0  # what `do` really took back: what `undo` adds again

    def describe(self) -> str:
        return f"sysctl {commands.DEMOTION_SYSCTL}=-{self.amount} (take back our demotion)"

    def do(self, ctx: StepContext) -> str:
        taken = take_back(ctx.observer, self.amount, ctx.timeout(self.timeout_key))
        self.taken = taken.amount
        return taken.message

    def undo(self, ctx: StepContext) -> str:
        if not self.taken:
            return "nothing to add again: nothing was taken back"
        return RaiseDemotion(self.taken).do(ctx)
