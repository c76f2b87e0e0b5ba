"""carpswitch.toml: the models, the loader and its error messages.

The file is optional: without it carpswitch works from hast.conf alone (every resource of
this node is `raw`, one group per observed CARP vhid; see carpswitch.topology). Errors name
the file, the key and what was expected, all at once: `PATH: resource[1].pool: ...`.
"""

from __future__ import annotations

import os
import tomllib
from collections import Counter
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from carpswitch.errors import ConfigError
from carpswitch.strictmodes import check_config_file, check_private_dir

DEFAULT_CONFIG_PATH = "/usr/local/etc/carpswitch.toml"
CONFIG_ENV = "CARPSWITCH_CONFIG"

# FreeBSD ifnet names: letters, digits, '_' and '.', at most IFNAMSIZ - 1 characters.
INTERFACE_PATTERN = r"^[A-Za-z][A-Za-z0-9_.]{0,14}$"
# What hastd accepts as a resource name (token.l STR).
RESOURCE_PATTERN = r"^[A-Za-z0-9._:\-\[\]/]+$"
SERVICE_PATTERN = r"^[A-Za-z0-9_.\-]+$"


class Section(BaseModel):
    """A config table: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NodeSection(Section):
    """`[node]`: who this node is in hast.conf."""

    name: str | None = Field(
        default=None, description="this node's `on` block in hast.conf (default: host name)"
    )


class PathsSection(Section):
    """`[paths]`: FreeBSD defaults; a lab config points them into a simulated node."""

    dev_hast: str = "/dev/hast"
    hast_conf: str = "/etc/hast.conf"
    state_dir: str = "/var/db/carpswitch"
    run_dir: str = "/var/run/carpswitch"
    devd_socket: str = "/var/run/devd.seqpacket.pipe"


class ResourceKind(StrEnum):
    """What sits on /dev/hast/NAME."""

    ZFS = "zfs"  # a pool: zpool import -f -N -d /dev/hast POOL
    UFS = "ufs"  # a file system: fsck, then mount
    RAW = "raw"  # the device itself is served (e.g. an iSCSI LUN)


class FsckPolicy(StrEnum):
    """What to do when `fsck -p` (preen) fails on a UFS resource."""

    REFUSE = "refuse"  # never mount a file system that failed its check
    PREEN = "preen"  # same as refuse: only a clean preen mounts (kept for readability)
    FULL = "full"  # run `fsck -y` and mount if that succeeds


class ResourceConfig(Section):
    """`[[resource]]`: one HAST resource and what sits on it."""

    name: str = Field(pattern=RESOURCE_PATTERN)
    kind: ResourceKind = ResourceKind.RAW
    pool: str | None = None
    mountpoint: str | None = None
    mount_options: list[str] = Field(default_factory=list)
    fsck: FsckPolicy = FsckPolicy.REFUSE

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Self:
        problems = []
        if self.kind is ResourceKind.ZFS and not self.pool:
            problems.append("kind zfs needs pool = NAME")
        if self.kind is ResourceKind.UFS and not self.mountpoint:
            problems.append("kind ufs needs mountpoint = PATH")
        if self.mountpoint and not self.mountpoint.startswith("/"):
            problems.append(f"mountpoint must be an absolute path, not {self.mountpoint!r}")
        if self.kind is not ResourceKind.ZFS and self.pool:
            problems.append(f"pool is only for kind zfs (this is kind {self.kind})")
        if self.kind is not ResourceKind.UFS and self.mountpoint:
            problems.append(f"mountpoint is only for kind ufs (this is kind {self.kind})")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class GroupConfig(Section):
    """`[[group]]`: what one CARP vhid carries."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    vhid: int = Field(ge=1, le=255)
    interface: str | None = Field(default=None, pattern=INTERFACE_PATTERN)
    resources: list[str] = Field(min_length=1)
    services: list[Annotated[str, Field(pattern=SERVICE_PATTERN)]] = Field(default_factory=list)


