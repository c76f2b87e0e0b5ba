"""The two-node lab's network: one namespace per host, veth pairs to a bridge.

    csw<ID>-br      br0 with one port per host (named after the host)
    csw<ID>-hasta   vtnet0 198.18.0.1/24   (the node's FreeBSD interface name)
    csw<ID>-hastb   vtnet0 198.18.0.2/24
    csw<ID>-client  vtnet0 198.18.0.10/24
    CARP address    198.18.0.100 (on the MASTER's vtnet0 only)

Nothing is created in the root namespace. Link faults are nft rules on the bridge, on the
host's port: the cable is cut there, so nothing the host sends or should receive gets
through, whatever the host's sockets are. (ucarp reads adverts with libpcap, which sees a
packet before any netfilter hook inside the host would drop it.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from carpswitch.lab.cluster.command import ClusterError, run

PREFIX = "198.18.0"
VIP = f"{PREFIX}.100"
NETMASK_BITS = 24
BRIDGE = "br0"
#: nft table on the bridge that holds the link faults.
FAULT_TABLE = "cswfault"
Direction = Literal["both", "in", "out"]
_ID = re.compile(r"[a-z0-9]{1,10}")


@dataclass(frozen=True)
class HostNet:
    """One host's place on the lab network."""

    name: str
    netns: str
    interface: str
    address: str


def check_id(cluster_id: str) -> str:
    """A cluster id is short lowercase letters and digits (it goes into names)."""
    if not _ID.fullmatch(cluster_id):
        raise ClusterError(f"cluster id {cluster_id!r}: expected 1-10 of [a-z0-9]")
    return cluster_id


def netns_name(cluster_id: str, host: str) -> str:
    """`csw<ID>-<host>`: unique per cluster, so clusters (and tests) can run side by side."""
    return f"csw{cluster_id}-{host}"


def bridge_netns(cluster_id: str) -> str:
    """The namespace that holds the bridge."""
    return netns_name(cluster_id, "br")


