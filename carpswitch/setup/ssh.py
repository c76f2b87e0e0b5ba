"""The transport to the peer: the system's OpenSSH client, through the one runner.

Key-based only (`BatchMode=yes`: no password prompt, ever), the host key must be known
(`StrictHostKeyChecking=yes`), and one master connection per command (`ControlMaster`,
socket under run_dir, `ssh -O exit` at the end). ssh exits 255 for its own failures; the
remote command's status is passed through otherwise. `transport_error` turns OpenSSH's
stderr (sshconnect.c, sshconnect2.c) into one line an admin can act on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
from collections.abc import Sequence
from typing import Any

from carpswitch.config import ClusterHost, Config
from carpswitch.errors import CommandError, CommandFailed, CommandTimedOut, one_line
from carpswitch.setup.files import SetupError
from carpswitch.setup.render import cluster_of
from carpswitch.system.runner import CommandResult, CommandRunner

#: sun_path of FreeBSD's sockaddr_un (104, NUL included); ssh binds the master socket at
#: ControlPath + "." + 16 random characters first (mux.c), then renames it.
SUN_PATH = 104
MUX_TEMP_SUFFIX = 17
SSH_FAILED = 255  # ssh(1): "exits with 255 if an error occurred"
#: The remote part's seconds beyond the connection: a plan observes, an apply may create
#: a zvol and start hastd (carpswitch's own timeouts bound each of its commands).
REMOTE_SECONDS = {"plan": 120.0, "facts": 120.0, "apply": 900.0, "resolve": 900.0}

#: (what OpenSSH prints, what it means). The first that matches wins.
_TRANSPORT = (
    ("Permission denied (", "no key accepted (ssh key-based login as {user} failed)"),
    ("Host key verification failed", "host key unknown or changed (check known_hosts)"),
    ("REMOTE HOST IDENTIFICATION HAS CHANGED", "host key changed (check known_hosts)"),
    ("Connection refused", "unreachable (connection refused: is sshd running?)"),
    ("timed out", "unreachable (connection timed out)"),
    ("No route to host", "unreachable (no route to host)"),
    ("Network is unreachable", "unreachable (network is unreachable)"),
    ("Could not resolve hostname", "unreachable (cannot resolve the host name)"),
    ("Connection closed by", "connection closed by the peer"),
)


def transport_error(stderr: str, user: str = "root") -> str:
    """One line for ssh's exit 255, from its stderr (unknown texts: the last line)."""
    for needle, meaning in _TRANSPORT:
        if needle in stderr:
            return meaning.format(user=user)
    lines = [line for line in stderr.splitlines() if line.strip()]
    return one_line(lines[-1]) if lines else "ssh failed without a message"


def control_path(run_dir: str, target: str, port: int) -> str | None:
    """run_dir/ssh-HASH (12 hex of user@address:port; ssh's %C is 40 and too long for a
    lab's run_dir), or None when even that does not fit in a socket address."""
    digest = hashlib.sha256(f"{target}:{port}".encode()).hexdigest()[:12]
    path = os.path.join(run_dir, f"ssh-{digest}")
    return path if len(path.encode()) + MUX_TEMP_SUFFIX < SUN_PATH else None


class Peer:
    """The other node, reached over ssh; `ask` runs `carpswitch setup receive WHAT`."""

    def __init__(self, config: Config, host: ClusterHost, runner: CommandRunner) -> None:
        self.config = config
        self.host = host
        self.runner = runner
        self.control_path = control_path(config.paths.run_dir, self.target, host.ssh_port)

    def ssh_options(self) -> list[str]:
        ssh = cluster_of(self.config).ssh
        options = [
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"ConnectTimeout={ssh.connect_timeout}",
        ]  # fmt: skip
        if self.control_path is None:  # run_dir too long for a socket: one connection each
            options += ["-o", "ControlMaster=no", "-o", "ControlPath=none"]
        else:
            options += ["-o", "ControlMaster=auto", "-o", f"ControlPath={self.control_path}"]
            options += ["-o", "ControlPersist=no"]
        if ssh.identity is not None:
            options += ["-i", ssh.identity]
        if ssh.known_hosts is not None:
            options += ["-o", f"UserKnownHostsFile={ssh.known_hosts}"]
        if self.host.ssh_port != 22:
            options += ["-p", str(self.host.ssh_port)]
        return options

    @property
    def target(self) -> str:
        return f"{self.host.ssh_user}@{self.host.address}"

    def argv(self, what: str) -> list[str]:
        """ssh's arguments for `carpswitch setup receive WHAT --as HOST` on the peer."""
        return self.remote_argv(["setup", "receive", what, "--as", self.host.name])

    def remote_argv(self, words: Sequence[str]) -> list[str]:
        """ssh's arguments for `carpswitch WORDS` on the peer (one shell-quoted string)."""
        remote = [self.host.carpswitch, *words]
        return [*self.ssh_options(), self.target, "--", shlex.join(remote)]

    def carpswitch(
        self,
        words: Sequence[str],
        limit: float,
        stdin: str | None = None,
        ok_codes: Sequence[int] = (0, 1),
    ) -> CommandResult:
        """Run `carpswitch WORDS` on the peer; SetupError naming the peer when ssh fails,
        times out, or the command exits with a status outside `ok_codes`."""
        name = self.host.name
        with contextlib.suppress(OSError):
            os.makedirs(self.config.paths.run_dir, mode=0o700, exist_ok=True)
        try:
            return self.runner.run(
                "ssh", *self.remote_argv(words), timeout=limit, stdin=stdin, ok_codes=ok_codes
            )
        except CommandTimedOut as exc:
            raise SetupError(f"peer {name}: ssh timed out after {exc.timeout:g} s") from exc
        except CommandFailed as exc:
            if exc.exit_status == SSH_FAILED:
                why = transport_error(exc.stderr, self.host.ssh_user)
                raise SetupError(f"peer {name} ({self.target}): {why}") from exc
            raise SetupError(f"peer {name}: {one_line(str(exc))}") from exc
        except CommandError as exc:
            raise SetupError(f"peer {name}: {one_line(str(exc))}") from exc

    def ask(self, what: str, shared_text: str) -> dict[str, Any]:
        """The peer's JSON answer, or SetupError naming the peer and what went wrong."""
        name = self.host.name
        limit = cluster_of(self.config).ssh.connect_timeout + REMOTE_SECONDS[what]
        words = ["setup", "receive", what, "--as", self.host.name]
        result = self.carpswitch(words, limit, stdin=shared_text)
        try:
            answer = json.loads(result.stdout)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            said = one_line(result.stdout or result.stderr or "nothing", 120)
            raise SetupError(f"peer {name}: not an answer of carpswitch setup receive: {said}")
        if "error" in answer:
            raise SetupError(f"peer {name}: {one_line(str(answer['error']))}")
        if result.exit_status != 0:
            raise SetupError(f"peer {name}: exit status {result.exit_status}")
        return answer

    def close(self) -> None:
        """`ssh -O exit`: end the master connection (none running is fine)."""
        if self.control_path is None:
            return
        with contextlib.suppress(CommandError):
            self.runner.run(
                "ssh", "-o", f"ControlPath={self.control_path}", "-O", "exit", self.target,
                timeout=10.0, ok_codes=(0, 255),
            )  # fmt: skip
