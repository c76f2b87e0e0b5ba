"""A node for set-up's unit tests: zfs, hastctl, service and ifconfig with state and
FreeBSD's texts, behind the runner interface (the lab's empty node is the real test)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from carpswitch.config import Config, parse_config
from carpswitch.errors import CommandFailed, CommandNotFound, CommandTimedOut
from carpswitch.system.runner import CommandResult


@dataclass
class SimNode:
    """One node's state; `run` answers as the FreeBSD commands would."""

    hast_conf: str
    zvols: dict[str, int] = field(default_factory=dict)
    metadata: set[str] = field(default_factory=set)
    hastd: bool = False
    roles: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)
    hang: set[tuple[str, ...]] = field(default_factory=set)
    vhid_up: bool = True

    def run(
        self,
        command: str,
        *args: str,
        timeout: float | None = None,
        ok_codes: Sequence[int] = (0,),
        stdin: str | None = None,
    ) -> CommandResult:
        argv = (command, *args)
        self.calls.append(argv)
        if argv in self.hang:
            raise CommandTimedOut(argv, timeout or 0.0, "", "")
        status, out, err = self._answer(argv)
        if status not in ok_codes:
            raise CommandFailed(argv, status, out, err)
        return CommandResult(argv, status, out, err, 0.0)

    def configured(self) -> list[str]:
        try:
            with open(self.hast_conf) as handle:
                text = handle.read()
        except FileNotFoundError:
            return []
        return [line.split()[1] for line in text.splitlines() if line.startswith("resource ")]

    def _answer(self, argv: tuple[str, ...]) -> tuple[int, str, str]:
        match argv:
            case ("zfs", "list", "-H", "-o", "name", dataset):
                if dataset in self.zvols:
                    return 0, dataset + "\n", ""
                return 1, "", f"cannot open '{dataset}': dataset does not exist\n"
            case ("zfs", "create", "-V", size, dataset):
                self.zvols[dataset] = int(size.rstrip("G")) << 30
                return 0, "", ""
            case ("zfs", "get", "-Hp", "-o", "value", "volsize", dataset):
                if dataset in self.zvols:
                    return 0, f"{self.zvols[dataset]}\n", ""
                return 1, "", f"cannot open '{dataset}': dataset does not exist\n"
            case ("hastctl", "dump", name):
                if name not in self.configured():
                    return 65, "", f"[ERROR] Unknown resource {name}.\n"
                if name not in self.metadata:
                    return (
                        66,
                        "",
                        (
                            f"[ERROR] [{name}] Metadata read from /dev/zvol/tank/{name} is "
                            "invalid: Invalid argument.\n"
                        ),
                    )
                return 0, f"resource: {name}\n", ""
            case ("hastctl", "create", name):
                self.metadata.add(name)
                return 0, "", ""
            case ("hastctl", "status"):
                if not self.hastd:
                    return 71, "", "[ERROR] Unable to connect to hastd via /var/run/hastctl.\n"
                rows = "".join(
                    f"{n}\t{'-':<9}{role:<15}/dev/zvol/tank/{n}\t198.18.0.2\n"
                    for n, role in self.roles.items()
                )
                return 0, ("Name\tStatus\t Role\t\tComponents\n" + rows) if rows else "", ""
            case ("hastctl", "role", role, name):
                self.roles[name] = role
                return 0, "", ""
            case ("service", "hastd", "onestatus"):
                if self.hastd:
                    return 0, "hastd is running as pid 42.\n", ""
                return 1, "hastd is not running.\n", ""
            case ("service", "hastd", "onestart"):
                self.hastd = True
                self.roles = dict.fromkeys(self.configured(), "init")
                return 0, "Starting hastd.\n", ""
            case ("service", "hastd", "onereload"):
                for name in self.configured():
                    self.roles.setdefault(name, "init")
                return 0, "", ""
            case ("ifconfig", interface):
                carp = "\tcarp: BACKUP vhid 7 advbase 1 advskew 100\n" if self.vhid_up else ""
                return 0, f"{interface}: flags=8843<UP> metric 0 mtu 1500\n{carp}", ""
        raise CommandNotFound(argv, argv[0])


def node_config(cluster_data: dict[str, Any], root: str, name: str = "hasta") -> Config:
    """A valid config whose node-local paths point into `root` (a node directory)."""
    os.makedirs(os.path.join(root, "run"), mode=0o700, exist_ok=True)
    data = {
        **cluster_data,
        "node": {"name": name},
        "paths": {
            "hast_conf": f"{root}/etc/hast.conf",
            "devd_conf": f"{root}/usr/local/etc/devd/carpswitch.conf",
            "rc_conf_d": f"{root}/etc/rc.conf.d",
            "loader_conf_d": f"{root}/boot/loader.conf.d",
            "ctl_conf": f"{root}/etc/ctl.conf",
            "run_dir": f"{root}/run",
            "state_dir": f"{root}/db",
            "dev_hast": f"{root}/dev/hast",
        },
    }
    return parse_config(data)
