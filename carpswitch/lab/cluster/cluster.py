"""The two-node lab: `hasta` and `hastb` (+ `client`) on their own network, real CARP.

    cluster = Cluster.create(resources=[LabResource("tank", "ufs")])
    cluster.up()                  # hasta MASTER and primary, hastb secondary
    cluster.kill("hasta")         # ... the chaos tests' faults
    cluster.wait_master("hastb")
    cluster.down()                # everything gone (also: Cluster.load(ID).down())

The record (carpswitch.lab.cluster.registry) is written before anything exists, so
`down` cleans up after an `up` that died at any point.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from carpswitch.lab.cluster import registry, rendered, sshd, ucarp, watchdog
from carpswitch.lab.cluster.command import ClusterError, missing_requirement
from carpswitch.lab.cluster.host import ClusterHost
from carpswitch.lab.cluster.kernel import carp_transition
from carpswitch.lab.cluster.net import VIP, ClusterNet, Direction, HostNet, check_id
from carpswitch.lab.cluster.teardown import teardown
from carpswitch.lab.node import LabError, LabNode, LabResource, create_node
from carpswitch.lab.state import NetworkState

HOSTS = ("hasta", "hastb")
#: The longest a rebooted host stays off, waiting for its peer to take over (see reboot):
#: the peer's master-down time (3 x advbase + advskew/256) ends with its next poll (each
#: advbase + advskew/256): up to 4.8 s at hastb's skew 100, 5.9 s at 240 (demoted).
POWER_OFF = 10.0
#: Where clusters live by default (short: hast.conf's control socket path must fit).
DEFAULT_PARENT = Path("/tmp")
#: ucarp's master-down time is ~3 s; a promotion of a few resources takes seconds more.
UP_TIMEOUT = 90.0
#: Clusters carry the split-brain guards unless told otherwise (Cluster.create).
GUARDS_DEFAULT = True


def new_id() -> str:
    """A short random cluster id."""
    return secrets.token_hex(3)


class Cluster:
    """A recorded two-node lab cluster."""

    def __init__(self, record: registry.ClusterRecord) -> None:
        self.record = record
        self.id = record.id
        self.directory = Path(record.directory)
        self.net = ClusterNet.standard(record.id)

    @classmethod
    def create(
        cls,
        cluster_id: str | None = None,
        directory: Path | None = None,
        *,
        resources: Sequence[LabResource] = (LabResource("tank", "raw"),),
        services: Sequence[str] = (),
        guards: bool = GUARDS_DEFAULT,
        metrics: bool = False,
    ) -> Cluster:
        """Record a new cluster (nothing else is made until `up`).

        `guards`: each node's carpswitch.toml has the split-brain guards the lab recommends
        (witness: the client's address, self-fencing, the peer's view; layout.LAB_GUARDS);
        False gives the config without them. `metrics`: [metrics] dir = NODE/var/metrics.
        """
        reason = missing_requirement()
        if reason is not None:
            raise ClusterError(reason)
        cluster_id = check_id(cluster_id or new_id())
        if registry.record_path(cluster_id).exists():
            raise ClusterError(f"cluster {cluster_id} exists already (lab down {cluster_id})")
        directory = Path(os.path.abspath(directory or DEFAULT_PARENT / f"csw{cluster_id}"))
        made = not directory.exists()
        if not made and any(directory.iterdir()):
            raise ClusterError(f"{directory} is not empty")
        net = ClusterNet.standard(cluster_id)
        record = registry.ClusterRecord(
            id=cluster_id,
            directory=str(directory),
            made_directory=made,
            namespaces=tuple(net.namespaces()),
            hosts={name: str(directory / name) for name in HOSTS},
            resources=tuple(f"{r.name}:{r.kind}" for r in resources),
            services=tuple(services),
            guards=guards,
            metrics=metrics,
        )
        registry.save(record)
        return cls(record)

    @classmethod
    def load(cls, cluster_id: str | None = None) -> Cluster:
        """The recorded cluster `cluster_id` (default: the only one)."""
        return cls(registry.load(cluster_id or registry.only_cluster()))

    # --- up and down -----------------------------------------------------------------

    def up(
        self,
        *,
        daemon: bool = True,
        timeout: float = UP_TIMEOUT,
        ssh: bool = False,
        hast_exec: bool = False,
    ) -> None:
        """Network, nodes, boot hasta until it is MASTER, then hastb; wait until hasta
        serves and hastb is secondary.

        hastb boots only once hasta is MASTER: two ucarps started together can both be
        MASTER for a second. `ssh`: sshd on both hosts as `up_empty` has it; `hast_exec`:
        hast.conf `exec` runs each host's `carpswitch hast-event`.
        """
        self._make_hosts()
        if ssh:
            self._start_sshd()
        if hast_exec:
            for name in HOSTS:
                _hast_exec(self.node(name))
        first, second = (self.host(name) for name in HOSTS)
        deadline = time.monotonic() + timeout
        first.boot(daemon=daemon)
        self.wait(lambda: self.carp_state("hasta") == "MASTER", deadline, "hasta MASTER")
        second.boot(daemon=daemon)  # while hasta's controller promotes it
        self.wait(lambda: self.serving("hasta"), deadline, "hasta serving")
        self.wait(lambda: self.secondary("hastb"), deadline, "hastb secondary")

    def up_empty(self) -> None:
        """`lab up --empty`: network, empty nodes, sshd on both hosts with root keys that
        each trusts the other's; no resource, no ucarp, no carpswitch daemon, no devd rule
        (set-up renders it; `lab start` boots from it)."""
        self._make_hosts(devd_rules=False)
        self._start_sshd()

    def _start_sshd(self) -> None:
        """sshd on both hosts, root keys each trusts the other's (carpswitch.lab.cluster.sshd)."""
        files = {name: sshd.SshFiles.of(self.node(name).paths) for name in HOSTS}
        for name in HOSTS:
            sshd.prepare(files[name], self.net.host(name))
        for name in HOSTS:
            peer = HOSTS[1 - HOSTS.index(name)]
            sshd.trust(files[name], files[peer], self.net.host(peer))
        for name in HOSTS:
            sshd.start(files[name], self.net.host(name), self.host(name).env())

    def start(self, *, timeout: float = UP_TIMEOUT) -> list[str]:
        """`lab start`: boot both hosts from the files set-up rendered on them (rc's order:
        netif's CARP vhid, devd, hastd, carpswitch, ucarp), the preferred master (lowest
        advskew) first, the other once it is MASTER. Every host's files are checked before
        anything starts (ClusterError naming the file). Returns the hosts in boot order."""
        running = [name for name in HOSTS if ucarp.running(self.node(name).paths) is not None]
        if running:
            raise ClusterError(f"cluster {self.id} is started already (ucarp runs on {running})")
        for name in HOSTS:  # `setup apply` started hastd; a boot starts it from rc.conf.d
            if self.node(name).hastd_pid() is not None:
                self.node(name).stop()
        found = {name: rendered.read_rendered(self.node(name)) for name in HOSTS}
        order = sorted(HOSTS, key=lambda name: (found[name].alias.advskew, name))
        deadline = time.monotonic() + timeout
        first, second = order
        for name in order:
            rendered.configure(self.node(name), found[name])
        self.host(first).boot(daemon=True)
        self.wait(lambda: self.carp_state(first) == "MASTER", deadline, f"{first} MASTER")
        self.host(second).boot(daemon=True)
        return order

    def _make_hosts(self, *, devd_rules: bool = True) -> None:
        """The network and both nodes (not started), with the admin's installed files, and
        the hosts' watchdog hardware (carpswitch.lab.cluster.watchdog)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.net.create()
        for name in HOSTS:
            peer = HOSTS[1 - HOSTS.index(name)]
            create_node(
                Path(self.record.hosts[name]),
                name=name,
                peer=peer,
                resources=[_resource(text) for text in self.record.resources],
                services=list(self.record.services),
                disabled_services=list(self.record.services),
                address=self.net.host(name).address,
                peer_address=self.net.host(peer).address,
                vip=VIP,
                netns=self.net.host(name).netns,
                replication=True,
                guards=self.record.guards,
                witnesses=(self.client.address,),
                metrics_dir=str(self.metrics_dir(name)) if self.record.metrics else None,
                start=False,
            )
            self.host(name).install(devd_rules=devd_rules)
        watchdog.start(self.record)  # the hosts' watchdog(4) hardware, outside the hosts

    def metrics_dir(self, name: str) -> Path:
        """Where host `name` writes carpswitch.prom when the cluster has `metrics`."""
        return Path(self.record.hosts[name]) / "var" / "metrics"

    def down(self) -> None:
        """Remove every process, mount, namespace and file of the cluster (idempotent)."""
        teardown(self.record)

    # --- hosts and what they are in --------------------------------------------------

    def host(self, name: str) -> ClusterHost:
        """`hasta` or `hastb` with its LabNode (`.node`)."""
        if name not in HOSTS:
            raise ClusterError(f"no host {name!r} (hosts: {', '.join(HOSTS)})")
        return ClusterHost(LabNode(Path(self.record.hosts[name])), self.net)

    @property
    def client(self) -> HostNet:
        """The client's place on the network (`.netns`, `.address`): for an initiator."""
        return self.net.host("client")

    def node(self, name: str) -> LabNode:
        """The LabNode of host `name`."""
        return self.host(name).node

    def carp_state(self, name: str) -> str | None:
        """The vhid's state as ucarp has it (None while the host's ucarp is not running)."""
        node = self.node(name)
        if ucarp.running(node.paths) is None:
            return None
        interface = node.store.read(NetworkState).interface(node.facts.interface)
        vhid = None if interface is None else interface.vhid(node.facts.vhid)
        return None if vhid is None else vhid.state

    def masters(self) -> list[str]:
        """Hosts whose ucarp is MASTER now."""
        return [name for name in HOSTS if self.carp_state(name) == "MASTER"]

    def holds_vip(self, name: str) -> bool:
        """True if the CARP address (the node's: VIP, or netif's after `lab start`) is on
        `name`'s interface."""
        vip = self.node(name).facts.vip
        return any(a.split("/")[0] == vip for a in self.net.addresses(name))

    def serving(self, name: str) -> bool:
        """Every resource of `name` is primary and its provider serves I/O."""
        node = self.node(name)
        try:
            return all(
                node.role(r.name) == "primary" and node.serves_io(r.name)
                for r in node.facts.resources
            )
        except (LabError, OSError, ValueError):  # hastd not there (yet): not serving
            return False

    def secondary(self, name: str) -> bool:
        """Every resource of `name` is secondary."""
        node = self.node(name)
        try:
            return all(node.role(r.name) == "secondary" for r in node.facts.resources)
        except (LabError, OSError, ValueError):  # hastd not there (yet)
            return False

    def wait(self, predicate: Callable[[], object], deadline: float, what: str) -> None:
        """Poll `predicate` every 50 ms until true; ClusterError naming `what` at `deadline`."""
        while not predicate():
            if time.monotonic() >= deadline:
                raise ClusterError(f"cluster {self.id}: timed out waiting for {what}")
            time.sleep(0.05)

    def wait_for(self, predicate: Callable[[], object], timeout: float) -> bool:
        """Poll `predicate` every 50 ms for up to `timeout` seconds; whether it came true."""
        try:
            self.wait(predicate, time.monotonic() + timeout, "predicate")
        except ClusterError:
            return False
        return True

    def wait_master(self, name: str, timeout: float = 30.0) -> None:
        """Wait until `name` is MASTER and holds the CARP address, and no other host is."""
        self.wait(
            lambda: self.masters() == [name] and self.holds_vip(name),
            time.monotonic() + timeout,
            f"{name} the only MASTER",
        )

    def wait_serving(self, name: str, timeout: float = 60.0) -> None:
        """Wait until `name` is primary for every resource and serves I/O."""
        self.wait(lambda: self.serving(name), time.monotonic() + timeout, f"{name} serving")

    # --- faults ----------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """The host dies: every process SIGKILLed, its address gone, its link down."""
        self.host(name).kill()

    def freeze(self, name: str) -> None:
        """SIGSTOP every process of the host."""
        self.host(name).freeze()

    def thaw(self, name: str) -> None:
        """SIGCONT every process of the host."""
        self.host(name).thaw()

    def cut(self, name: str, direction: Direction = "both") -> None:
        """Cut the host's cable (both ways, or only `in` or `out`)."""
        self.net.cut(name, direction)

    def heal(self, name: str) -> None:
        """Mend the host's cable."""
        self.net.heal(name)

    def reboot(self, name: str, *, daemon: bool = True) -> None:
        """Power-cycle the host and boot it as FreeBSD would (see ClusterHost.boot).

        The host stays off until its peer is MASTER (or runs no ucarp), at most POWER_OFF
        seconds: a FreeBSD machine takes longer to come back than CARP's master-down
        interval; the lab boots in about 1 s. Booted sooner, its ucarp (skew 0, 3 s)
        could beat the peer's, which notices a silent master only when a poll of
        advbase + advskew/256 s ends (UCarp src/carp.c): a race no FreeBSD reboot has.
        """
        host = self.host(name)
        host.kill()
        peer = HOSTS[1 - HOSTS.index(name)]
        if not self.wait_for(lambda: self._took_over(peer), POWER_OFF):
            print(f"{name}: {peer} is not MASTER after {POWER_OFF:g} s; booting", flush=True)
        host.power_on(daemon=daemon)

    def _took_over(self, name: str) -> bool:
        """`name` is MASTER or runs no ucarp (nothing to wait for); False if unreadable."""
        try:
            return self.carp_state(name) in ("MASTER", None)
        except (LabError, OSError, ValueError):
            return False

    def force_backup(self, name: str) -> bool:
        """What `ifconfig vtnet0 vhid 1 state backup` does on the host: ucarp goes BACKUP
        now (SIGUSR2); False if it did not within ucarp.DEMOTE_WAIT."""
        return ucarp.force_backup(self.node(name).path)

    def kill_ucarp(self, name: str) -> None:
        """SIGKILL only the host's ucarp: CARP stops on a live host.

        ucarp runs no script then; the lab does what FreeBSD's kernel does when CARP stops
        on an interface: the vhid goes INIT, the address goes, devd hears `type=INIT`.
        """
        node = self.node(name)
        speaker = ucarp.running(node.paths)
        if speaker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(speaker.pid, signal.SIGKILL)
        carp_transition(node.path, "INIT", node.facts.interface, node.facts.vip)

    def start_ucarp(self, name: str) -> None:
        """Start the host's ucarp again (BACKUP, then MASTER if nobody advertises)."""
        node = self.node(name)
        if ucarp.running(node.paths) is None:
            ucarp.start(node.path)


def _hast_exec(node: LabNode) -> None:
    """hast.conf `exec` = a wrapper of the host's own `carpswitch hast-event` (hastd gives
    the program only EVENT RESOURCE ARGS); before hastd starts (the lab's reload is not)."""
    hook = node.paths.bin / "carpswitch-hast-event"
    carpswitch = shlex.quote(str(node.paths.bin / "carpswitch"))
    hook.write_text(f'#!/bin/sh\nexec {carpswitch} hast-event "$@"\n')
    hook.chmod(0o755)
    conf = node.paths.hast_conf
    conf.write_text(conf.read_text().replace("\ntimeout ", f"\nexec {hook}\ntimeout ", 1))


def _resource(text: str) -> LabResource:
    name, _, kind = text.partition(":")
    return LabResource(name, kind or "raw")  # type: ignore[arg-type]  # recorded by create
