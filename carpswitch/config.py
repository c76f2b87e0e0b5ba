"""carpswitch.toml: the models, the loader and its error messages.

The file is optional: without it carpswitch works from hast.conf alone (every resource of
this node is `raw`, one group per observed CARP vhid; see carpswitch.topology). Errors name
the file, the key and what was expected, all at once: `PATH: resource[1].pool: ...`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from carpswitch import config_cluster as cluster_rules
from carpswitch import config_rules as rules
from carpswitch import config_values as values
from carpswitch.errors import ConfigError
from carpswitch.strictmodes import check_private_dir
from carpswitch.tomlfile import read_toml

DEFAULT_CONFIG_PATH = "/usr/local/etc/carpswitch.toml"
CONFIG_ENV = "CARPSWITCH_CONFIG"


def _check(check: values.Check) -> AfterValidator:
    """A pydantic validator running one of config_rules' checks (the same words)."""

    def validate(value: Any) -> Any:
        problem = check(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(validate)


def _pattern(pattern: str) -> StringConstraints:
    return StringConstraints(pattern=f"^{pattern}$")


AbsolutePath = Annotated[str, _check(values.absolute_path)]
SocketPath = Annotated[str, _check(values.socket_path)]
Seconds = Annotated[float, Field(gt=0, le=values.MAX_SECONDS, allow_inf_nan=False)]
SecondsOrNone = Annotated[float, Field(ge=0, le=values.MAX_SECONDS, allow_inf_nan=False)]
ResourceName = Annotated[str, _pattern(rules.RESOURCE_PATTERN)]
ServiceName = Annotated[str, _pattern(rules.SERVICE_PATTERN)]
HostAddress = Annotated[str, _check(cluster_rules.host_address)]


class Section(BaseModel):
    """A config table: unknown keys are errors (a typo must not be silently ignored).

    Strict: TOML has types, and `vhid = true` or `settle = "2"` is a mistake, not 1 or 2.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class NodeSection(Section):
    """`[node]`: who this node is in hast.conf."""

    name: Annotated[str, _pattern(rules.NODE_PATTERN)] | None = Field(
        default=None, description="this node's `on` block in hast.conf (default: host name)"
    )
    peer: HostAddress | None = Field(
        default=None, description="the peer's address for its view (default: from [cluster])"
    )
    view_listen: HostAddress | None = Field(
        default=None, description="where this daemon serves its view (default: from [cluster])"
    )


class PathsSection(Section):
    """`[paths]`: FreeBSD defaults; a lab config points them into a simulated node."""

    dev_hast: AbsolutePath = "/dev/hast"
    hast_conf: AbsolutePath = "/etc/hast.conf"
    state_dir: AbsolutePath = "/var/db/carpswitch"
    run_dir: AbsolutePath = "/var/run/carpswitch"
    devd_socket: SocketPath = "/var/run/devd.seqpacket.pipe"
    # What `setup` renders (besides hast_conf and carpswitch.toml itself):
    devd_conf: AbsolutePath = "/usr/local/etc/devd/carpswitch.conf"
    rc_conf_d: AbsolutePath = "/etc/rc.conf.d"  # rc.subr load_rc_config reads NAME here
    loader_conf_d: AbsolutePath = "/boot/loader.conf.d"
    ctl_conf: AbsolutePath = "/etc/ctl.conf"


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

    name: ResourceName
    kind: ResourceKind = Field(ResourceKind.RAW, strict=False)  # TOML gives the word
    pool: Annotated[str, _check(values.pool_name)] | None = None
    mountpoint: AbsolutePath | None = None
    mount_options: list[Annotated[str, _pattern(rules.MOUNT_OPTION_PATTERN)]] = Field(
        default_factory=list
    )
    fsck: FsckPolicy = Field(FsckPolicy.REFUSE, strict=False)

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Self:
        problems = rules.kind_problems(self.kind.value, self.pool, self.mountpoint)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class GroupConfig(Section):
    """`[[group]]`: what one CARP vhid carries."""

    name: Annotated[str, _pattern(rules.GROUP_PATTERN)]
    vhid: int = Field(ge=1, le=cluster_rules.VHID_MAX)
    interface: Annotated[str, _pattern(cluster_rules.INTERFACE_PATTERN)] | None = None
    resources: list[ResourceName] = Field(min_length=1)
    services: list[ServiceName] = Field(default_factory=list)


class TimeoutsSection(Section):
    """`[timeouts]`: seconds each kind of step may take before it counts as failed.

    `release` covers the peer's worst-case demotion of a group with one pool and one
    service under these defaults (210 s: see carpswitch.engine.budget); `check` says when
    a group needs more.
    """

    release: Seconds = Field(300, description="old primary's hastd releases the resource")
    device: Seconds = Field(10, description="/dev/hast/NAME appears")
    role: Seconds = Field(10, description="hastctl role")
    fsck: Seconds = 600
    mount: Seconds = 30
    import_: Seconds = Field(120, alias="import", description="zpool import")
    export: Seconds = Field(60, description="zpool export")
    umount: Seconds = 30
    umount_grace: SecondsOrNone = Field(
        5, description="retry a busy umount this long before umount -f"
    )
    service: Seconds = Field(60, description="service start/stop/reload")
    hook: Seconds = Field(30, description="pre_promote and notify hooks")
    observe: Seconds = Field(10, description="each command that reads state")


class FailoverSection(Section):
    """`[failover]`: how a failed promotion gives the CARP address away."""

    demotion: int = Field(
        240, ge=1, le=rules.DEMOTION_MAX, description="added to net.inet.carp.demotion"
    )
    force_backup: bool = Field(True, description="also `ifconfig IF vhid N state backup`")
    max_failures: int = Field(
        3, ge=1, le=rules.MAX_FAILURES_MAX, description="failed promotions before staying BACKUP"
    )
    failure_window: Seconds = Field(600, description="seconds the failures are counted in")


class IntakeSection(Section):
    """`[intake]`: how CARP events become transitions."""

    settle: SecondsOrNone = Field(
        rules.DEFAULT_SETTLE, description="quiet seconds to wait out flapping first"
    )
    flap_limit: Seconds = Field(
        rules.DEFAULT_FLAP_LIMIT, description="then take the safe side (demote)"
    )
    timer: Seconds = Field(30.0, description="daemon reconciles this often regardless")


class HooksSection(Section):
    """`[hooks]`: programs run around transitions (absolute paths)."""

    pre_promote: AbsolutePath | None = Field(None, description="may veto a promotion")
    notify: AbsolutePath | None = Field(None, description="told every outcome")


class MetricsSection(Section):
    """`[metrics]`: carpswitch.prom for node_exporter's textfile collector.

    Off when `dir` is unset: only the admin knows where node_exporter looks (the FreeBSD
    port's rc.d default is /var/tmp/node_exporter), and a file nobody reads is not written.
    """

    dir: AbsolutePath | None = Field(None, description="node_exporter's textfile directory")


class GuardsSection(Section):
    """`[guards]`: what a node checks before it promotes and while it is primary.

    All off by default: a witness only helps where the admin knows an address both nodes
    should always reach (the default gateway), and self-fencing trades availability for
    safety (a flaky witness takes a healthy primary down), see docs/architecture.md.
    """

    witnesses: list[HostAddress] = Field(
        default_factory=list, max_length=rules.WITNESSES_MAX, description="addresses to ping"
    )
    witness_timeout: int = Field(
        1, ge=1, le=rules.WITNESS_TIMEOUT_MAX, description="seconds each ping waits (ping -t)"
    )
    witness_grace: SecondsOrNone = Field(
        6.0, description="a primary self-fences only after every witness was lost this long"
    )
    self_fence: bool = Field(False, description="a primary that reaches no witness demotes")
    peer_view: bool = Field(False, description="ask the peer's view; watch for two primaries")
    view_port: int = Field(
        rules.DEFAULT_VIEW_PORT,
        ge=1,
        le=rules.VIEW_PORT_MAX,
        description="the view's port: below 1024, so that only root can listen there",
    )
    view_timeout: Seconds = Field(2.0, description="bound of one question to the peer")
    interval: Seconds = Field(2.0, description="the daemon's look at the guards while MASTER")
    watchdog: int = Field(
        0,
        ge=0,
        le=rules.WATCHDOG_MAX,
        description="seconds: the daemon pats watchdog(4); a silent peer is waited out this long",
    )

    @property
    def enabled(self) -> bool:
        """Whether any guard is configured (the daemon then looks at them)."""
        return bool(self.witnesses) or self.peer_view


CommandName = Annotated[str, _check(values.choice(rules.COMMAND_NAMES))]


class ClusterHost(Section):
    """`[[cluster.host]]`: one of the two nodes (the first is the preferred master)."""

    name: str  # its `on` name in hast.conf ([node].name or its host name)
    address: str  # where HAST replicates to and ssh reaches it
    advskew: int | None = None  # default: DEFAULT_ADVSKEW by position
    carpswitch: str = "carpswitch"  # the carpswitch command on that host, run over ssh
    ssh_user: str = "root"
    ssh_port: int = 22
    control: str | None = None  # hast.conf `on HOST { control }`, only when set
    pidfile: str | None = None
    listen: list[str] = Field(default_factory=list)


class ClusterSsh(Section):
    """`[cluster.ssh]`: how this node's OpenSSH client reaches the peer."""

    identity: str | None = None  # ssh -i
    known_hosts: str | None = None  # -o UserKnownHostsFile
    connect_timeout: int = 10


class ClusterResource(Section):
    """`[[cluster.resource]]`: one HAST resource and its local provider on both nodes."""

    name: str
    zvol: str | None = None  # POOL/VOL, created with `zfs create -V SIZE` when missing
    size: str | None = None  # zfs(8) words: "10G"
    local: str | None = None  # or an existing provider
    iscsi: bool = False  # serve /dev/hast/NAME as a LUN (ctl.conf)

    @property
    def provider(self) -> str:
        """The local provider hast.conf names: /dev/zvol/POOL/VOL or `local`."""
        return f"/dev/zvol/{self.zvol}" if self.zvol is not None else str(self.local)

    @property
    def size_bytes(self) -> int | None:
        """`size` in bytes (None without a zvol)."""
        return None if self.size is None else cluster_rules.zfs_size(self.size)


class ClusterSection(Section):
    """`[cluster]`: both nodes, the CARP address and the resources `setup` renders.

    Checked as a whole by carpswitch.config_cluster (the rules the hook shares) before
    pydantic builds it, so both readers accept and reject alike.
    """

    interface: str
    vhid: int
    address: str  # ADDRESS/PREFIXLEN
    password: str
    advbase: int = cluster_rules.DEFAULT_ADVBASE
    iqn_prefix: str = cluster_rules.DEFAULT_IQN_PREFIX
    hast_exec: str = cluster_rules.DEFAULT_HAST_EXEC  # "" = no `exec` in hast.conf
    hast_timeout: int | None = None  # None = no `timeout`: hastd's 20 s
    host: list[ClusterHost]
    ssh: ClusterSsh = ClusterSsh()
    resource: list[ClusterResource] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _rules(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            problems, _passed = cluster_rules.cluster_problems(_plain(data))
            if problems:
                raise ValueError("; ".join(problems))
        return data

    def advskew(self, host: ClusterHost) -> int:
        """This host's advskew: its own, else 0 for the first host and 100 for the second."""
        if host.advskew is not None:
            return host.advskew
        return cluster_rules.DEFAULT_ADVSKEW[self.host.index(host)]

    def peer(self, host: ClusterHost) -> ClusterHost:
        """The other host."""
        return self.host[1 - self.host.index(host)]

    def host_named(self, name: str) -> ClusterHost | None:
        """The host whose `on` name is `name`, if any."""
        return next((host for host in self.host if host.name == name), None)


def _plain(data: Any) -> Any:
    """Decoded-TOML shapes of models given as values (`ClusterSection(host=[ClusterHost()])`);
    a None is a key TOML would not have written (`hast_timeout=None`: hastd's own)."""
    if isinstance(data, BaseModel):
        return _plain(data.model_dump(exclude_none=True))
    if isinstance(data, Mapping):
        return {key: _plain(value) for key, value in data.items() if value is not None}
    if isinstance(data, list | tuple):
        return [_plain(value) for value in data]
    return data


class Config(Section):
    """The whole of carpswitch.toml."""

    node: NodeSection = NodeSection()
    paths: PathsSection = PathsSection()
    commands: dict[CommandName, AbsolutePath] = Field(default_factory=dict)
    timeouts: TimeoutsSection = TimeoutsSection()
    failover: FailoverSection = FailoverSection()
    hooks: HooksSection = HooksSection()
    metrics: MetricsSection = MetricsSection()
    guards: GuardsSection = GuardsSection()
    intake: IntakeSection = IntakeSection()
    cluster: ClusterSection | None = None
    resource: list[ResourceConfig] = Field(default_factory=list)
    group: list[GroupConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names_are_consistent(self) -> Self:
        problems = rules.across_problems(self.model_dump(by_alias=True))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def _resources_by_name(self) -> dict[str, ResourceConfig]:
        return {r.name: r for r in self.resource}

    def resource_config(self, name: str) -> ResourceConfig:
        """The `[[resource]]` entry for `name`, or the default (`raw`) when there is none."""
        return self._resources_by_name.get(name) or ResourceConfig(name=name)


def config_path(explicit: str | None, environ: Mapping[str, str] | None = None) -> str:
    """Which config file to read: -c PATH, else $CARPSWITCH_CONFIG, else the default.

    An explicit empty path stays empty (and is refused when read): `-c ''` must not
    quietly mean the default file.
    """
    env = os.environ if environ is None else environ
    if explicit is not None:
        return explicit
    return env.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH


def load_config(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config; a missing default file means "hast.conf alone".

    Raises ConfigError (every problem, each prefixed with the file) for a missing explicit
    file, a file that is not a readable regular UTF-8 TOML file, or values that do not
    validate, and UnsafePath (a ConfigError) for a config file, state_dir or run_dir that
    another user owns or can write.
    """
    path = config_path(explicit, environ)
    data = read_toml(path, missing_ok=path == DEFAULT_CONFIG_PATH)
    config = Config() if data is None else parse_config(data, path)
    check_private_dir(config.paths.state_dir)
    check_private_dir(config.paths.run_dir)
    return config


def parse_config(data: Mapping[str, Any], path: str = "carpswitch.toml") -> Config:
    """Validate already-decoded TOML; raise ConfigError listing every problem.

    The problems are config_rules' (the words the devd hook uses too); pydantic then builds
    the typed models and, should it still disagree, its own errors are reported instead.
    """
    problems = rules.config_problems(data)
    if problems:
        raise ConfigError(path, problems)
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
