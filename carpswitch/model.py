"""State models: what carpswitch observes on a node and what a transition records.

Parsers (carpswitch.parse) turn FreeBSD command output into these; the controller decides
from them; `status --json` and the journal serialise them. Field names follow the FreeBSD
admin's words (resource, role, vhid, provider).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def empty_list() -> list[Any]:
    """A new empty list, the models' `default_factory` instead of the builtin `list`.

    pydantic reads every default factory's signature (does it take the validated data?),
    and a builtin's is parsed from its text signature with tokenize, whose first use
    compiles its large pattern: ~8 ms of CPU at the first model of every command.
    """
    return []


class Frozen(BaseModel):
    """Immutable value: observed facts never change after they are read."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- CARP ---------------------------------------------------------------------------------


class CarpState(StrEnum):
    """States of a CARP vhid as ifconfig(8) and devd print them (ip_carp.c carp_states)."""

    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"


class CarpVhid(Frozen):
    """One `carp:` line of `ifconfig IFACE` (plus the FreeBSD 14 `peer` line)."""

    interface: str
    vhid: int = Field(ge=1, le=255)
    state: CarpState
    advbase: int = Field(ge=0, le=255)
    advskew: int = Field(ge=0, le=255)
    peer: str | None = None
    peer6: str | None = None


# --- HAST ---------------------------------------------------------------------------------


class HastRole(StrEnum):
    """Role of a HAST resource (hastd subr.c role2str)."""

    INIT = "init"
    PRIMARY = "primary"
    SECONDARY = "secondary"
    UNKNOWN = "unknown"


class HastStatus(StrEnum):
    """Connection status reported by a running worker; absent (`-`) without a worker."""

    COMPLETE = "complete"
    DEGRADED = "degraded"


class HastReplication(StrEnum):
    """Negotiated replication mode (`hastctl list`)."""

    FULLSYNC = "fullsync"
    MEMSYNC = "memsync"
    ASYNC = "async"
    UNKNOWN = "unknown"


class HastLocalErrors(Frozen):
    """`local errors:` line of `hastctl list`."""

    read: int = 0
    write: int = 0
    delete: int = 0
    flush: int = 0


class HastQueues(Frozen):
    """`queues:` line of `hastctl list` (newer hastctl only)."""

    local: int = 0
    send: int = 0
    recv: int = 0
    done: int = 0
    idle: int = 0


class HastStatistics(Frozen):
    """`statistics:` block of `hastctl list`."""

    reads: int = 0
    writes: int = 0
    deletes: int = 0
    flushes: int = 0
    activemap_updates: int = 0
    local_errors: HastLocalErrors | None = None  # absent in pre-2013 hastctl
    queues: HastQueues | None = None  # absent in pre-2013 hastctl


class HastResource(Frozen):
    """A HAST resource as hastctl reports it.

    `hastctl status` fills name, status, role, local_path and remote_address; `hastctl list`
    fills the rest. `error` is set (and most fields are None) when hastd answered with a
    per-resource error (`ERR1` / `error: 1`, EHAST_NOENTRY = unknown resource).
    `device_present` is not hastctl's: the observer sets it from /dev/hast/NAME.
    """

    name: str
    role: HastRole | None = None
    status: HastStatus | None = None
    local_path: str | None = None
    remote_address: str | None = None
    error: int | None = None
    provider_name: str | None = None
    extent_size: int | None = None
    keepdirty: int | None = None
    source_address: str | None = None
    replication: HastReplication | None = None
    worker_pid: int | None = None
    dirty: int | None = None  # bytes still to synchronise (primary only; 0 when in sync)
    statistics: HastStatistics | None = None
    device_present: bool | None = None


# --- file systems, pools, services -------------------------------------------------------


class Mount(Frozen):
    """One line of `mount -p` (fstab format)."""

    device: str
    mountpoint: str
    fstype: str
    options: tuple[str, ...] = ("rw",)
    dump_freq: int = 0
    pass_number: int = 0


