"""What hastd on one node makes of a HastConf (sbin/hastd/parse.y).

Every `resolve_*` function first checks the whole file the way hastd and hastctl do when
they load it (both call yy_config_parse), so each raises HastConfError with hastd's text
for a file hastd would refuse on this node, even if the refusal is about another setting.
Checks run in canonical order (global, node sections, resources in order), which is
hastd's order for a file laid out like `render_hast_conf` writes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from carpswitch.parse.hastconf_model import (
    Checksum,
    Compression,
    HastConf,
    HastConfError,
    HastResourceNode,
    HastResourceSection,
    Replication,
    ResolvedResource,
)

# hast.h, sys/syslimits.h, sys/un.h
HAST_ADDRSIZE = 1024
PATH_MAX = 1024
NAME_MAX = 255
SUN_PATH_SIZE = 104

DEFAULT_CONTROL = "uds:///var/run/hastctl"  # HAST_CONTROL, as hast.conf.5 writes it
DEFAULT_PIDFILE = "/var/run/hastd.pid"  # HASTD_PIDFILE
DEFAULT_LISTEN_TCP4 = "tcp4://0.0.0.0:8457"  # HASTD_LISTEN_TCP4
DEFAULT_LISTEN_TCP6 = "tcp6://[::]:8457"  # HASTD_LISTEN_TCP6
DEFAULT_TIMEOUT = 20  # HAST_TIMEOUT
DEFAULT_REPLICATION = Replication.MEMSYNC
DEFAULT_CHECKSUM = Checksum.NONE
DEFAULT_COMPRESSION = Compression.HOLE
DEFAULT_METAFLUSH = True

T = TypeVar("T")

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def node_names_for_host(
    hostname: str, hostuuid: str | None = None, hostid: int | None = None
) -> list[str]:
    """Names an `on` block may use for this host, in hastd's order (parse.y node_names).

    First label of the hostname (if it has a dot), full hostname, kern.hostuuid,
    `hostid<kern.hostid>`. Pass what `hostname`, `sysctl -n kern.hostuuid` and
    `sysctl -n kern.hostid` print.
    """
    names = []
    dot = hostname.find(".")
    if dot > 0:
        names.append(hostname[:dot])
    names.append(hostname)
    if hostuuid is not None:
        names.append(hostuuid)
    if hostid is not None:
        if hostid < 0:
            raise ValueError(f"kern.hostid is unsigned, got {hostid}")
        names.append(f"hostid{hostid}")
    return names


def _is_me(written: str, node_names: Sequence[str]) -> bool:
    """isitme(): exact match, or case-insensitive for the host UUID."""
    return any(
        written == name or (_UUID.fullmatch(name) is not None and written.lower() == name.lower())
        for name in node_names
    )


def c_atoi(value: int) -> int:
    """FreeBSD atoi() of a digit string: (int)strtol(), LP64 (strtol clamps, int wraps)."""
    clamped = min(value, 2**63 - 1) & 0xFFFFFFFF
    return clamped - 2**32 if clamped >= 2**31 else clamped


def _check_timeout(value: int | None) -> None:
    if value is not None and c_atoi(value) <= 0:
        raise HastConfError("Negative or zero timeout.")


def _check_length(value: str | None, size: int, message: str) -> None:
    """hastd copies into a `size`-byte buffer; strlcpy() >= size is an error."""
    if value is not None and len(value) >= size:
        raise HastConfError(message)


@dataclass
class ResolvedNode:
    """What hastd on one node makes of hast.conf (yy_config_parse): one pass, linear.

    Build it with `resolve_node` once and read every field from it; each `resolve_*`
    function below loads the whole file again.
    """

    node_names: Sequence[str]
    control: str | None = None
    pidfile: str | None = None
    listen: list[str] = field(default_factory=list)
    resources: list[ResolvedResource] = field(default_factory=list)
    _names: set[str] = field(default_factory=set)  # resources so far: duplicates in O(1)

    def load(self, conf: HastConf) -> None:
        _check_length(conf.control, HAST_ADDRSIZE, "control argument is too long.")
        _check_length(conf.pidfile, PATH_MAX, "pidfile argument is too long.")
        for address in conf.listen:
            _check_length(address, HAST_ADDRSIZE, "listen argument is too long.")
        _check_timeout(conf.timeout)
        _check_length(conf.exec_path, PATH_MAX, "Exec path is too long.")
        self.listen += conf.listen
        for node in conf.nodes:
            mine = _is_me(node.node, self.node_names)
            if mine:
                _check_length(node.control, HAST_ADDRSIZE, "control argument is too long.")
                _check_length(node.pidfile, PATH_MAX, "pidfile argument is too long.")
                self.control = node.control or self.control
                self.pidfile = node.pidfile or self.pidfile
            for address in node.listen:
                _check_length(address, HAST_ADDRSIZE, "listen argument is too long.")
                if mine:
                    self.listen.append(address)
        for resource in conf.resources:
            self.resources.append(self._resource(conf, resource))
        self.control = self.control or conf.control or DEFAULT_CONTROL
        self.pidfile = self.pidfile or conf.pidfile or DEFAULT_PIDFILE

    def _resource(self, conf: HastConf, resource: HastResourceSection) -> ResolvedResource:
        name = resource.name
        if name in self._names:
            raise HastConfError(f"Resource {name} configured more than once.")
        self._names.add(name)
        _check_length(name, NAME_MAX, "Resource name is too long.")
        _check_timeout(resource.timeout)
        _check_length(resource.exec_path, PATH_MAX, "Exec path is too long.")
        _check_length(resource.provider_name, PATH_MAX, "name argument is too long.")
        _check_length(resource.local_path, PATH_MAX, "local argument is too long.")
        mine = [node for node in resource.on if _is_me(node.node, self.node_names)]
        for node in mine:
            _check_node_lengths(node)
        if not mine:
            raise HastConfError(
                f"No resource {name} configuration for this node "
                f"(acceptable node names: {', '.join(self.node_names)})."
            )
        provider_name = _last(node.provider_name for node in mine)
        local_path = _last(node.local_path for node in mine) or resource.local_path
        remote_address = _last(node.remote_address for node in mine)
        if remote_address is None:
            raise HastConfError(f"Remote address not configured for resource {name}.")
        if local_path is None:
            raise HastConfError(f"Path to local component not configured for resource {name}.")
        metaflush = _last(node.metaflush for node in mine)
        timeout = _first(resource.timeout, conf.timeout)
        return ResolvedResource(
            name=name,
            # The resource-level name goes into a NAME_MAX buffer unchecked: truncated.
            provider_name=provider_name or (resource.provider_name or name)[: NAME_MAX - 1],
            local_path=local_path,
            remote_address=remote_address,
            source_address=_last(node.source_address for node in mine),
            replication=_first(resource.replication, conf.replication) or DEFAULT_REPLICATION,
            checksum=_first(resource.checksum, conf.checksum) or DEFAULT_CHECKSUM,
            compression=_first(resource.compression, conf.compression) or DEFAULT_COMPRESSION,
            timeout=DEFAULT_TIMEOUT if timeout is None else c_atoi(timeout),
            exec_path=_first(resource.exec_path, conf.exec_path),
            metaflush=_first(metaflush, resource.metaflush, conf.metaflush, DEFAULT_METAFLUSH),
        )


def _check_node_lengths(node: HastResourceNode) -> None:
    _check_length(node.provider_name, NAME_MAX, "name argument is too long.")
    _check_length(node.local_path, PATH_MAX, "local argument is too long.")
    _check_length(node.remote_address, HAST_ADDRSIZE, "remote argument is too long.")
    _check_length(node.source_address, HAST_ADDRSIZE, "source argument is too long.")


def _last(values: Iterable[T | None]) -> T | None:
    """The last value written (hastd overwrites on every matching statement)."""
    written = [value for value in values if value is not None]
    return written[-1] if written else None


def _first(*values: T | None) -> T | None:
    """The first value written, most specific section first."""
    return next((value for value in values if value is not None), None)


def resolve_node(conf: HastConf, node_names: Sequence[str]) -> ResolvedNode:
    """Everything hastd on the node called `node_names` takes from `conf`.

    Raises HastConfError with hastd's text for a file hastd would refuse on this node.
    `control` and `pidfile` are filled with hastd's defaults when the file sets none.
    """
    node = ResolvedNode(node_names)
    node.load(conf)
    return node


def resolve_resources(conf: HastConf, node_names: Sequence[str]) -> list[ResolvedResource]:
    """The resources hastd runs on the node called `node_names`, in file order."""
    return resolve_node(conf, node_names).resources


def resolve_control_address(conf: HastConf, node_names: Sequence[str]) -> str:
    """hastd's control address on this node: node section > global > default."""
    return resolve_node(conf, node_names).control or DEFAULT_CONTROL


