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
from typing import Any, ClassVar

from carpswitch import config_cluster as cluster_rules
from carpswitch import config_rules as rules
from carpswitch.config_section import Section, as_toml, field
from carpswitch.errors import ConfigError
from carpswitch.strictmodes import check_private_dir
from carpswitch.tomlfile import read_toml

DEFAULT_CONFIG_PATH = "/usr/local/etc/carpswitch.toml"
CONFIG_ENV = "CARPSWITCH_CONFIG"

# The values' limits are carpswitch.config_rules' (checked before a table is built): the
# annotations below say only what each value is once it passed.


class NodeSection(Section):
    """`[node]`: who this node is in hast.conf."""

    name: str | None = None  # this node's `on` block in hast.conf (default: host name)
    peer: str | None = None  # the peer's address for its view (default: from [cluster])
    view_listen: str | None = None  # where this daemon serves its view (default: [cluster])


class PathsSection(Section):
    """`[paths]`: FreeBSD defaults; a lab config points them into a simulated node."""

    dev_hast: str = "/dev/hast"
    hast_conf: str = "/etc/hast.conf"
    state_dir: str = "/var/db/carpswitch"
    run_dir: str = "/var/run/carpswitch"
    devd_socket: str = "/var/run/devd.seqpacket.pipe"
    # What `setup` renders (besides hast_conf and carpswitch.toml itself):
    devd_conf: str = "/usr/local/etc/devd/carpswitch.conf"
    rc_conf_d: str = "/etc/rc.conf.d"  # rc.subr load_rc_config reads NAME here
    loader_conf_d: str = "/boot/loader.conf.d"
    ctl_conf: str = "/etc/ctl.conf"


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

    name: str
    kind: ResourceKind = ResourceKind.RAW  # TOML gives the word
    pool: str | None = None
    mountpoint: str | None = None
    mount_options: list[str] = field(default_factory=list)
    fsck: FsckPolicy = FsckPolicy.REFUSE

    def _check(self) -> None:
        object.__setattr__(self, "kind", ResourceKind(self.kind))
        object.__setattr__(self, "fsck", FsckPolicy(self.fsck))
        problems = rules.kind_problems(self.kind.value, self.pool, self.mountpoint)
        if problems:
            raise ValueError("; ".join(problems))


class GroupConfig(Section):
    """`[[group]]`: what one CARP vhid carries."""

    name: str
    vhid: int
    interface: str | None = None
    resources: list[str]
    services: list[str] = field(default_factory=list)


class TimeoutsSection(Section):
    """`[timeouts]`: seconds each kind of step may take before it counts as failed.

    `release` covers the peer's worst-case demotion of a group with one pool and one
    service under these defaults (210 s: see carpswitch.engine.budget); `check` says when
    a group needs more.
    """

    _keys: ClassVar[dict[str, str]] = {"import_": "import"}

    release: float = 300  # old primary's hastd releases the resource
    device: float = 10  # /dev/hast/NAME appears
    role: float = 10  # hastctl role
    fsck: float = 600
    mount: float = 30
    import_: float = 120  # zpool import (`import` in the file)
    export: float = 60  # zpool export
    umount: float = 30
    umount_grace: float = 5  # retry a busy umount this long before umount -f
    service: float = 60  # service start/stop/reload
    hook: float = 30  # pre_promote and notify hooks
    observe: float = 10  # each command that reads state


class FailoverSection(Section):
    """`[failover]`: how a failed promotion gives the CARP address away."""

    demotion: int = 240  # added to net.inet.carp.demotion
    force_backup: bool = True  # also `ifconfig IF vhid N state backup`
    max_failures: int = 3  # failed promotions before staying BACKUP
    failure_window: float = 600  # seconds the failures are counted in


class IntakeSection(Section):
    """`[intake]`: how CARP events become transitions."""

    settle: float = rules.DEFAULT_SETTLE  # quiet seconds to wait out flapping first
    flap_limit: float = rules.DEFAULT_FLAP_LIMIT  # then take the safe side (demote)
    timer: float = 30.0  # daemon reconciles this often regardless


class HooksSection(Section):
    """`[hooks]`: programs run around transitions (absolute paths)."""

    pre_promote: str | None = None  # may veto a promotion
    notify: str | None = None  # told every outcome


class MetricsSection(Section):
    """`[metrics]`: carpswitch.prom for node_exporter's textfile collector.

    Off when `dir` is unset: only the admin knows where node_exporter looks (the FreeBSD
    port's rc.d default is /var/tmp/node_exporter), and a file nobody reads is not written.
    """

    dir: str | None = None  # node_exporter's textfile directory