class ClusterNet:
    """Create, fault and remove the lab network of one cluster."""

    def __init__(self, cluster_id: str, hosts: dict[str, HostNet]) -> None:
        self.cluster_id = check_id(cluster_id)
        self.hosts = hosts
        self.bridge_netns = bridge_netns(cluster_id)

    @classmethod
    def standard(cls, cluster_id: str, interface: str = "vtnet0") -> ClusterNet:
        """hasta .1, hastb .2, client .10 on one bridge."""
        octets = {"hasta": 1, "hastb": 2, "client": 10}
        return cls(
            cluster_id,
            {
                name: HostNet(name, netns_name(cluster_id, name), interface, f"{PREFIX}.{octet}")
                for name, octet in octets.items()
            },
        )

    def namespaces(self) -> list[str]:
        """Every namespace the network is made of (bridge first)."""
        return [self.bridge_netns, *(h.netns for h in self.hosts.values())]

    def host(self, name: str) -> HostNet:
        """The host called `name`."""
        try:
            return self.hosts[name]
        except KeyError:
            raise ClusterError(f"no host {name!r} (hosts: {', '.join(self.hosts)})") from None

    # --- building and removing -------------------------------------------------------

    def create(self) -> None:
        """Namespaces, bridge, one veth pair per host, addresses, loopback up."""
        br = self.bridge_netns
        run(["ip", "netns", "add", br])
        run(["ip", "-n", br, "link", "add", BRIDGE, "type", "bridge", "mcast_snooping", "0"])
        run(["ip", "-n", br, "link", "set", BRIDGE, "up"])
        run(["ip", "-n", br, "link", "set", "lo", "up"])
        for host in self.hosts.values():
            run(["ip", "netns", "add", host.netns])
            run(["ip", "-n", host.netns, "link", "set", "lo", "up"])
            run(
                [
                    "ip", "-n", br, "link", "add", host.name, "type", "veth",
                    "peer", "name", host.interface, "netns", host.netns,
                ]
            )  # fmt: skip
            run(["ip", "-n", br, "link", "set", host.name, "master", BRIDGE, "up"])
            run(
                [
                    "ip", "-n", host.netns, "addr", "add",
                    f"{host.address}/{NETMASK_BITS}", "dev", host.interface,
                ]
            )  # fmt: skip
            run(["ip", "-n", host.netns, "link", "set", host.interface, "up"])

    def destroy(self) -> None:
        """Delete every namespace of the network that exists (idempotent)."""
        remove_namespaces(self.namespaces())

    # --- faults ----------------------------------------------------------------------

    def cut(self, host: str, direction: Direction = "both") -> None:
        """Cut `host`'s cable: both ways, or only what it receives (`in`) or sends (`out`).

        Replaces an earlier cut of the same host.
        """
        port = self.host(host).name
        self.heal(host)
        rules = []
        if direction in ("both", "in"):
            rules.append(f'oifname "{port}" drop')
        if direction in ("both", "out"):
            rules.append(f'iifname "{port}" drop')
        chain = _chain_name(port)
        script = (
            f"table bridge {FAULT_TABLE} {{\n"
            f"  chain {chain} {{\n"
            "    type filter hook forward priority 0; policy accept;\n"
            + "".join(f"    {rule}\n" for rule in rules)
            + "  }\n}\n"
        )
        self._nft("-f", "-", stdin=script)

    def heal(self, host: str) -> None:
        """Undo a cut of `host` (nothing to do if there is none)."""
        chain = _chain_name(self.host(host).name)
        listed = self._fault_table()
        if f"chain {chain} " in listed:
            self._nft("delete", "chain", "bridge", FAULT_TABLE, chain)

    def cuts(self) -> dict[str, Direction]:
        """Hosts whose cable is cut now, and how."""
        listed = self._fault_table()
        found: dict[str, Direction] = {}
        for host in self.hosts.values():
            inward = f'oifname "{host.name}" drop' in listed
            outward = f'iifname "{host.name}" drop' in listed
            if inward and outward:
                found[host.name] = "both"
            elif inward or outward:
                found[host.name] = "in" if inward else "out"
        return found

    def _nft(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        """nft in the bridge's namespace."""
        return run(
            ["ip", "netns", "exec", self.bridge_netns, "nft", *args], stdin=stdin, check=check
        )

    def _fault_table(self) -> str:
        """`nft list table bridge cswfault` ('' if there is none)."""
        return self._nft("list", "table", "bridge", FAULT_TABLE, check=False)

    def set_link(self, host: str, up: bool) -> None:
        """Bring `host`'s interface up or down (inside the host: no carrier seen by it)."""
        net = self.host(host)
        run(["ip", "-n", net.netns, "link", "set", net.interface, "up" if up else "down"])

    # --- addresses -------------------------------------------------------------------

    def addresses(self, host: str) -> list[str]:
        """IPv4 addresses on `host`'s interface (`198.18.0.1/24`, ...)."""
        net = self.host(host)
        text = run(["ip", "-n", net.netns, "-4", "-o", "addr", "show", "dev", net.interface])
        return re.findall(r"inet (\S+)", text)

    def link_up(self, host: str) -> bool:
        """True if `host`'s interface is administratively up."""
        net = self.host(host)
        text = run(["ip", "-n", net.netns, "-o", "link", "show", "dev", net.interface])
        flags = re.search(r"<([^>]*)>", text)
        return flags is not None and "UP" in flags.group(1).split(",")

    def remove_address(self, host: str, address: str) -> None:
        """Delete `address`/32 from `host`'s interface if it is there."""
        net = self.host(host)
        if any(a.split("/")[0] == address for a in self.addresses(host)):
            run(["ip", "-n", net.netns, "addr", "del", f"{address}/32", "dev", net.interface])


def _chain_name(port: str) -> str:
    return f"cut_{port}"


def existing_namespaces() -> list[str]:
    """Names of the network namespaces iproute2 knows (`ip netns list`)."""
    return [line.split()[0] for line in run(["ip", "netns", "list"]).splitlines() if line.strip()]


def netns_pids(netns: str) -> list[int]:
    """Pids of the processes in network namespace `netns` (none if it does not exist)."""
    if netns not in existing_namespaces():
        return []
    return [int(p) for p in run(["ip", "netns", "pids", netns], check=False).split() if p.isdigit()]


def remove_namespaces(names: list[str]) -> None:
    """`ip netns del` each of `names` that exists."""
    present = set(existing_namespaces())
    for name in names:
        if name in present:
            run(["ip", "netns", "del", name])
