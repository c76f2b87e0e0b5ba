"""`carpswitch lab ...`: create and steer simulated FreeBSD nodes from a shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from carpswitch.lab.cluster.cli import HOST_VERBS, ClusterError
from carpswitch.lab.cluster.cli import add_verbs as add_cluster_verbs
from carpswitch.lab.cluster.cli import run_verb as run_cluster_verb
from carpswitch.lab.cluster.cluster import HOSTS
from carpswitch.lab.cluster.registry import cluster_ids
from carpswitch.lab.faults import Fault, FaultPlanError, load_plan
from carpswitch.lab.node import (
    DEFAULT_HAST_TIMEOUT,
    LabError,
    LabNode,
    LabResource,
    create_node,
)

EX_USAGE = 64
CLUSTER_VERBS = ("up", "down", "status", "demo", *HOST_VERBS)
EX_SOFTWARE = 70

DESCRIPTION = """\
Simulated FreeBSD nodes for trying carpswitch without FreeBSD.

A node is a directory with shims of hastctl, hastd, ifconfig, sysctl, mount, umount, fsck,
zpool, zfs and service (DIR/bin), a simulated hastd, and a carpswitch.toml that points
the controller at them. The shims print what FreeBSD prints. Nothing goes on your PATH.

  carpswitch lab node /tmp/hasta --resource tank:ufs --service nfsd
  /tmp/hasta/bin/hastctl role primary tank
  /tmp/hasta/bin/hastctl status
  carpswitch lab carp /tmp/hasta MASTER
  carpswitch lab fault /tmp/hasta add hastctl '^role primary' --exit 1 --stderr 'boom'
  carpswitch -c /tmp/hasta/carpswitch.toml status
  carpswitch lab reboot /tmp/hasta --carp MASTER
  carpswitch lab stop /tmp/hasta

The two-node lab (root; hasta and hastb in network namespaces, real CARP with ucarp):

  carpswitch lab up --resource tank:ufs     # hasta MASTER and primary, hastb secondary
  carpswitch lab status
  carpswitch lab kill hasta                 # also freeze, thaw, cut [--one-way in|out],
  carpswitch lab reboot hasta               #   heal, reboot HOST
  carpswitch lab down                       # or: down ID, down --all

For benchmarks, `node --command-cost 0.005 --command-log` makes every command take a fixed
time and log itself to DIR/var/log/commands.log; DIR/bin can go first on a PATH.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carpswitch lab",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    node = verbs.add_parser("node", help="create a node directory (and start its hastd)")
    node.add_argument("dir", type=Path, help="directory to create the node in")
    node.add_argument("--name", default="hasta", help="host name (default hasta)")
    node.add_argument("--peer", default="hastb", help="peer host name (default hastb)")
    node.add_argument(
        "--resource",
        action="append",
        metavar="NAME[:raw|ufs|zfs]",
        help="HAST resource and what is on it (repeatable; default tank:raw)",
    )
    node.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="NAME",
        help="rc.d service the node has, enabled in rc.conf (repeatable)",
    )
    node.add_argument(
        "--disabled-service",
        action="append",
        default=[],
        metavar="NAME",
        help="rc.d service the node has, not enabled in rc.conf (repeatable)",
    )
    _carp_option(node, "initial CARP state of the vhid")
    node.add_argument(
        "--freebsd",
        type=int,
        default=14,
        choices=[13, 14],
        help="FreeBSD release to imitate (default 14)",
    )
    node.add_argument(
        "--newest-rc-subr",
        action="store_true",
        help="rc.subr answers `status` of services that are not enabled (13.x/14.0 do not)",
    )
    node.add_argument(
        "--hast-timeout",
        type=int,
        default=DEFAULT_HAST_TIMEOUT,
        metavar="S",
        help="hast.conf timeout: how long a new primary waits for its absent peer "
        f"(default {DEFAULT_HAST_TIMEOUT}; hastd's own default is 20)",
    )
    node.add_argument(
        "--command-cost",
        type=float,
        metavar="SECONDS",
        help="fixed-cost mode: every command of the node takes max(its own work, SECONDS) "
        "of wall time, from its script's first line to its exit (for benchmarks)",
    )
    node.add_argument(
        "--command-log",
        action="store_true",
        help="every command appends `<unix start> <seconds elapsed> <command> <args...>` "
        "to DIR/var/log/commands.log (one O_APPEND write per call)",
    )
    node.add_argument("--no-start", action="store_true", help="do not start hastd")

    verbs.add_parser(
        "start",
        help="start hastd of a node DIR, or boot a lab cluster ID (default: the only one) "
        "from the files `carpswitch setup` rendered",
    ).add_argument("dir", nargs="?", type=Path, metavar="DIR|ID")
    verbs.add_parser("stop", help="stop every process of a node").add_argument("dir", type=Path)
    reboot = verbs.add_parser(
        "reboot", help="reboot a node DIR (kernel state reset, hastd restarted) or a lab HOST"
    )
    reboot.add_argument("dir", type=Path, metavar="DIR|HOST")
    _carp_option(reboot, "CARP state of the vhids after the boot (DIR only)")
    reboot.add_argument("--id", help="cluster of HOST (default: the only one)")

    carp = verbs.add_parser("carp", help="set the CARP state of a vhid (as the kernel would)")
    carp.add_argument("dir", type=Path)
    carp.add_argument("state", type=str.upper, choices=["MASTER", "BACKUP", "INIT"])
    carp.add_argument("--vhid", type=int, help="vhid (default: the node's)")

    peer = verbs.add_parser("peer", help="connect or disconnect the simulated peer")
    peer.add_argument("dir", type=Path)
    peer.add_argument("action", choices=["connect", "disconnect"])
    peer.add_argument("resource")
    peer.add_argument("--seconds", type=float, help="disconnect by itself after S seconds")

    fault = verbs.add_parser("fault", help="add to or clear the fault plan")
    fault.add_argument("dir", type=Path)
    actions = fault.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a fault (matching COMMAND and ARGS-REGEX)")
    add.add_argument("command", help="shim name, or hastd for daemon-side faults")
    add.add_argument("args", metavar="ARGS-REGEX", help="regex searched in the arguments")
    add.add_argument("--exit", type=int, help="exit with this status")
    add.add_argument("--stdout", default="", help="text to print on stdout")
    add.add_argument("--stderr", default="", help="text to print on stderr")
    add.add_argument("--hang", type=float, default=0.0, metavar="S", help="sleep S seconds first")
    add.add_argument("--garbage", action="store_true", help="print junk and exit 0")
    add.add_argument("--times", type=int, help="fire at most N times")
    actions.add_parser("clear", help="remove the fault plan")
    add_cluster_verbs(verbs)
    return parser


