"""A node in memory that answers the commands a transition runs, counting them.

Enough FreeBSD for the executor's count and attribution tests: `hastctl list [NAME...]`
(hastctl.c control_list blocks, the lab's formatter), `hastctl role ROLE NAME...` (per
resource `[WARNING] [NAME] Received error N from hastd.`, exit = first error), `mount -p`,
`mount -t ufs`, `umount [-f]`, `fsck -t ufs -p`, `service NAME onestatus|onestart|onestop`.
A role primary creates /dev/hast/NAME (a file under the test's directory).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from carpswitch.config import parse_config
from carpswitch.errors import CommandFailed, CommandNotFound, CommandTimedOut
from carpswitch.lab.commands.hastctl_output import list_block
from carpswitch.lab.hastd.protocol import ResourceReply
from carpswitch.model import Mount
from carpswitch.parse.mount import format_mount_p_line
from carpswitch.system.runner import CommandResult
from carpswitch.topology import Group, Resource, Topology

ROOT = Mount(device="/dev/ada0p2", mountpoint="/", fstype="ufs")


@dataclass
class FakeNode:
    """Commands against in-memory state; `calls` lists every argv, `fail` breaks some."""

    directory: Path
    roles: dict[str, str] = field(default_factory=dict)
    mounted: list[Mount] = field(default_factory=lambda: [ROOT])
    running: set[str] = field(default_factory=set)
    calls: list[tuple[str, ...]] = field(default_factory=list)
    #: hastd answers this error for these resources' role changes
    role_errors: dict[str, int] = field(default_factory=dict)
    #: argv prefixes (joined by spaces) that fail with exit 1 / time out
    fail: set[str] = field(default_factory=set)
    hang: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def device(self, name: str) -> Path:
        return self.directory / "dev" / "hast" / name

    def count(self, *prefix: str) -> int:
        return sum(1 for argv in self.calls if argv[: len(prefix)] == prefix)

    def counts(self) -> collections.Counter[str]:
        return collections.Counter(" ".join(argv[:2]) for argv in self.calls)

    def run(
        self,
        command: str,
        *args: str,
        timeout: float | None = None,
        ok_codes: Sequence[int] = (0,),
        stdin: str | None = None,
    ) -> CommandResult:
        argv = (command, *args)
        with self._lock:
            self.calls.append(argv)
            line = " ".join(argv)
            if any(line.startswith(p) for p in self.hang):
                raise CommandTimedOut(argv, timeout or 0.0, "", "")
            if any(line.startswith(p) for p in self.fail):
                status, out, err = 1, "", f"{command}: broken\n"
            else:
                status, out, err = self._answer(command, list(args))
        if status not in ok_codes:
            raise CommandFailed(argv, status, out, err)
        return CommandResult(argv, status, out, err, 0.0)

    def _answer(self, command: str, args: list[str]) -> tuple[int, str, str]:
        if command == "hastctl" and args[0] == "list":
            names = args[3:] or list(self.roles)
            return 0, "".join(list_block(self._reply(n)) for n in names), ""
        if command == "hastctl" and args[0] == "role":
            role, names = args[3], args[4:]
            err = ""
            for name in names:
                if name in self.role_errors:
                    err += (
                        f"[WARNING] [{name}] Received error {self.role_errors[name]} from hastd.\n"
                    )
                    continue
                self.roles[name] = role
                if role == "primary":
                    self.device(name).touch()
                else:
                    self.device(name).unlink(missing_ok=True)
            first = next((self.role_errors[n] for n in names if n in self.role_errors), 0)
            return first, "", err
        if command == "mount" and args == ["-p"]:
            return 0, "".join(format_mount_p_line(m) for m in self.mounted), ""
        if command == "mount":
            device, mountpoint = args[-2:]
            self.mounted.append(Mount(device=device, mountpoint=mountpoint, fstype="ufs"))
            return 0, "", ""
        if command == "umount":
            mountpoint = args[-1]
            here = [m for m in self.mounted if m.mountpoint == mountpoint]
            if not here:
                return 1, "", f"umount: {mountpoint}: not a file system root directory\n"
            self.mounted.remove(here[-1])
            return 0, "", ""
        if command == "fsck":
            return 0, f"** {args[-1]}\n", ""
        if command == "service":
            name, action = args
            if action == "onestatus":
                if name in self.running:
                    return 0, f"{name} is running as pid 100.\n", ""
                return 1, f"{name} is not running.\n", ""
            if action in ("onestart", "onerestart", "onereload"):
                self.running.add(name)
            elif action == "onestop":
                self.running.discard(name)
            return 0, "", ""
        raise CommandNotFound((command, *args), command)

    def _reply(self, name: str) -> ResourceReply:
        if name not in self.roles:
            return ResourceReply(name=name, error=1)
        return ResourceReply(
            name=name,
            role=self.roles[name],
            provname=name,
            localpath="/dev/ada1",
            remoteaddr="198.18.0.2",
            replication="memsync",
            status="complete" if self.roles[name] == "primary" else None,
        )


def ufs_setup(directory: Path, count: int, kind: str = "ufs", services: Sequence[str] = ()):
    """A node with `count` resources r0.. of `kind`, all secondary, in one group."""
    (directory / "dev" / "hast").mkdir(parents=True)
    (directory / "run").mkdir(mode=0o700)
    names = [f"r{i}" for i in range(count)]
    resources = {}
    for name in names:
        mountpoint = directory / "mnt" / name
        mountpoint.mkdir(parents=True)
        resources[name] = Resource(
            name=name,
            kind=kind,
            provider_name=name,
            device=str(directory / "dev" / "hast" / name),
            local_path="/dev/ada1",
            remote_address="198.18.0.2",
            mountpoint=str(mountpoint) if kind == "ufs" else None,
        )
    group = Group(name="storage", vhid=1, resources=tuple(names), services=tuple(services))
    topology = Topology(node_names=("hasta",), resources=resources, groups=(group,))
    config = parse_config(
        {
            "paths": {
                "run_dir": str(directory / "run"),
                "dev_hast": str(directory / "dev" / "hast"),
                "state_dir": str(directory / "run"),
            },
            "timeouts": {"release": 1, "device": 1},
        }
    )
    node = FakeNode(directory, roles=dict.fromkeys(names, "secondary"))
    return node, topology, group, config
