"""Lab nodes for the benchmarks, made through the lab's public API only.

Resource names carry a random tag: the Handbook script's `pgrep -f "hastd: NAME
(secondary)"` sees every process of the machine, so names must not collide with the lab
nodes of anything else running here.
"""

from __future__ import annotations

import inspect
import os
import secrets
import shutil
import string
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.clirun import Timed, carpswitch_argv, run_timed
from bench.cmdlog import Command, parse_command_log
from carpswitch.lab.node import LabNode, LabResource, create_node

#: The lab's fixed-cost mode and command log (carpswitch.lab.meter), when the tree has them.
FIXED_COST_SUPPORTED = "command_cost" in inspect.signature(create_node).parameters


def tag() -> str:
    """A short random tag of lowercase letters (hast.conf word characters)."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(4))


#: The defaults (observe 10 s, role 10 s, device 10 s) are FreeBSD's scale; a simulated
#: command under a loaded machine's 64 parallel calls can take longer. The benchmarks
#: measure speed, not what a timeout does, so they give the reads and role changes room
#: (and `release` room above the peer's worst-case demotion, as `carpswitch check` asks).
ROOMY_TIMEOUTS = """
[timeouts]
observe = 300
role = 300
device = 300
release = 3600
"""


class BenchNode:
    """A started lab node with `count` resources of `kind`, all secondary, CARP BACKUP."""

    def __init__(
        self, root: Path, count: int, kind: str, cost: float | None, start: bool = True
    ) -> None:
        self.kind = kind
        self.cost = cost
        prefix = f"b{tag()}"
        self.names = [f"{prefix}{i:02d}" for i in range(count)]
        resources = [LabResource(name, kind) for name in self.names]  # type: ignore[arg-type]
        options: dict[str, Any] = {}
        if FIXED_COST_SUPPORTED:
            options = {"command_cost": cost, "command_log": True}
        self.node: LabNode = create_node(
            root, resources=resources, carp_state="BACKUP", start=start, **options
        )
        config = self.node.config_path
        config.write_text(config.read_text() + ROOMY_TIMEOUTS)
        self.config = str(config)
        self.run_dir = self.node.paths.carpswitch_run_dir
        if not start:
            return
        result = self.node.run("hastctl", "role", "secondary", "all")
        if result.returncode != 0:
            raise RuntimeError(f"hastctl role secondary all: {result.stderr}")

    @property
    def bin(self) -> Path:
        """DIR/bin: the node's shims, named as the FreeBSD commands."""
        return self.node.paths.bin

    @property
    def logged(self) -> bool:
        return FIXED_COST_SUPPORTED

    def commands(self) -> list[Command]:
        """Every command the node's shims logged so far (empty without a command log)."""
        if not FIXED_COST_SUPPORTED:
            return []
        try:
            return parse_command_log(self.node.command_log.read_text())
        except FileNotFoundError:
            return []

    def carpswitch(self, *args: str) -> Timed:
        """`carpswitch -vv -c CONFIG ARGS`, timed, debug lines on stderr."""
        timed = run_timed(carpswitch_argv("-vv", "-c", self.config, *args))
        if timed.exit_status != 0:
            tail = timed.stderr_text()[-2000:]
            raise RuntimeError(f"carpswitch {' '.join(args)} exit {timed.exit_status}:\n{tail}")
        return timed

    def promote(self) -> Timed:
        self.node.set_carp("MASTER")
        return self.carpswitch("promote")

    def demote(self) -> Timed:
        self.node.set_carp("BACKUP")
        return self.carpswitch("demote")

    def handbook(self, verb: str) -> Timed:
        """The Handbook's carp-hast-switch `master`/`slave` on this node's resources."""
        self.node.set_carp("MASTER" if verb == "master" else "BACKUP")
        env = {
            **os.environ,
            "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HANDBOOK_RESOURCES": " ".join(self.names),
            "HANDBOOK_DEV_HAST": str(self.node.paths.dev_hast),
            "HANDBOOK_MOUNT_ROOT": str(self.node.paths.mnt),
            "HANDBOOK_PROVIDER_TEST": "-e",  # lab providers are symlinks, not char devices
        }
        timed = run_timed(["sh", str(HANDBOOK_SCRIPT), verb], env=env)
        if timed.exit_status != 0:
            raise RuntimeError(
                f"carp-hast-switch {verb} exit {timed.exit_status}: {timed.stderr_text()[-2000:]}"
            )
        return timed

    def stop(self) -> None:
        self.node.stop()


#: `make(count, kind="ufs", cost=None, start=True)` of `bench_nodes`.
MakeNode = Callable[..., BenchNode]

HANDBOOK_SCRIPT = Path(__file__).parent / "baseline" / "carp-hast-switch"


@contextmanager
def bench_nodes() -> Iterator[MakeNode]:
    """A factory `make(count, kind, cost)` of BenchNodes; every node is stopped after."""
    root = Path(tempfile.mkdtemp(prefix="csb-", dir="/tmp"))
    made: list[BenchNode] = []

    def make(
        count: int, kind: str = "ufs", cost: float | None = None, start: bool = True
    ) -> BenchNode:
        node = BenchNode(root / f"n{len(made)}", count, kind, cost, start)
        made.append(node)
        return node

    try:
        yield make
    finally:
        for node in made:
            try:
                node.stop()
            except Exception as exc:  # keep stopping the others
                print(f"bench: stopping {node.node.path}: {exc}")
        shutil.rmtree(root, ignore_errors=True)