class PoolHealth(StrEnum):
    """`zpool list -o health` values (OpenZFS zpool_state_to_name)."""

    ONLINE = "ONLINE"
    DEGRADED = "DEGRADED"
    FAULTED = "FAULTED"
    OFFLINE = "OFFLINE"
    REMOVED = "REMOVED"
    UNAVAIL = "UNAVAIL"
    SUSPENDED = "SUSPENDED"


class Pool(Frozen):
    """An imported ZFS pool (`zpool list -H -o name,health`)."""

    name: str
    health: PoolHealth


class ServiceStatus(Frozen):
    """Result of `service NAME status` (rc.subr: `NAME is running as pid N.`)."""

    name: str
    running: bool
    pids: tuple[int, ...] = ()


# --- the node as a whole ------------------------------------------------------------------


class NodeState(BaseModel):
    """Everything carpswitch observed on this node at one moment.

    `problems` lists, for people, what could not be observed and what is wrong with the
    configuration. `unreadable` names each fact that could not be read (`carp`,
    `carp IFACE`, `hast`, `mounts`, `pools`, `service NAME`, `demotion`) with the command's
    error: a group that needs one of them is neither promoted nor demoted (decide.py).
    """

    model_config = ConfigDict(extra="forbid")

    node: str
    observed_at: datetime
    carp: list[CarpVhid] = Field(default_factory=empty_list)
    resources: list[HastResource] = Field(default_factory=empty_list)
    mounts: list[Mount] = Field(default_factory=empty_list)
    pools: list[Pool] = Field(default_factory=empty_list)
    services: list[ServiceStatus] = Field(default_factory=empty_list)
    demotion: int | None = None  # net.inet.carp.demotion
    problems: list[str] = Field(default_factory=empty_list)
    unreadable: dict[str, str] = Field(default_factory=dict)

    def resource(self, name: str) -> HastResource | None:
        """The observed resource called `name`, if hastctl reported it."""
        return next((r for r in self.resources if r.name == name), None)

    def vhid(self, vhid: int, interface: str | None = None) -> CarpVhid | None:
        """The observed CARP vhid, optionally on one interface."""
        return next(
            (
                v
                for v in self.carp
                if v.vhid == vhid and (interface is None or v.interface == interface)
            ),
            None,
        )


# --- transitions --------------------------------------------------------------------------


class TransitionKind(StrEnum):
    """What a transition does to a group."""

    PROMOTE = "promote"
    DEMOTE = "demote"


class StepOutcome(StrEnum):
    """How one step ended."""

    OK = "ok"
    NOOP = "noop"  # already in the wanted state: nothing ran
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"  # not run because an earlier step failed
    UNDONE = "undone"  # ran, then rolled back


class StepRecord(Frozen):
    """What a step is, before it runs: printable by `carpswitch plan`."""

    kind: str  # e.g. "wait_release", "hast_role", "fsck", "mount", "service_start"
    description: str
    resource: str | None = None
    timeout: float


class StepResult(Frozen):
    """What a step did: outcome, timings and the command output that matters."""

    step: StepRecord
    outcome: StepOutcome
    started_at: datetime
    ended_at: datetime
    detail: str = ""
    output: str = ""

    @property
    def duration(self) -> float:
        """Seconds the step took."""
        return (self.ended_at - self.started_at).total_seconds()


class TransitionOutcome(StrEnum):
    """How a transition ended."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    NOOP = "noop"
    FAILED = "failed"  # failed; rolled back as far as possible
    REFUSED = "refused"  # not started: the group's configuration has a problem
    UNREAD = "unread"  # stopped before it changed anything: a read failed; look again
    INTERRUPTED = "interrupted"  # found unfinished in the journal after a crash


class TransitionRecord(BaseModel):
    """One journaled transition of one group."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: TransitionKind
    group: str
    trigger: str  # "devd MASTER 1@vtnet0", "admin promote", "boot reconcile", ...
    reason: str
    pid: int | None = None  # the carpswitch process that ran it (crash detection)
    started_at: datetime
    ended_at: datetime | None = None
    outcome: TransitionOutcome = TransitionOutcome.RUNNING
    steps: list[StepResult] = Field(default_factory=empty_list)
    undo: list[StepResult] = Field(default_factory=empty_list)
