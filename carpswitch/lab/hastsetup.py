"""What hastctl and hastd of a lab node take from hast.conf (via carpswitch.parse.hastconf).

carpswitch.parse.hastconf builds pydantic models, ~0.2 s of CPU on every hastctl call. So
a resolved setup is kept in a cache file (DIR/state/hastsetup.json) with what it was
resolved from, hast.conf's whole text and the host's identity; a call whose text and
identity are the same takes it from there, any other parses again. A hast.conf that does
not parse is never cached: its error is printed on every call, as hastctl does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from carpswitch.lab.hastd.resources import ResourceConfig
from carpswitch.lab.records import dumps, loads

EX_OSFILE = 72
EX_CONFIG = 78


class HastSetupError(Exception):
    """hast.conf cannot be used; `message` is hastd's text, `exit_code` its sysexits code."""

    def __init__(self, exit_code: int, message: str) -> None:
        self.exit_code = exit_code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class HastSetup:
    """hast.conf resolved for this node."""

    config_path: Path
    resources: tuple[ResourceConfig, ...]
    control_address: str
    control_socket: Path
    pidfile: Path
    listen: tuple[str, ...] = ()  # `listen` addresses (hastd binds them when replicating)


@dataclass(frozen=True, kw_only=True)
class _CachedSetup:
    """A resolved setup with what it was resolved from (the cache file's content)."""

    config_path: str
    text: str
    hostname: str
    hostuuid: str
    hostid: int
    resources: tuple[ResourceConfig, ...]
    control_address: str
    control_socket: str
    pidfile: str
    listen: tuple[str, ...] = ()


def load_hast_setup(
    config_path: Path, hostname: str, hostuuid: str, hostid: int, cache: Path | None = None
) -> HastSetup:
    """Read and resolve hast.conf as `yy_config_parse(path, true)` would on this host.

    With `cache`, reuse the setup resolved last time from the same text on the same host.
    """
    try:
        text = config_path.read_text()
    except OSError as exc:
        raise HastSetupError(
            EX_OSFILE,
            f"Unable to open configuration file {config_path}: {exc.strerror}.",
        ) from exc
    source = (str(config_path), text, hostname, hostuuid, hostid)
    if cache is not None:
        cached = _read_cache(cache)
        if cached is not None and _source(cached) == source:
            return HastSetup(
                config_path=config_path,
                resources=cached.resources,
                control_address=cached.control_address,
                control_socket=Path(cached.control_socket),
                pidfile=Path(cached.pidfile),
                listen=cached.listen,
            )
    setup = _resolve(config_path, text, hostname, hostuuid, hostid)
    if cache is not None:
        _write_cache(cache, source, setup)
    return setup


def _source(cached: _CachedSetup) -> tuple[str, str, str, str, int]:
    return (cached.config_path, cached.text, cached.hostname, cached.hostuuid, cached.hostid)


def _read_cache(cache: Path) -> _CachedSetup | None:
    try:
        return loads(_CachedSetup, cache.read_text())
    except (OSError, ValueError):  # absent, or torn by hand: parse again
        return None


def _write_cache(cache: Path, source: tuple[str, str, str, str, int], setup: HastSetup) -> None:
    config_path, text, hostname, hostuuid, hostid = source
    record = _CachedSetup(
        config_path=config_path,
        text=text,
        hostname=hostname,
        hostuuid=hostuuid,
        hostid=hostid,
        resources=setup.resources,
        control_address=setup.control_address,
        control_socket=str(setup.control_socket),
        pidfile=str(setup.pidfile),
        listen=setup.listen,
    )
    temporary = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(dumps(record) + "\n")
        os.replace(temporary, cache)
    except OSError:  # a cache that cannot be written only costs time
        temporary.unlink(missing_ok=True)


def _resolve(config_path: Path, text: str, hostname: str, hostuuid: str, hostid: int) -> HastSetup:
    from carpswitch.errors import ParseError
    from carpswitch.parse.hastconf import (
        HastConfError,
        control_socket_path,
        node_names_for_host,
        parse_hast_conf,
        resolve_control_address,
        resolve_listen,
        resolve_pidfile,
        resolve_resources,
    )

    try:
        conf = parse_hast_conf(text, str(config_path))
        names = node_names_for_host(hostname, hostuuid, hostid)
        resolved = resolve_resources(conf, names)
        control = resolve_control_address(conf, names)
        socket_path = control_socket_path(control)
        pidfile = resolve_pidfile(conf, names)
        listen = resolve_listen(conf, names)
    except ParseError as exc:
        raise HastSetupError(EX_CONFIG, exc.reason) from exc
    except HastConfError as exc:
        raise HastSetupError(EX_CONFIG, str(exc)) from exc
    resources = tuple(
        ResourceConfig(
            name=r.name,
            provider_name=r.provider_name,
            local_path=r.local_path,
            remote_address=r.remote_address,
            source_address=r.source_address,
            replication=str(r.replication),
            timeout=r.timeout,
            exec_path=r.exec_path,
        )
        for r in resolved
    )
    return HastSetup(
        config_path=config_path,
        resources=resources,
        control_address=control,
        control_socket=Path(socket_path),
        pidfile=Path(pidfile),
        listen=listen,
    )