class TimeoutsSection(Section):
    """`[timeouts]`: seconds each kind of step may take before it counts as failed."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    release: float = Field(30, gt=0, description="old primary's hastd releases the resource")
    device: float = Field(10, gt=0, description="/dev/hast/NAME appears")
    role: float = Field(10, gt=0, description="hastctl role")
    fsck: float = Field(600, gt=0)
    mount: float = Field(30, gt=0)
    import_: float = Field(120, gt=0, alias="import", description="zpool import")
    export: float = Field(60, gt=0, description="zpool export")
    umount: float = Field(30, gt=0)
    umount_grace: float = Field(
        5, ge=0, description="retry a busy umount this long before umount -f"
    )
    service: float = Field(60, gt=0, description="service start/stop/reload")
    hook: float = Field(30, gt=0, description="pre_promote and notify hooks")
    observe: float = Field(10, gt=0, description="each command that reads state")


class FailoverSection(Section):
    """`[failover]`: how a failed promotion gives the CARP address away."""

    demotion: int = Field(240, ge=1, le=240, description="added to net.inet.carp.demotion")
    force_backup: bool = Field(True, description="also `ifconfig IF vhid N state backup`")
    max_failures: int = Field(3, ge=1, description="failed promotions before staying BACKUP")
    failure_window: float = Field(600, gt=0, description="seconds the failures are counted in")


class IntakeSection(Section):
    """`[intake]`: how CARP events become transitions."""

    settle: float = Field(1.0, ge=0, description="quiet seconds to wait out flapping first")
    flap_limit: float = Field(30.0, gt=0, description="then take the safe side (demote)")
    timer: float = Field(30.0, gt=0, description="daemon reconciles this often regardless")


class HooksSection(Section):
    """`[hooks]`: programs run around transitions (absolute paths)."""

    pre_promote: str | None = Field(None, pattern=r"^/", description="may veto a promotion")
    notify: str | None = Field(None, pattern=r"^/", description="told every outcome")


class Config(Section):
    """The whole of carpswitch.toml."""

    node: NodeSection = NodeSection()
    paths: PathsSection = PathsSection()
    commands: dict[str, str] = Field(default_factory=dict)
    timeouts: TimeoutsSection = TimeoutsSection()
    failover: FailoverSection = FailoverSection()
    hooks: HooksSection = HooksSection()
    intake: IntakeSection = IntakeSection()
    resource: list[ResourceConfig] = Field(default_factory=list)
    group: list[GroupConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names_are_consistent(self) -> Self:
        problems = []
        problems += _duplicates("resource", [r.name for r in self.resource])
        problems += _duplicates("group", [g.name for g in self.group])
        problems += _duplicates("group vhid", [str(g.vhid) for g in self.group])
        claimed: dict[str, str] = {}
        for group in self.group:
            for name in group.resources:
                if name in claimed and claimed[name] != group.name:
                    problems.append(
                        f"resource {name!r} is in group {claimed[name]!r} and {group.name!r}"
                    )
                claimed.setdefault(name, group.name)
        for name, path in self.commands.items():
            if not path.startswith("/"):
                problems.append(f"commands.{name} must be an absolute path, not {path!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def resource_config(self, name: str) -> ResourceConfig:
        """The `[[resource]]` entry for `name`, or the default (`raw`) when there is none."""
        found = next((r for r in self.resource if r.name == name), None)
        return found or ResourceConfig(name=name)


def _duplicates(what: str, names: list[str]) -> list[str]:
    counts = Counter(names)
    return [
        f"{what} {name!r} is defined more than once" for name in sorted(counts) if counts[name] > 1
    ]


def config_path(explicit: str | None, environ: Mapping[str, str] | None = None) -> str:
    """Which config file to read: -c PATH, else $CARPSWITCH_CONFIG, else the default."""
    env = os.environ if environ is None else environ
    return explicit or env.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH


def load_config(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config; a missing default file means "hast.conf alone".

    Raises ConfigError (every problem, each prefixed with the file) for a missing explicit
    file, bad TOML or values that do not validate, and UnsafePath (a ConfigError) for a
    config file, state_dir or run_dir that another user owns or can write.
    """
    path = config_path(explicit, environ)
    file = Path(path)
    if not file.exists():
        if path == DEFAULT_CONFIG_PATH:
            return _private_dirs_checked(Config())
        raise ConfigError(path, ["no such file"])
    check_config_file(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from exc
    except OSError as exc:
        raise ConfigError(path, [f"cannot read: {exc.strerror}"]) from exc
    return _private_dirs_checked(parse_config(data, path))


def _private_dirs_checked(config: Config) -> Config:
    """`config`, once its state_dir and run_dir are safe (carpswitch.statefiles)."""
    check_private_dir(config.paths.state_dir)
    check_private_dir(config.paths.run_dir)
    return config


def parse_config(data: Mapping[str, Any], path: str = "carpswitch.toml") -> Config:
    """Validate already-decoded TOML; raise ConfigError listing every problem."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, [_describe(error) for error in exc.errors()]) from exc


def _describe(error: Mapping[str, Any]) -> str:
    """`resource[1].pool: Field required` from one pydantic error."""
    key = ""
    for part in error["loc"]:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else str(part)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    if error["type"] == "missing":
        message = "required key is missing"
    return f"{key or '(top level)'}: {message}"
