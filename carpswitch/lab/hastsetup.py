"""What hastctl and hastd of a lab node take from hast.conf (via carpswitch.parse.hastconf)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from carpswitch.errors import ParseError
from carpswitch.lab.hastd.resources import ResourceConfig
from carpswitch.parse.hastconf import (
    HastConfError,
    control_socket_path,
    node_names_for_host,
    parse_hast_conf,
    resolve_control_address,
    resolve_pidfile,
    resolve_resources,
)

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


def load_hast_setup(config_path: Path, hostname: str, hostuuid: str, hostid: int) -> HastSetup:
    """Read and resolve hast.conf as `yy_config_parse(path, true)` would on this host."""
    try:
        text = config_path.read_text()
    except OSError as exc:
        raise HastSetupError(
            EX_OSFILE,
            f"Unable to open configuration file {config_path}: {exc.strerror}.",
        ) from exc
    try:
        conf = parse_hast_conf(text, str(config_path))
        names = node_names_for_host(hostname, hostuuid, hostid)
        resolved = resolve_resources(conf, names)
        control = resolve_control_address(conf, names)
        socket_path = control_socket_path(control)
        pidfile = resolve_pidfile(conf, names)
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
        )
        for r in resolved
    )
    return HastSetup(
        config_path=config_path,
        resources=resources,
        control_address=control,
        control_socket=Path(socket_path),
        pidfile=Path(pidfile),
    )
