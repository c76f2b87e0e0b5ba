"""Where everything of one simulated node lives inside its directory."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

#: hast.conf STR tokens allow only these characters (token.l), and the node directory ends up
#: in hast.conf (`control`, `pidfile`, `local`), so it must be made of them.
_HAST_CONF_WORD = re.compile(r"[a-zA-Z0-9.\-_/:\[\]]+")

#: Commands a node provides under DIR/bin.
SHIM_COMMANDS: tuple[str, ...] = (
    "hastctl",
    "hastd",
    "ifconfig",
    "sysctl",
    "mount",
    "umount",
    "fsck",
    "zpool",
    "zfs",
    "service",
    "ping",
    "watchdog",
)

#: Environment variable that marks every long-lived process of a node (daemon, workers,
#: services) with the node directory, so that `LabNode.stop` can find leftovers.
NODE_MARKER_ENV = "CARPSWITCH_LAB_NODE"


def inside_node(root: Path, path: str) -> str:
    """`path` as a program of the node at `root` sees it: the node is a chroot.

    An absolute path already inside the node directory (what lab-made hast.conf files say)
    stays; any other absolute path is taken inside it (`/dev/zvol/tank/v` ->
    `ROOT/dev/zvol/tank/v`), so one FreeBSD-default hast.conf works on every lab node.
    A relative path (hastd's `none`, a bare name) is returned unchanged.
    """
    if not path.startswith("/"):
        return path
    path = os.path.normpath(path)  # a chroot's `..` stops at its root: /../etc is /etc
    path = "/" + path.lstrip("/")  # normpath keeps a leading `//`
    root_text = str(root)
    if path == root_text or path.startswith(root_text.rstrip("/") + "/"):
        return path
    return root_text.rstrip("/") + path


def is_hast_conf_word(text: str) -> bool:
    """True if `text` can be written as one hast.conf word."""
    return _HAST_CONF_WORD.fullmatch(text) is not None


@dataclass(frozen=True)
class NodePaths:
    """Every path of a node directory, derived from its root."""

    root: Path

    @classmethod
    def of(cls, root: Path | str) -> NodePaths:
        """Paths of the node at `root` (made absolute, not resolved through symlinks)."""
        return cls(Path(os.path.abspath(root)))

    @property
    def config(self) -> Path:
        return self.root / "carpswitch.toml"

    @property
    def facts(self) -> Path:
        return self.root / "lab.json"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def hast_conf(self) -> Path:
        return self.etc / "hast.conf"

    @property
    def devd_conf(self) -> Path:
        """/usr/local/etc/devd/carpswitch.conf: the devd rule set-up renders."""
        return self.root / "usr" / "local" / "etc" / "devd" / "carpswitch.conf"

    @property
    def rc_conf_d(self) -> Path:
        """/etc/rc.conf.d: one small rc.conf file per service (rc.subr load_rc_config)."""
        return self.etc / "rc.conf.d"

    @property
    def loader_conf_d(self) -> Path:
        return self.root / "boot" / "loader.conf.d"

    @property
    def ctl_conf(self) -> Path:
        return self.etc / "ctl.conf"

    @property
    def dev(self) -> Path:
        return self.root / "dev"

    @property
    def dev_hast(self) -> Path:
        return self.dev / "hast"

    @property
    def dev_zvol(self) -> Path:
        """/dev/zvol: one directory per local pool, one sparse file per volume."""
        return self.dev / "zvol"

    def zvol(self, dataset: str) -> Path:
        """`/dev/zvol/POOL/VOL` of this node."""
        return self.dev_zvol / dataset

    @property
    def disks(self) -> Path:
        return self.root / "disks"

    @property
    def mnt(self) -> Path:
        return self.root / "mnt"

    @property
    def var_run(self) -> Path:
        return self.root / "var" / "run"

    @property
    def var_log(self) -> Path:
        return self.root / "var" / "log"

    @property
    def command_log(self) -> Path:
        """Where shims log their calls when the node has a command log (lab.meter)."""
        return self.var_log / "commands.log"

    @property
    def control_socket(self) -> Path:
        return self.var_run / "hastctl"

    @property
    def hastd_pidfile(self) -> Path:
        return self.var_run / "hastd.pid"

    @property
    def carpswitch_state_dir(self) -> Path:
        return self.root / "var" / "db" / "carpswitch"

    @property
    def carpswitch_run_dir(self) -> Path:
        return self.var_run / "carpswitch"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def state_lock(self) -> Path:
        return self.state / ".lock"

    @property
    def hast_setup_cache(self) -> Path:
        """hast.conf as hastctl and hastd last resolved it (carpswitch.lab.hastsetup)."""
        return self.state / "hastsetup.json"

    @property
    def faults(self) -> Path:
        return self.root / "faults.json"

    def command(self, name: str) -> Path:
        """The executable shim for a FreeBSD command name."""
        return self.bin / name

    def disk(self, resource: str) -> Path:
        """The local component (sparse image file) of a HAST resource."""
        return self.disks / f"{resource}.img"

    def provider(self, provider_name: str) -> Path:
        """`/dev/hast/<provider_name>` of this node."""
        return self.dev_hast / provider_name

    def service_pidfile(self, service: str) -> Path:
        """`/var/run/<service>.pid` of this node."""
        return self.var_run / f"{service}.pid"

    def directories(self) -> tuple[Path, ...]:
        """Directories a node needs, parents first."""
        return (
            self.root,
            self.bin,
            self.etc,
            self.rc_conf_d,
            self.devd_conf.parent,
            self.loader_conf_d,
            self.dev,
            self.dev_hast,
            self.dev_zvol,
            self.disks,
            self.mnt,
            self.var_run,
            self.var_log,
            self.carpswitch_state_dir,
            self.carpswitch_run_dir,
            self.state,
        )