def _carp_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--carp",
        default="BACKUP",
        type=str.upper,
        choices=["MASTER", "BACKUP", "INIT"],
        help=f"{what} (default BACKUP)",
    )


def main(argv: list[str]) -> int:
    """Run `carpswitch lab ARGV`; return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else EX_USAGE
    try:
        return _dispatch(args)
    except (LabError, FaultPlanError, ClusterError, OSError, ValueError) as exc:
        sys.stderr.write(f"carpswitch lab: {exc}\n")
        return EX_SOFTWARE


def _dispatch(args: argparse.Namespace) -> int:
    if args.verb == "start" and (args.dir is None or not (args.dir / "lab.json").exists()):
        args.id = None if args.dir is None else str(args.dir)  # `lab start [ID]`: a cluster
        return run_cluster_verb(args, [])
    if args.verb in CLUSTER_VERBS or (args.verb == "reboot" and _names_host(args)):
        resources = [_resource(text) for text in (getattr(args, "resource", None) or ["tank:raw"])]
        return run_cluster_verb(args, resources)
    if args.verb == "node":
        resources = [_resource(text) for text in (args.resource or ["tank:raw"])]
        node = create_node(
            args.dir,
            name=args.name,
            peer=args.peer,
            resources=resources,
            carp_state=args.carp,
            services=[*args.service, *args.disabled_service],
            disabled_services=args.disabled_service,
            freebsd_version=args.freebsd,
            rc_subr_exempts_status=args.newest_rc_subr,
            hast_timeout=args.hast_timeout,
            command_cost=args.command_cost,
            command_log=args.command_log,
            start=not args.no_start,
        )
        print(f"node {node.facts.name} in {node.path}; config {node.config_path}")
        return 0
    node = LabNode(args.dir)
    if args.verb == "start":
        node.start()
    elif args.verb == "stop":
        node.stop()
    elif args.verb == "reboot":
        node.reboot(args.carp)
    elif args.verb == "carp":
        node.set_carp(args.state, vhid=args.vhid)
    elif args.verb == "peer":
        if args.action == "connect":
            node.connect_peer(args.resource, args.seconds)
        else:
            node.disconnect_peer(args.resource)
    elif args.action == "clear":
        node.clear_faults()
    else:
        plan = load_plan(node.paths.faults)
        plan.append(
            Fault(
                command=args.command,
                args=args.args,
                exit=args.exit,
                stdout=args.stdout,
                stderr=args.stderr,
                hang=args.hang,
                garbage=args.garbage,
                times=args.times,
            )
        )
        node.set_faults(plan)
    return 0


def _names_host(args: argparse.Namespace) -> bool:
    """`lab reboot hasta` names a cluster host when a cluster is up (or --id is given)."""
    return str(args.dir) in HOSTS and bool(args.id or cluster_ids())


def _resource(text: str) -> LabResource:
    name, _, kind = text.partition(":")
    kind = kind or "raw"
    if not name or kind not in ("raw", "ufs", "zfs"):
        raise ValueError(f"--resource {text}: expected NAME[:raw|ufs|zfs]")
    return LabResource(name, kind)  # type: ignore[arg-type]  # checked above
