"""`carpswitch lab up|down|status` and the host faults (kill, freeze, thaw, cut, heal,
reboot HOST) of the two-node lab."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from carpswitch.lab.cluster import registry, sshd
from carpswitch.lab.cluster.cluster import GUARDS_DEFAULT, HOSTS, Cluster
from carpswitch.lab.cluster.command import ClusterError
from carpswitch.lab.cluster.status import status_text
from carpswitch.lab.node import LabResource

#: Host verbs and what they do; `reboot` is shared with the single-node `lab reboot DIR`.
HOST_HELP = {
    "kill": "a host dies: SIGKILL of all its processes, its address gone, its link down",
    "freeze": "SIGSTOP every process of a host",
    "thaw": "SIGCONT every process of a host",
    "cut": "cut a host's cable (both ways unless --one-way)",
    "heal": "mend a host's cable",
}
HOST_VERBS = tuple(HOST_HELP)


def add_verbs(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the cluster verbs to `carpswitch lab`'s parser."""
    up = verbs.add_parser("up", help="bring up the two-node lab (hasta MASTER, hastb BACKUP)")
    up.add_argument("--id", help="cluster id (default: a random one)")
    up.add_argument("--dir", type=Path, help="directory for the nodes (default /tmp/cswID)")
    up.add_argument(
        "--resource",
        action="append",
        metavar="NAME[:raw|ufs|zfs]",
        help="HAST resource (repeatable; default tank:raw)",
    )
    up.add_argument(
        "--service", action="append", default=[], metavar="NAME", help="HA service (repeatable)"
    )
    up.add_argument("--no-daemon", action="store_true", help="do not run `carpswitch daemon`")
    up.add_argument(
        "--no-guards",
        action="store_true",
        help="carpswitch.toml without [guards] (the lab's default: the client's address as "
        "witness, self-fencing, the peer's view)",
    )
    up.add_argument(
        "--empty",
        action="store_true",
        help="hosts, network and sshd only (no resource, ucarp or daemon): for `carpswitch "
        "setup`, then `lab start`",
    )
    status = verbs.add_parser("status", help="CARP, addresses and hastctl status of a cluster")
    status.add_argument("id", nargs="?", help="cluster id (default: the only one)")
    down = verbs.add_parser("down", help="remove a cluster: processes, mounts, namespaces, files")
    down.add_argument("id", nargs="?", help="cluster id (default: the only one)")
    down.add_argument("--all", action="store_true", help="every recorded cluster")
    verbs.add_parser(
        "demo",
        help="a failover end to end: up, write through the CARP address, kill the master, "
        "read back and check, down",
    ).add_argument(
        "--cluster",
        metavar="ID",
        help="against this started cluster (`lab start`) instead of a new one; left up",
    )
    for verb in HOST_VERBS:
        parser = verbs.add_parser(verb, help=HOST_HELP[verb])
        parser.add_argument("host", choices=HOSTS)
        parser.add_argument("--id", help="cluster id (default: the only one)")
        if verb == "cut":
            parser.add_argument(
                "--one-way", choices=["in", "out"], help="cut only what it receives or sends"
            )


def run_verb(args: argparse.Namespace, resources: Sequence[LabResource]) -> int:
    """Run a cluster verb (`resources` already parsed for `up`)."""
    if args.verb == "up":
        if args.empty and (args.resource or args.service):
            raise ClusterError("--empty takes no --resource or --service (set-up adds them)")
        if args.empty:
            resources, services = [], []
        else:
            services = args.service
        cluster = Cluster.create(
            args.id,
            args.dir,
            resources=resources,
            services=services,
            guards=GUARDS_DEFAULT and not args.no_guards,
        )
        print(f"lab cluster {cluster.id} in {cluster.directory}", flush=True)
        try:
            if args.empty:
                cluster.up_empty()
                sys.stdout.write(empty_text(cluster))
                return 0
            cluster.up(daemon=not args.no_daemon)
        except BaseException:
            sys.stderr.write(f"carpswitch lab: up failed; `carpswitch lab down {cluster.id}`\n")
            raise
        sys.stdout.write(status_text(cluster))
        return 0
    if args.verb == "demo":
        from carpswitch.lab.cluster import demo

        return demo.main(args.cluster)
    if args.verb == "down":
        ids = registry.cluster_ids() if args.all else [args.id or registry.only_cluster()]
        for cluster_id in ids:
            if not registry.record_path(cluster_id).exists():
                print(f"no lab cluster {cluster_id}: nothing to remove")  # down twice is fine
                continue
            Cluster.load(cluster_id).down()
            print(f"lab cluster {cluster_id} removed")
        return 0
    cluster = Cluster.load(args.id)
    if args.verb == "start":
        order = cluster.start()
        print(f"lab cluster {cluster.id} started: {' then '.join(order)}", flush=True)
        sys.stdout.write(status_text(cluster))
    elif args.verb == "status":
        sys.stdout.write(status_text(cluster))
    elif args.verb == "cut":
        cluster.cut(args.host, args.one_way or "both")
    elif args.verb == "reboot":
        cluster.reboot(str(args.dir))
    else:
        getattr(cluster, args.verb)(args.host)
    return 0


def empty_text(cluster: Cluster) -> str:
    """Where an empty cluster's hosts are and how set-up reaches them (keys, wrappers)."""
    lines = []
    for name in HOSTS:
        node = cluster.node(name)
        files = sshd.SshFiles.of(node.paths)
        lines += [
            f"{name}: {cluster.net.host(name).address} in namespace {node.facts.netns}",
            f"  carpswitch: {node.bin / 'carpswitch'}   ssh: {node.bin / 'ssh'}",
            f"  ssh identity: {files.identity}   known_hosts: {files.known_hosts}",
        ]
    return "\n".join(lines) + "\n"


__all__ = ["HOST_VERBS", "ClusterError", "add_verbs", "run_verb"]
