"""Two nodes for the split-brain commands' unit tests: hastctl and ifconfig faked per node
(exact FreeBSD texts), ssh from one node runs the other's carpswitch in this process."""

from __future__ import annotations

import contextlib
import io
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from carpswitch.cli_parser import build_parser
from carpswitch.commands.split_brain import run_split_brain_clear
from carpswitch.commands.split_brain_resolve import Resolve
from carpswitch.commands.split_brain_status import run_split_brain_facts
from carpswitch.config import load_config
from carpswitch.engine.journal import Journal
from carpswitch.engine.splitbrain import SplitBrainMarks
from carpswitch.errors import CommandFailed, CommandNotFound, CommandTimedOut
from carpswitch.model import TransitionKind, TransitionOutcome, TransitionRecord
from carpswitch.recovery.pair import RecoveryPair
from carpswitch.system.runner import CommandResult

HOSTS = {"hasta": "198.18.0.1", "hastb": "198.18.0.2"}
IFCONFIG = (
    "vtnet0: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500\n"
    "\tinet 198.18.0.100 netmask 0xffffff00 broadcast 198.18.0.255 vhid 7\n"
    "\tcarp: MASTER vhid 7 advbase 1 advskew 0\n"
)


def list_block(name: str, role: str, status: str = "degraded", dirty: int = 0) -> str:
    """`hastctl list` of one resource, as hastctl.c prints it."""
    lines = [
        f"{name}:",
        f"  role: {role}",
        f"  provname: {name}",
        "  localpath: /dev/ada1",
        "  extentsize: 2097152 (2.0MB)",
        "  keepdirty: 64",
        "  remoteaddr: 198.18.0.2",
        "  replication: memsync",
    ]
    if role != "init":
        lines.append(f"  status: {status}")
        lines.append("  workerpid: 1234")
    lines.append(f"  dirty: {dirty} ({dirty}B)")
    lines += [
        "  statistics:",
        "    reads: 19",
        "    writes: 1032",
        "    deletes: 0",
        "    flushes: 3",
        "    activemap updates: 5",
        "    local errors: read: 0, write: 0, delete: 0, flush: 0",
        "    queues: local: 0, send: 0, recv: 0, done: 0, idle: 256",
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Node:
    """One node: its config file and what its hastctl says; `fail` and `hang` by verb."""

    name: str
    root: Path
    roles: dict[str, str] = field(default_factory=lambda: {"tank": "primary"})
    calls: list[tuple[str, ...]] = field(default_factory=list)
    fail: dict[str, tuple[int, str]] = field(default_factory=dict)  # "create" -> status, err
    hang: set[str] = field(default_factory=set)
    created: list[str] = field(default_factory=list)
    demoted: list[str] = field(default_factory=list)
    demote_fails: str | None = None
    meanwhile: dict[str, str] = field(default_factory=dict)  # roles set between the checks

    @property
    def config_file(self) -> str:
        return str(self.root / "carpswitch.toml")

    @property
    def hast_conf(self) -> str:
        return str(self.root / "hast.conf")

    @property
    def state_dir(self) -> str:
        return str(self.root / "db")

    def marks(self) -> frozenset[str]:
        return SplitBrainMarks(self.state_dir).read().resources

    def mark(self, resource: str = "tank") -> None:
        SplitBrainMarks(self.state_dir).mark(resource, "e1")

    def promoted(self, ended: datetime, group: str = "vhid7") -> None:
        """A successful promotion of `group` in this node's journal, ended at `ended`."""
        record = TransitionRecord(
            id=f"{self.name}-{ended.timestamp():.0f}",
            kind=TransitionKind.PROMOTE,
            group=group,
            trigger="admin promote",
            reason="test",
            started_at=ended,
            ended_at=ended,
            outcome=TransitionOutcome.SUCCEEDED,
        )
        Journal(self.state_dir).write(record)

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
        status, out, err = self._answer(argv, timeout)
        if status not in ok_codes:
            raise CommandFailed(argv, status, out, err)
        return CommandResult(argv, status, out, err, 0.0)

    def _answer(self, argv: tuple[str, ...], timeout: float | None) -> tuple[int, str, str]:
        verb = argv[1] if argv[0] == "hastctl" else argv[0]
        if argv[0] == "hastctl" and argv[1] == "role":
            verb = f"role {argv[4]}"
        if verb in self.hang:
            raise CommandTimedOut(argv, timeout or 0.0, "", "")
        if verb in self.fail:
            status, err = self.fail[verb]
            return status, "", err
        match argv:
            case ("ifconfig",):
                return 0, IFCONFIG, ""
            case ("hastctl", "list", "-c", _):
                return 0, "".join(list_block(n, r) for n, r in self.roles.items()), ""
            case ("hastctl", "list", "-c", _, name):  # discard's look just before role init
                self.roles.update(self.meanwhile)
                return 0, list_block(name, self.roles[name]), ""
            case ("hastctl", "role", "-c", _, role, name):
                self.roles[name] = role
                return 0, "", ""
            case ("hastctl", "create", "-c", _, name):
                self.created.append(name)
                return 0, "", ""
        raise CommandNotFound(argv, argv[0])

    def demote(self, group: str) -> str | None:
        """The demotion resolve asks for (the controller's own is tested elsewhere)."""
        self.demoted.append(group)
        if self.demote_fails is not None:
            return self.demote_fails
        self.roles = dict.fromkeys(self.roles, "secondary")
        return None


@dataclass
class SimPair:
    """hasta and hastb; `runner(name)` is that node's runner, ssh reaching the other."""

    a: Node
    b: Node
    ssh_calls: list[list[str]] = field(default_factory=list)
    ssh_down: bool = False
    ssh_hangs: bool = False
    ssh_says: str | None = None  # an answer of something else
    ssh_hangs_on: str | None = None  # a remote action that hangs ("resolve", "clear")

    def node(self, name: str) -> Node:
        return self.a if name == "hasta" else self.b

    def other(self, name: str) -> Node:
        return self.b if name == "hasta" else self.a

    def runner(self, name: str) -> _Runner:
        return _Runner(self, self.node(name))

    def pair(self, name: str) -> RecoveryPair:
        return RecoveryPair(load_config(self.node(name).config_file), self.runner(name))

    def resolve(self, name: str, keep: bool, **kwargs: object) -> tuple[int, str, str]:
        """`split-brain resolve tank --keep-this|--discard-this` on `name`: status, out, err."""
        pair = self.pair(name)
        out, err = io.StringIO(), io.StringIO()
        stdin = io.StringIO(str(kwargs.pop("typed", "")))
        node = self.node(name)
        try:
            status = Resolve(
                pair, "tank", keep, stdin=stdin, out=out, err=err, demote=node.demote,
                **kwargs,  # type: ignore[arg-type]
            ).run()  # fmt: skip
        finally:
            pair.close()
        return status, out.getvalue(), err.getvalue()

    def remote(self, caller: Node, words: list[str]) -> tuple[int, str, str]:
        """Run `carpswitch WORDS` on the node `caller` is not."""
        node = self.other(caller.name)
        args = build_parser().parse_args(words[1:])
        out, err = io.StringIO(), io.StringIO()
        if args.action == "facts":
            status = run_split_brain_facts(node.config_file, out, _Runner(self, node))
        elif args.action == "clear":
            with contextlib.redirect_stdout(out):
                status = run_split_brain_clear(node.config_file, args.resources)
        else:
            pair = RecoveryPair(load_config(node.config_file), _Runner(self, node))
            status = Resolve(
                pair, args.resource, args.keep_this, args.yes, args.force, args.checked_by,
                stdin=io.StringIO(""), out=out, err=err, demote=node.demote,
            ).run()  # fmt: skip
        return status, out.getvalue(), err.getvalue()


@dataclass
class _Runner:
    pair: SimPair
    node: Node

    def run(
        self,
        command: str,
        *args: str,
        timeout: float | None = None,
        ok_codes: Sequence[int] = (0,),
        stdin: str | None = None,
    ) -> CommandResult:
        if command != "ssh":
            return self.node.run(command, *args, timeout=timeout, ok_codes=ok_codes)
        argv = (command, *args)
        if "-O" in args:
            return CommandResult(argv, 0, "", "", 0.0)
        words = shlex.split(args[-1])
        self.pair.ssh_calls.append(words)
        if self.pair.ssh_hangs or self.pair.ssh_hangs_on in words:
            raise CommandTimedOut(argv, timeout or 0.0, "", "")
        if self.pair.ssh_down:
            refused = "ssh: connect to host 198.18.0.2 port 22: Connection refused\n"
            status, out, err = 255, "", refused
        elif self.pair.ssh_says is not None:
            status, out, err = 0, self.pair.ssh_says, ""
        else:
            status, out, err = self.pair.remote(self.node, words)
        if status not in ok_codes:
            raise CommandFailed(argv, status, out, err)
        return CommandResult(argv, status, out, err, 0.0)


HAST_CONF = """\
resource tank {
	on hasta {
		local /dev/ada1
		remote 198.18.0.2
	}
	on hastb {
		local /dev/ada1
		remote 198.18.0.1
	}
}
"""


def make_pair(tmp_path: Path) -> SimPair:
    """Both nodes primary for tank (degraded), nothing marked, nothing journaled."""
    nodes = []
    for name in HOSTS:
        root = tmp_path / name
        (root / "run").mkdir(parents=True, mode=0o700)
        root.chmod(0o700)
        (root / "hast.conf").write_text(HAST_CONF)
        hosts = "".join(
            f'[[cluster.host]]\nname = "{host}"\naddress = "{address}"\n'
            for host, address in HOSTS.items()
        )
        text = (
            f'[node]\nname = "{name}"\n'
            f'[paths]\nstate_dir = "{root}/db"\nrun_dir = "{root}/run"\n'
            f'hast_conf = "{root}/hast.conf"\ndev_hast = "{root}/dev"\n'
            '[cluster]\ninterface = "vtnet0"\nvhid = 7\naddress = "198.18.0.100/24"\n'
            f'password = "s3cret-pass"\n{hosts}'
            '[[cluster.resource]]\nname = "tank"\nlocal = "/dev/ada1"\n'
        )
        (root / "carpswitch.toml").write_text(text)
        (root / "carpswitch.toml").chmod(0o600)
        nodes.append(Node(name, root))
    return SimPair(nodes[0], nodes[1])


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=UTC)
