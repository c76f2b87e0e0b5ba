"""The NodeFacts of a lab node `hasta` (peer hastb) at a directory, and running one shim
command in-process with captured output, for unit tests."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from carpswitch.lab.commands import CommandFunction
from carpswitch.lab.context import ShimContext
from carpswitch.lab.facts import NodeFacts


def node_facts(root: Path, pools: tuple[str, ...] = ()) -> NodeFacts:
    """An empty node (no HAST resources), with local pools `pools`."""
    return NodeFacts(
        root=str(root),
        name="hasta",
        peer="hastb",
        hostuuid=str(uuid.uuid4()),
        hostid=1,
        peer_hostid=2,
        freebsd_version=14,
        interface="vtnet0",
        address="198.18.0.1",
        peer_address="198.18.0.2",
        vhid=1,
        vip="198.18.0.100",
        resources=(),
        local_pools=pools,
    )


def run_shim(command: CommandFunction, ctx: ShimContext, *args: str) -> tuple[int, str, str]:
    """`command ARGS` with the context's StringIO output emptied first: (status, out, err)."""
    assert isinstance(ctx.out, io.StringIO) and isinstance(ctx.err, io.StringIO)
    ctx.out.seek(0), ctx.out.truncate(), ctx.err.seek(0), ctx.err.truncate()
    status = command(ctx, list(args))
    return status, ctx.out.getvalue(), ctx.err.getvalue()
