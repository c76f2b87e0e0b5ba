"""Observe the node: run the read-only commands and parse them into a NodeState.

A fact that cannot be read (command missing, failed, timed out, unparsable output) is named
in `NodeState.unreadable` (and described in `problems`) instead of raising: the caller sees
everything that could be observed, and decide() never acts on a group that needs a fact it
could not read. A fact that was read and says "absent" is different: an interface that
ifconfig says does not exist carries no vhid (item 6 of issue 8: treated like INIT).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from carpswitch.config import Config, ResourceKind
from carpswitch.errors import CommandError, CommandFailed, ParseError, one_line
from carpswitch.model import CarpVhid, HastResource, Mount, NodeState, Pool, ServiceStatus
from carpswitch.parse.hastctl import parse_hastctl_list
from carpswitch.parse.ifconfig import parse_ifconfig_carp
from carpswitch.parse.mount import parse_mount_p
from carpswitch.parse.service import parse_service_status
from carpswitch.parse.sysctl import parse_sysctl_int
from carpswitch.parse.zpool import parse_zpool_list
from carpswitch.system import commands
from carpswitch.system.runner import CommandRunner
from carpswitch.topology import Topology

T = TypeVar("T")

#: sbin/ifconfig/ifconfig.c main: `errx(1, "interface %s does not exist", ifname)`.
_NO_SUCH_INTERFACE = "ifconfig: interface {} does not exist"


def carp_fact(interface: str | None) -> str:
    """Name of the CARP fact for one interface (`carp vtnet0`) or all of them (`carp`)."""
    return f"carp {interface}" if interface else "carp"


class Observer:
    """Reads one fact at a time through the runner; every read is bounded by a timeout."""

    def __init__(self, runner: CommandRunner, config: Config) -> None:
        self.runner = runner
        self.config = config
        self.timeout = config.timeouts.observe

    def _output(self, argv: tuple[str, ...], ok_codes: tuple[int, ...] = (0,)) -> str:
        return self.runner.run(*argv, timeout=self.timeout, ok_codes=ok_codes).stdout

    def carp(self, interfaces: Sequence[str] | None = None) -> list[CarpVhid]:
        """CARP vhids of the given interfaces (all interfaces when None); raises when one
        cannot be read."""
        if not interfaces:
            return parse_ifconfig_carp(self._output(commands.ifconfig_show()))
        return [vhid for interface in interfaces for vhid in self.interface_carp(interface)]

    def interface_carp(self, interface: str) -> list[CarpVhid]:
        """CARP vhids of one interface; none when ifconfig says it does not exist."""
        argv = commands.ifconfig_show(interface)
        try:
            text = self._output(argv)
        except CommandFailed as exc:
            if exc.exit_status == 1 and exc.stderr.strip() == _NO_SUCH_INTERFACE.format(interface):
                return []
            raise
        return parse_ifconfig_carp(text, interface)

    def carp_state(self, interfaces: Sequence[str] | None) -> tuple[list[CarpVhid], dict[str, str]]:
        """CARP vhids and the CARP facts that could not be read (`carp` or `carp IFACE`)."""
        if not interfaces:
            reads: list[tuple[str, Callable[[], list[CarpVhid]]]] = [("carp", self.carp)]
        else:
            reads = [(carp_fact(i), partial(self.interface_carp, i)) for i in interfaces]
        found: list[CarpVhid] = []
        unreadable: dict[str, str] = {}
        for fact, read in reads:
            try:
                found += read()
            except (CommandError, ParseError) as exc:
                unreadable[fact] = one_line(str(exc))
        return found, unreadable

    def hast(self, names: Sequence[str] = ()) -> list[HastResource]:
        """Every resource hastd knows (or only `names`), with `device_present` from /dev/hast."""
        # exit 1 = a per-resource error, reported in the output itself; exit 1 with no
        # resource in the output is hastctl failing as a whole: nothing was read
        argv = commands.hastctl_list(self.config.paths.hast_conf, names)
        result = self.runner.run(*argv, timeout=self.timeout, ok_codes=(0, 1))
        found = parse_hastctl_list(result.stdout)
        if result.exit_status == 1 and not found:
            raise CommandFailed(result.argv, 1, result.stdout, result.stderr)
        return [
            resource.model_copy(update={"device_present": self._device_present(resource)})
            for resource in found
        ]

    def _device_present(self, resource: HastResource) -> bool:
        provider = resource.provider_name or resource.name
        return os.path.exists(os.path.join(self.config.paths.dev_hast, provider))

    def mounts(self) -> list[Mount]:
        """Mounted file systems (`mount -p`)."""
        return parse_mount_p(self._output(commands.mount_list()))

    def pools(self) -> list[Pool]:
        """Imported ZFS pools."""
        return parse_zpool_list(self._output(commands.zpool_list()))

    def service(self, name: str) -> ServiceStatus:
        """Whether rc.d service `name` runs (`service NAME onestatus`: exit 1 = not running)."""
        argv = commands.service_status(name)
        try:
            result = self.runner.run(*argv, timeout=self.timeout, ok_codes=(0, 1))
        except CommandFailed as exc:
            raise ParseError("service onestatus", exc.stderr.strip() or str(exc)) from exc
        return parse_service_status(name, result.stdout, result.exit_status)

    def demotion(self) -> int:
        """Current `net.inet.carp.demotion`."""
        name = commands.DEMOTION_SYSCTL
        return parse_sysctl_int(self._output(commands.sysctl_get(name)), name)

    def node_state(
        self,
        node: str,
        topology: Topology,
        carp: list[CarpVhid],
        carp_unreadable: dict[str, str] | None = None,
    ) -> NodeState:
        """Everything about the node the topology needs, problems collected, never raising."""
        unreadable = dict(carp_unreadable or {})
        problems = [f"{fact}: {error}" for fact, error in unreadable.items()]
        problems += topology.problems

        def attempt(what: str, read: Callable[[], T]) -> T | None:
            try:
                return read()
            except (CommandError, ParseError) as exc:
                unreadable[what] = one_line(str(exc))
                problems.append(f"{what}: {exc}")
                return None

        kinds = {r.kind for r in topology.resources.values()}
        services = dict.fromkeys(s for g in topology.groups for s in g.services)
        return NodeState(
            node=node,
            observed_at=datetime.now(UTC),
            carp=carp,
            resources=attempt("hast", self.hast) or [],
            mounts=(attempt("mounts", self.mounts) if ResourceKind.UFS in kinds else None) or [],
            pools=(attempt("pools", self.pools) if ResourceKind.ZFS in kinds else None) or [],
            services=[
                status
                for name in services
                if (status := attempt(f"service {name}", partial(self.service, name)))
            ],
            demotion=attempt("demotion", self.demotion),
            problems=problems,
            unreadable=unreadable,
        )
