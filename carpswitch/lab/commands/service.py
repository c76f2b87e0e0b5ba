"""service(8): find the rc.d script (usr.sbin/service/service.sh) and run it with rc.subr.

hastd and the node's registered services have scripts; anything else gets service.sh's
two-line "does not exist" message. What the script then prints is rc_subr's business.
"""

from __future__ import annotations

from carpswitch.lab.commands.rc_subr import run_rc_command
from carpswitch.lab.context import ShimContext
from carpswitch.lab.rcd import LOCAL_RC_D, rc_script
from carpswitch.lab.state import ServiceState


def run(ctx: ShimContext, args: list[str]) -> int:
    """service NAME DIRECTIVE."""
    if len(args) < 2:
        ctx.print()
        ctx.print("Usage:")
        ctx.print("service [-j <jail name or id>] [-v] <rc.d script> start|stop|etc.")
        ctx.print()
        return 1
    name, directive = args[0], args[1]
    if name != "hastd" and name not in ctx.store.read(ServiceState).services:
        ctx.print(f"{name} does not exist in /etc/rc.d or the local startup")
        ctx.print(f"directories ({LOCAL_RC_D}), or is not executable")
        return 1
    return run_rc_command(ctx, rc_script(name), directive)
