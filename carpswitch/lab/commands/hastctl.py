"""hastctl(8): role, status, list (via the simulated hastd), dump and create (local)."""

from __future__ import annotations

import getopt
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from carpswitch.lab.commands.hastctl_output import USAGE, dump_block, list_block, status_table
from carpswitch.lab.context import ShimContext
from carpswitch.lab.hastd.protocol import (
    ControlConnectError,
    ControlExchangeError,
    Reply,
    Request,
    ResourceReply,
    send_request,
)
from carpswitch.lab.hastsetup import HastSetup, HastSetupError
from carpswitch.lab.node_identity import host_identity, load_setup_for
from carpswitch.lab.paths import inside_node
from carpswitch.lab.state import HastKnobState, ResourceKnobs

EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_UNAVAILABLE = 69
EX_SOFTWARE = 70
EX_OSERR = 71

_OPTIONS = {
    "create": "c:de:k:m:h",
    "role": "c:dh",
    "list": "c:dh",
    "status": "c:dh",
    "dump": "c:dh",
}
_ROLES = ("init", "primary", "secondary")
_SIZE = re.compile(r"(\d+)([kKmMgGtT]?)[bB]?")
#: metadata.c: METADATA_SIZE plus one sector of activemap for a small component.
_METADATA_SIZE = 4096
_SECTOR = 512
DEFAULT_EXTENT_SIZE = 2 * 1024 * 1024
DEFAULT_KEEPDIRTY = 64


class _UsageError(Exception):
    pass


@dataclass
class _Invocation:
    command: str
    config: Path
    debug: int = 0
    names: list[str] = field(default_factory=list)
    extentsize: int = DEFAULT_EXTENT_SIZE
    keepdirty: int = DEFAULT_KEEPDIRTY


def run(ctx: ShimContext, args: list[str]) -> int:
    """hastctl with `args`; returns hastctl's exit status."""
    try:
        invocation = _parse(ctx, args)
    except _UsageError as exc:
        if exc.args:
            ctx.warn(f"hastctl: {exc.args[0]}")
        else:
            ctx.err.write(USAGE)
        return EX_USAGE
    try:
        setup = load_setup_for(
            invocation.config,
            host_identity(ctx.paths),
            ctx.paths.hast_setup_cache,
            root=ctx.paths.root,
        )
    except HastSetupError as exc:
        ctx.warn(f"[ERROR] {exc.message}")
        return exc.exit_code
    if invocation.command == "create":
        return _create(ctx, setup, invocation)
    if invocation.command == "dump":
        return _dump(ctx, setup, invocation)
    if invocation.command == "role":
        if len(invocation.names) < 2 or invocation.names[0] not in _ROLES:
            ctx.err.write(USAGE)
            return EX_USAGE
        request = Request(cmd="setrole", role=invocation.names[0], resources=invocation.names[1:])
    else:
        request = Request(cmd="status", resources=invocation.names or ["all"])
    reply = _ask(ctx, setup, request)
    if isinstance(reply, int):
        return reply
    if reply.error != 0:
        ctx.warn(f"[ERROR] Error {reply.error} received from hastd.")
        return EX_SOFTWARE
    if invocation.command == "role":
        return _report_roles(ctx, reply.resources, invocation.debug)
    if invocation.command == "status":
        ctx.out.write(status_table(reply.resources))
    else:
        ctx.out.write("".join(list_block(r) for r in reply.resources))
    return _first_error(reply.resources)


def _parse(ctx: ShimContext, args: list[str]) -> _Invocation:
    if not args or args[0] not in _OPTIONS:
        raise _UsageError
    command = args[0]
    try:
        options, names = getopt.getopt(args[1:], _OPTIONS[command])
    except getopt.GetoptError as exc:
        raise _UsageError from exc
    invocation = _Invocation(command=command, config=ctx.paths.hast_conf, names=names)
    for option, value in options:
        if option == "-c":
            invocation.config = Path(inside_node(ctx.paths.root, value))
        elif option == "-d":
            invocation.debug += 1
        elif option == "-e":
            invocation.extentsize = _number(value, "extentsize")
        elif option == "-k":
            invocation.keepdirty = _number(value, "keepdirty")
        elif option == "-m":
            _number(value, "mediasize")
        else:
            raise _UsageError
    if command in ("create", "role") and not names:
        raise _UsageError
    return invocation