class GuardsSection(Section):
    """`[guards]`: what a node checks before it promotes and while it is primary.

    All off by default: a witness only helps where the admin knows an address both nodes
    should always reach (the default gateway), and self-fencing trades availability for
    safety (a flaky witness takes a healthy primary down), see docs/architecture.md.
    """

    witnesses: list[str] = field(default_factory=list)  # addresses to ping
    witness_timeout: int = 1  # seconds each ping waits (ping -t)
    witness_grace: float = 6.0  # a primary self-fences only after all were lost this long
    self_fence: bool = False  # a primary that reaches no witness demotes
    peer_view: bool = False  # ask the peer's view; watch for two primaries
    view_port: int = rules.DEFAULT_VIEW_PORT  # below 1024: only root can listen there
    view_timeout: float = 2.0  # bound of one question to the peer
    interval: float = 2.0  # the daemon's look at the guards while MASTER
    watchdog: int = 0  # seconds: the daemon pats watchdog(4); a silent peer is waited out

    @property
    def enabled(self) -> bool:
        """Whether any guard is configured (the daemon then looks at them)."""
        return bool(self.witnesses) or self.peer_view


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
    listen: list[str] = field(default_factory=list)


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

    Checked as a whole by carpswitch.config_cluster (the rules the hook shares) when made,
    also when made in code (`ClusterSection(host=[ClusterHost(...)])`, as `setup` does).
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
    resource: list[ClusterResource] = field(default_factory=list)

    def _check(self) -> None:
        problems, _passed = cluster_rules.cluster_problems(as_toml(self))
        if problems:
            raise ValueError("; ".join(problems))

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


class Config(Section):
    """The whole of carpswitch.toml."""

    node: NodeSection = NodeSection()
    paths: PathsSection = PathsSection()
    commands: dict[str, str] = field(default_factory=dict)
    timeouts: TimeoutsSection = TimeoutsSection()
    failover: FailoverSection = FailoverSection()
    hooks: HooksSection = HooksSection()
    metrics: MetricsSection = MetricsSection()
    guards: GuardsSection = GuardsSection()
    intake: IntakeSection = IntakeSection()
    cluster: ClusterSection | None = None
    resource: list[ResourceConfig] = field(default_factory=list)
    group: list[GroupConfig] = field(default_factory=list)

    def _check(self) -> None:
        problems = rules.across_problems(as_toml(self))
        if problems:
            raise ValueError("; ".join(problems))

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

    The problems are config_rules' (the words the devd hook uses too); the typed tables
    are then built from values that passed.
    """
    problems = rules.config_problems(data)
    if problems:
        raise ConfigError(path, problems)
    return _config(data)


#: Tables of the file and the section each is built as.
_TABLES: dict[str, type[Section]] = {
    "node": NodeSection,
    "paths": PathsSection,
    "timeouts": TimeoutsSection,
    "failover": FailoverSection,
    "hooks": HooksSection,
    "metrics": MetricsSection,
    "guards": GuardsSection,
    "intake": IntakeSection,
}
#: Keys whose values are seconds: TOML's integers become floats, as they are read.
_SECONDS = frozenset(rules.TIMEOUT_KEYS) | {
    *("failure_window", "settle", "flap_limit", "timer"),
    *("witness_grace", "view_timeout", "interval"),
}


def _config(data: Mapping[str, Any]) -> Config:
    """The Config of a file that passed config_rules."""
    values: dict[str, Any] = {
        name: _table(section, data[name]) for name, section in _TABLES.items() if name in data
    }
    if "commands" in data:
        values["commands"] = dict(data["commands"])
    if "resource" in data:
        values["resource"] = [_table(ResourceConfig, entry) for entry in data["resource"]]
    if "group" in data:
        values["group"] = [_table(GroupConfig, entry) for entry in data["group"]]
    if "cluster" in data:
        values["cluster"] = _cluster(data["cluster"])
    return Config(**values)


def _table(section: type[Section], table: Mapping[str, Any]) -> Any:
    names = {key: name for name, key in section._keys.items()}
    values = {names.get(key, key): _value(key, value) for key, value in table.items()}
    return section(**values)


def _value(key: str, value: Any) -> Any:
    if key in _SECONDS and isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return list(value)
    return value


def _cluster(table: Mapping[str, Any]) -> ClusterSection:
    values = {key: value for key, value in table.items() if key not in ("host", "ssh", "resource")}
    values["host"] = [_table(ClusterHost, host) for host in table.get("host", [])]
    if "ssh" in table:
        values["ssh"] = _table(ClusterSsh, table["ssh"])
    values["resource"] = [_table(ClusterResource, entry) for entry in table.get("resource", [])]
    return ClusterSection(**{key: _value(key, value) for key, value in values.items()})
