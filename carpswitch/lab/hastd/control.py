"""Answering hastctl's requests from the resource table (hastd control.c)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from carpswitch.lab.faults import Fault
from carpswitch.lab.hastd.protocol import (
    EHAST_INVALID,
    EHAST_NOENTRY,
    Reply,
    Request,
    ResourceReply,
    Statistics,
)
from carpswitch.lab.hastd.resources import HealthStatus, Resource, ResourceTable, Role
from carpswitch.lab.state import HastKnobState

#: Extent size and keepdirty a worker reports (hast.h defaults).
EXTENT_SIZE = 2 * 1024 * 1024
KEEPDIRTY = 64
#: Request slots of a worker (HAST_HIO_MAX). A running primary's ggate_recv thread (a
#: secondary's recv thread) always holds one while it waits for the next request, so an
#: idle worker shows 255 free; a primary still in init_remote has not started it: 256.
HIO_MAX = 256

FaultLookup = Callable[[str], Fault | None]


def handle(
    request: Request,
    table: ResourceTable,
    knobs: Callable[[], HastKnobState],
    fault_for: FaultLookup,
) -> Reply:
    """The reply to one request (never raises for a well-formed request)."""
    fault = fault_for(f"control {request.cmd}")
    if fault is not None:
        if fault.hang > 0:
            time.sleep(fault.hang)
        if fault.exit is not None:
            return Reply(error=fault.exit)
    if request.cmd == "lab-ping":
        return Reply()
    if request.cmd == "lab-peer":
        return _peer(request, table)
    names = _names(request.resources, table)
    if request.cmd == "setrole":
        return _set_role(request.role, names, table, knobs)
    return Reply(resources=[_report(name, table, knobs()) for name in names])


def _names(requested: list[str], table: ResourceTable) -> list[str]:
    if not requested or requested == ["all"]:
        return table.names()
    return requested


def _set_role(
    role_name: str | None,
    names: list[str],
    table: ResourceTable,
    knobs: Callable[[], HastKnobState],
) -> Reply:
    try:
        role = Role(role_name or "")
    except ValueError:
        return Reply(error=EHAST_INVALID)
    replies = []
    for name in names:
        if table.get(name) is None:
            replies.append(ResourceReply(name=name, error=EHAST_NOENTRY))
            continue
        previous = table.set_role(name, role)
        reply = _report(name, table, knobs())
        replies.append(dataclasses.replace(reply, previous_role=str(previous)))
    return Reply(resources=replies)


def _peer(request: Request, table: ResourceTable) -> Reply:
    if table.replicating:
        return Reply(error=EHAST_INVALID)  # the peer is a real hastd: nothing to steer
    replies = []
    for name in request.resources:
        if table.get(name) is None:
            replies.append(ResourceReply(name=name, error=EHAST_NOENTRY))
            continue
        if request.connected:
            table.connect_peer(name, request.seconds)
        else:
            table.disconnect_peer(name)
        replies.append(ResourceReply(name=name))
    return Reply(resources=replies)


def _report(name: str, table: ResourceTable, knobs: HastKnobState) -> ResourceReply:
    resource = table.get(name)
    if resource is None:
        return ResourceReply(name=name, error=EHAST_NOENTRY)
    config = resource.config
    reply = ResourceReply(
        name=name,
        role=str(resource.role),
        provname=config.provider_name,
        localpath=config.local_path,
        remoteaddr=config.remote_address,
        sourceaddr=config.source_address,
        replication=config.replication,
        workerpid=resource.worker_pid or 0,
    )
    if resource.worker_pid is None:
        return reply  # no worker: hastctl prints zeros and no status
    return _with_worker(reply, resource, knobs, table.replicating)


def _with_worker(
    reply: ResourceReply, resource: Resource, knobs: HastKnobState, replicating: bool
) -> ResourceReply:
    primary = resource.worker_role is Role.PRIMARY
    status = resource.status
    mine = knobs.knobs(resource.config.name)
    if primary and replicating:  # ctrl_thread: complete while both connections exist
        connected = mine.connected_worker == resource.worker_pid
        status = HealthStatus.COMPLETE if connected else HealthStatus.DEGRADED
    in_init_remote = primary and (
        mine.io_blocked_for(time.time(), worker_alive=True) > 0
        or (mine.io_wait_seconds > 0 and mine.io_waits_until is None)
    )
    return dataclasses.replace(
        reply,
        status=None if status is None else str(status),
        extentsize=EXTENT_SIZE,
        keepdirty=KEEPDIRTY if primary else 0,
        dirty=mine.dirty if primary else 0,
        statistics=Statistics(queue_idle=HIO_MAX if in_init_remote else HIO_MAX - 1),
    )