def resolve_pidfile(conf: HastConf, node_names: Sequence[str]) -> str:
    """hastd's pid file on this node: node section > global > default."""
    return resolve_node(conf, node_names).pidfile or DEFAULT_PIDFILE


def resolve_listen(
    conf: HastConf, node_names: Sequence[str], *, inet: bool = True, inet6: bool = True
) -> tuple[str, ...]:
    """Addresses hastd listens on: every global `listen` plus this node's section's.

    hastd keeps file order across both; a HastConf keeps global ones first. With none
    written, hastd listens on tcp4 and tcp6 wildcards if the kernel has the family
    (`inet`, `inet6`).
    """
    written = tuple(resolve_node(conf, node_names).listen)
    if written:
        return written
    defaults = (DEFAULT_LISTEN_TCP4,) * inet + (DEFAULT_LISTEN_TCP6,) * inet6
    if not defaults:
        raise HastConfError("No address to listen on.")
    return defaults


def control_socket_path(address: str) -> str:
    """The file system path of a UNIX-domain control address (proto_uds.c uds_addr).

    Accepts `uds://PATH` and `unix://PATH` (prefix case-insensitive) and a bare path
    starting with `/` without `://`; anything else is another protocol (e.g. tcp).
    """
    for prefix in ("uds://", "unix://"):
        if address[: len(prefix)].lower() == prefix:
            path = address[len(prefix) :]
            break
    else:
        if not address.startswith("/") or "://" in address:
            raise HastConfError(
                f"Control address {address} is not a UNIX domain socket address "
                "(uds://PATH, unix://PATH or /PATH)."
            )
        path = address
    if not path:
        raise HastConfError(f"Control address {address} names no socket path.")
    if len(path.encode()) >= SUN_PATH_SIZE:
        raise HastConfError(
            f"Control socket path {path} is too long for a UNIX domain socket "
            f"(at most {SUN_PATH_SIZE - 1} bytes)."
        )
    return path