def _number(text: str, what: str) -> int:
    match = _SIZE.fullmatch(text)
    if match is None:
        raise _UsageError(f"Invalid {what}")
    shift = " KMGT".index(match.group(2).upper() or " ") * 10
    return int(match.group(1)) << shift


def _ask(ctx: ShimContext, setup: HastSetup, request: Request) -> Reply | int:
    address = setup.control_address
    try:
        return send_request(setup.control_socket, request)
    except ControlConnectError as exc:
        ctx.warn(f"[ERROR] Unable to connect to hastd via {address}: {exc.strerror}.")
        return EX_OSERR
    except ControlExchangeError as exc:
        if exc.stage == "send":
            ctx.warn(f"[ERROR] Unable to send command to hastd via {address}: {exc.strerror}.")
        else:
            ctx.warn(f"[ERROR] cannot receive reply from hastd via {address}: {exc.strerror}.")
        return EX_UNAVAILABLE


def _report_roles(ctx: ShimContext, replies: list[ResourceReply], debug: int) -> int:
    for reply in replies:
        if reply.error:
            ctx.warn(f"[WARNING] [{reply.name}] Received error {reply.error} from hastd.")
        elif reply.previous_role != reply.role and debug >= 1:
            ctx.print(
                f"[DEBUG][1] [{reply.name}] Role changed from {reply.previous_role} "
                f"to {reply.role}."
            )
        elif reply.previous_role == reply.role and debug >= 2:
            ctx.print(f"[DEBUG][2] [{reply.name}] Role unchanged ({reply.role}).")
    return _first_error(replies)


def _first_error(replies: list[ResourceReply]) -> int:
    return next((r.error for r in replies if r.error), 0)


def _selected(setup: HastSetup, names: list[str]) -> list[str]:
    if not names or names == ["all"]:
        return [r.name for r in setup.resources]
    return names


#: dump_one returns metadata_read's -1 and control_dump exits with it: exit(-1) is 255.
EX_METADATA_INVALID = 255


def _dump(ctx: ShimContext, setup: HastSetup, invocation: _Invocation) -> int:
    known = {r.name: r for r in setup.resources}
    knobs = ctx.store.read(HastKnobState)
    status = 0
    for name in _selected(setup, invocation.names):
        resource = known.get(name)
        if resource is None:
            ctx.warn(f"[ERROR] Unknown resource {name}.")
            status = status or EX_DATAERR
            continue
        try:
            mediasize = Path(resource.local_path).stat().st_size
        except OSError as exc:
            ctx.warn(f"[ERROR] Unable to open {resource.local_path}: {exc.strerror}.")
            status = status or EX_NOINPUT
            continue
        if name not in knobs.resources:  # never `hastctl create`d: metadata.c's nv_ntoh fails
            ctx.warn(
                f"[ERROR] Metadata read from {resource.local_path} is invalid: Invalid argument."
            )
            status = status or EX_METADATA_INVALID
            continue
        meta = knobs.knobs(name)
        localoff = _METADATA_SIZE + _SECTOR
        ctx.out.write(
            dump_block(
                name,
                datasize=mediasize - localoff,
                extentsize=DEFAULT_EXTENT_SIZE,
                keepdirty=DEFAULT_KEEPDIRTY,
                localoff=localoff,
                resuid=meta.resuid,
                localcnt=meta.localcnt,
                remotecnt=meta.remotecnt,
                prevrole=meta.prevrole,
            )
        )
    return status


def _create(ctx: ShimContext, setup: HastSetup, invocation: _Invocation) -> int:
    """control_create: every name is tried; the exit status is the first error's."""
    known = {r.name: r for r in setup.resources}
    status = 0
    for name in invocation.names:
        resource = known.get(name)
        if resource is None:
            ctx.warn(f"[ERROR] Unknown resource {name}.")
            status = status or EX_DATAERR
            continue
        if not Path(resource.local_path).exists():  # create_one: provinfo, prefix "[name] "
            ctx.warn(
                f"[ERROR] [{name}] Unable to open {resource.local_path}: No such file or directory."
            )
            status = status or EX_NOINPUT
            continue
        with ctx.store.update(HastKnobState) as knobs:
            knobs.resources[name] = ResourceKnobs(
                dirty=knobs.knobs(name).dirty,
                resuid=random.getrandbits(63),
            )
    return status
