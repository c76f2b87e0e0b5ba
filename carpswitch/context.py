"""Everything a command needs about this node: config, runner, topology, observed state."""

from __future__ import annotations

import logging
import socket

from carpswitch.config import Config
from carpswitch.errors import CommandError, ParseError
from carpswitch.model import CarpVhid, NodeState
from carpswitch.parse.hastconf import HastConf, node_names_for_host, parse_hast_conf
from carpswitch.parse.sysctl import parse_sysctl_int
from carpswitch.system import commands
from carpswitch.system.hastd_cap import HastdCap
from carpswitch.system.observe import Observer
from carpswitch.system.runner import CommandRunner, Runner
from carpswitch.topology import Topology, build_topology, read_hast_conf

log = logging.getLogger(__name__)


class NodeContext:
    """The config plus the one runner every command of this invocation goes through."""

    def __init__(self, config: Config, runner: CommandRunner | None = None) -> None:
        self.config = config
        # every command goes through one runner, so the cap on hastctl calls holds for all
        self.runner: CommandRunner = HastdCap(
            runner or Runner(config.commands, run_dir=config.paths.run_dir)
        )
        self.observer = Observer(self.runner, config)

    def node_names(self) -> list[str]:
        """Names of this node's `on` block: [node] name, else what hastd would accept."""
        if self.config.node.name:
            return [self.config.node.name]
        return node_names_for_host(socket.gethostname(), *self._host_ids())

    def _host_ids(self) -> tuple[str | None, int | None]:
        """kern.hostuuid and kern.hostid, when sysctl has them (FreeBSD)."""
        timeout = self.config.timeouts.observe
        try:
            uuid = self.runner.run(*commands.sysctl_get("kern.hostuuid"), timeout=timeout)
            hostid = self.runner.run(*commands.sysctl_get("kern.hostid"), timeout=timeout)
            return uuid.stdout.strip() or None, parse_sysctl_int(hostid.stdout, "kern.hostid")
        except (CommandError, ParseError) as exc:
            log.debug("no host uuid/id: %s", exc)
            return None, None

    def hast_conf(self) -> tuple[HastConf, list[str]]:
        """Parsed hast.conf, or an empty one plus the reason it could not be read."""
        path = self.config.paths.hast_conf
        try:
            return read_hast_conf(path), []
        except OSError as exc:
            return parse_hast_conf(""), [f"cannot read {path}: {exc.strerror}"]
        except ParseError as exc:
            return parse_hast_conf(""), [str(exc)]

    def carp_interfaces(self) -> list[str] | None:
        """Interfaces whose CARP vhids matter; None: all of them (a group names none)."""
        if not self.config.group or any(g.interface is None for g in self.config.group):
            return None
        return sorted({g.interface for g in self.config.group if g.interface})

    def topology(self, carp: list[CarpVhid]) -> Topology:
        """carpswitch.toml and hast.conf joined, given the CARP vhids observed."""
        hast_conf, problems = self.hast_conf()
        problem = problems[0] if problems else None
        return build_topology(self.config, hast_conf, self.node_names(), carp, problem)

    def observe(self) -> tuple[Topology, NodeState]:
        """Read the node: CARP first (groups may derive from it), then the rest."""
        carp, unreadable = self.observer.carp_state(self.carp_interfaces())
        topology = self.topology(carp)
        state = self.observer.node_state(topology.node_names[0], topology, carp, unreadable)
        return topology, state
