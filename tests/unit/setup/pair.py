"""Two simulated nodes for set-up's command tests: ssh to the peer runs its receive side."""

from __future__ import annotations

import io
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carpswitch.errors import CommandFailed, CommandTimedOut
from carpswitch.setup.receive import run_receive
from carpswitch.setup.render import render_config
from carpswitch.system.runner import CommandResult
from tests.unit.setup.simnode import SimNode, node_config


@dataclass
class Pair:
    """hasta (this node) and hastb (the peer); `run` is hasta's runner."""

    a: SimNode
    b: SimNode
    a_file: str
    b_file: str
    ssh_calls: list[tuple[str, ...]] = field(default_factory=list)
    ssh_reply: tuple[int, str, str] | None = None  # a transport failure instead of the peer
    ssh_hangs: bool = False

    def run(
        self,
        command: str,
        *args: str,
        timeout: float | None = None,
        ok_codes: Sequence[int] = (0,),
        stdin: str | None = None,
    ) -> CommandResult:
        if command != "ssh":
            return self.a.run(command, *args, timeout=timeout, ok_codes=ok_codes, stdin=stdin)
        argv = (command, *args)
        self.ssh_calls.append(argv)
        if "-O" in args:
            return CommandResult(argv, 0, "", "", 0.0)
        if self.ssh_hangs:
            raise CommandTimedOut(argv, timeout or 0.0, "", "")
        if self.ssh_reply is not None:
            status, out, err = self.ssh_reply
        else:
            remote = shlex.split(args[-1])
            assert remote[:3] == ["carpswitch", "setup", "receive"], remote
            out_buffer = io.StringIO()
            status = run_receive(
                remote[3], remote[5], self.b_file, io.StringIO(stdin or ""), out_buffer, self.b
            )
            out, err = out_buffer.getvalue(), ""
        if status not in ok_codes:
            raise CommandFailed(argv, status, out, err)
        return CommandResult(argv, status, out, err, 0.0)


def make_pair(tmp_path: Path, cluster_data: dict[str, Any]) -> Pair:
    """hasta with the whole config; hastb with only its node-local sections, as after init."""
    a_root, b_root = tmp_path / "a", tmp_path / "b"
    a_config = node_config(cluster_data, str(a_root), "hasta")
    b_config = node_config(cluster_data, str(b_root), "hastb")
    a_file, b_file = str(a_root / "carpswitch.toml"), str(b_root / "carpswitch.toml")
    Path(a_file).write_text(render_config(a_config))
    Path(b_file).write_text(render_config(b_config.replace(cluster=None)))
    for path in (a_file, b_file):
        Path(path).chmod(0o600)
    return Pair(
        SimNode(a_config.paths.hast_conf), SimNode(b_config.paths.hast_conf), a_file, b_file
    )
