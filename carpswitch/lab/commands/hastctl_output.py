"""hastctl's output formats (sbin/hastctl/hastctl.c control_status / control_list / dump)."""

from __future__ import annotations

from carpswitch.lab.hastd.protocol import ResourceReply
from carpswitch.lab.humanize import humanize_bytes

USAGE = (
    "usage: hastctl create [-d] [-c config] [-e extentsize] [-k keepdirty]\n"
    "\t\t[-m mediasize] name ...\n"
    "       hastctl role [-d] [-c config] <init | primary | secondary> all | name ...\n"
    "       hastctl list [-d] [-c config] [all | name ...]\n"
    "       hastctl status [-d] [-c config] [all | name ...]\n"
    "       hastctl dump [-d] [-c config] [all | name ...]\n"
)


def status_table(replies: list[ResourceReply]) -> str:
    """The terse `hastctl status` table (header only when there is a resource)."""
    if not replies:
        return ""
    lines = ["Name\tStatus\t Role\t\tComponents\n"]
    for reply in replies:
        if reply.error:
            lines.append(f"{reply.name}\tERR{reply.error}\n")
            continue
        status = reply.status if reply.status is not None else "-"
        lines.append(
            f"{reply.name}\t{status:<9}{reply.role:<15}{reply.localpath}\t{reply.remoteaddr}\n"
        )
    return "".join(lines)


def list_block(reply: ResourceReply) -> str:
    """The verbose `hastctl list` block of one resource."""
    if reply.error:
        return f"{reply.name}:\n  error: {reply.error}\n"
    stats = reply.statistics
    lines = [
        f"{reply.name}:",
        f"  role: {reply.role}",
        f"  provname: {reply.provname}",
        f"  localpath: {reply.localpath}",
        f"  extentsize: {reply.extentsize} ({humanize_bytes(reply.extentsize)})",
        f"  keepdirty: {reply.keepdirty}",
        f"  remoteaddr: {reply.remoteaddr}",
    ]
    if reply.sourceaddr:
        lines.append(f"  sourceaddr: {reply.sourceaddr}")
    lines.append(f"  replication: {reply.replication}")
    if reply.status is not None:
        lines.append(f"  status: {reply.status}")
    if reply.workerpid != 0:
        lines.append(f"  workerpid: {reply.workerpid}")
    lines += [
        f"  dirty: {reply.dirty} ({humanize_bytes(reply.dirty)})",
        "  statistics:",
        f"    reads: {stats.reads}",
        f"    writes: {stats.writes}",
        f"    deletes: {stats.deletes}",
        f"    flushes: {stats.flushes}",
        f"    activemap updates: {stats.activemap_updates}",
        f"    local errors: read: {stats.local_read_errors}, "
        f"write: {stats.local_write_errors}, delete: {stats.local_delete_errors}, "
        f"flush: {stats.local_flush_errors}",
        f"    queues: local: {stats.queue_local}, send: {stats.queue_send}, "
        f"recv: {stats.queue_recv}, done: {stats.queue_done}, idle: {stats.queue_idle}",
    ]
    return "\n".join(lines) + "\n"


def dump_block(
    name: str,
    datasize: int,
    extentsize: int,
    keepdirty: int,
    localoff: int,
    resuid: int,
    localcnt: int,
    remotecnt: int,
    prevrole: str,
) -> str:
    """`hastctl dump` of one resource's on-disk metadata."""
    return (
        f"resource: {name}\n"
        f"    datasize: {datasize} ({humanize_bytes(datasize)})\n"
        f"    extentsize: {extentsize} ({humanize_bytes(extentsize)})\n"
        f"    keepdirty: {keepdirty}\n"
        f"    localoff: {localoff}\n"
        f"    resuid: {resuid}\n"
        f"    localcnt: {localcnt}\n"
        f"    remotecnt: {remotecnt}\n"
        f"    prevrole: {prevrole}\n"
    )
