"""The lab host's devd: read devctl events, run the first matching devd.conf action.

As devd(8) does (freebsd-interfaces.md §3): rules are `notify PRIO { match "VAR" "RE";
... action "CMD"; };`, a match is a case-insensitive extended regex anchored at both
ends, only the first matching rule runs (highest priority first, ties in file order),
`$var` in the action expands shell-quoted, the action runs through `/bin/sh -c` and devd
waits for it before it reads the next event. The rules are the project's own
conf/devd-carp.conf, installed into the node as DIR/usr/local/etc/devd/carpswitch.conf;
only the controller's path in the action is the lab's. Actions get CARPSWITCH_CONFIG
(the node's carpswitch.toml): on FreeBSD it is the default path.

    python -m carpswitch.lab.cluster.devd DIR
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from carpswitch.lab.cluster.kernel import devctl_path
from carpswitch.lab.paths import NodePaths

#: Where FreeBSD's devd.conf reads local rules, inside the node directory.
RULES_DIR = Path("usr/local/etc/devd")
CONTROLLER_PATH = "/usr/local/sbin/carpswitch"
#: DIR/var/run/devd.seqpacket.pipe (the lab config's `[paths] devd_socket`).
SOCKET_NAME = "devd.seqpacket.pipe"
#: devd -l: at most this many clients.
MAX_CLIENTS = 10
_NOTIFY = re.compile(r"notify\s+(-?\d+)\s*\{(.*?)\}\s*;", re.S)
_STATEMENT = re.compile(r'(match|action)\s+"((?:[^"\\]|\\.)*)"(?:\s+"((?:[^"\\]|\\.)*)")?\s*;')


@dataclass(frozen=True)
class Rule:
    """A `notify` rule: its priority, matches and action."""

    priority: int
    matches: tuple[tuple[str, str], ...]
    action: str


def parse_rules(text: str) -> list[Rule]:
    """`notify` rules of a devd.conf text, in the order devd tries them."""
    text = re.sub(r"#[^\n]*", "", text)
    rules = []
    for priority, body in _NOTIFY.findall(text):
        matches = []
        action = ""
        for word, first, second in _STATEMENT.findall(body):
            if word == "match":
                matches.append((first, second))
            else:
                action = first
        rules.append(Rule(int(priority), tuple(matches), action))
    return sorted(rules, key=lambda r: -r.priority)  # stable: ties keep file order


def event_variables(event: str) -> dict[str, str]:
    """devd's variables of a `!key=value ...` event (plus `*` and `_`)."""
    line = event.rstrip("\n")
    found = dict(token.split("=", 1) for token in line[1:].split() if "=" in token)
    found["*"] = line
    found["_"] = line[1:]
    return found


def matching_rule(rules: list[Rule], variables: dict[str, str]) -> Rule | None:
    """The first rule all of whose matches hold (devd runs only that one)."""
    for rule in rules:
        if all(_matches(variables, name, regex) for name, regex in rule.matches):
            return rule
    return None


def _matches(variables: dict[str, str], name: str, regex: str) -> bool:
    negate = regex.startswith("!")
    if negate:
        regex = regex[1:]
    hit = re.fullmatch(regex, variables.get(name, ""), re.IGNORECASE) is not None
    return hit != negate


def expand(action: str, variables: dict[str, str]) -> str:
    """`$var` -> its value shell-quoted, `$$` -> `$` (devd.cc expand_one, shell_quote)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return "$" if name == "$" else shlex.quote(variables.get(name, ""))

    return re.sub(r"\$(\$|[A-Za-z_][A-Za-z0-9_]*)", one, action)


def controller_command() -> str:
    """The lab's carpswitch (the interpreter running the lab, as a shell word)."""
    return f"{shlex.quote(sys.executable)} -m carpswitch"


class Devd:
    """One host's devd, reading the lab's devctl FIFO."""

    def __init__(self, root: Path) -> None:
        self.paths = NodePaths.of(root)
        self.rules = [
            rule
            for conf in sorted((self.paths.root / RULES_DIR).glob("*.conf"))
            for rule in parse_rules(conf.read_text())
        ]
        self.rules.sort(key=lambda r: -r.priority)
        self.log_path = self.paths.var_log / "devd.log"

    def log(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())
        with self.log_path.open("a") as log:
            log.write(f"{stamp}.{int(time.time() * 1000) % 1000:03d} devd: {message}\n")

    def handle(self, event: str) -> None:
        """Run the first matching action for `event` and wait for it."""
        variables = event_variables(event)
        rule = matching_rule(self.rules, variables)
        if rule is None:
            self.log(f"{event.rstrip()}: no rule")
            return
        command = expand(rule.action, variables).replace(CONTROLLER_PATH, controller_command())
        self.log(f"{event.rstrip()}: {command}")
        env = {
            **os.environ,
            "CARPSWITCH_CONFIG": str(self.paths.config),
            "PATH": "/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin",
        }
        started = time.monotonic()
        with self.log_path.open("a") as output:
            done = subprocess.run(
                ["/bin/sh", "-c", command], stdout=output, stderr=output, env=env, check=False
            )  # devd waits, without a bound (a hanging action holds up later events)
        self.log(f"exit {done.returncode} after {time.monotonic() - started:.3f} s")

    def run(self) -> int:
        """Read events forever (SIGTERM ends it)."""
        fifo = devctl_path(self.paths)
        with contextlib.suppress(FileExistsError):
            os.mkfifo(fifo, 0o600)
        fd = os.open(fifo, os.O_RDWR)  # also a writer: never EOF when the last writer leaves
        clients = ClientSocket(self.paths.var_run / SOCKET_NAME)
        (self.paths.var_run / "devd.pid").write_text(f"{os.getpid()}\n")
        self.log(f"started, {len(self.rules)} rules")
        pending = b""
        while True:
            if not clients.wait(fd):
                continue
            pending += os.read(fd, 4096)
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if line.startswith(b"!"):
                    clients.send(line + b"\n")  # devd forwards before it runs the action
                    self.handle(line.decode("utf-8", "replace") + "\n")


class ClientSocket:
    """devd's /var/run/devd.seqpacket.pipe: every event, one record each, to every client.

    A client that cannot take an event is dropped (devd.cc notify_clients).
    """

    def __init__(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(str(path))
        os.chmod(path, 0o666)  # noqa: S103 - devd's sockets are 0666 (devd.cc)
        self.listener.listen(MAX_CLIENTS)
        self.clients: list[socket.socket] = []

    def wait(self, fd: int) -> bool:
        """Wait for an event or a client; True when `fd` has an event to read."""
        watched: list[int | socket.socket] = [fd, self.listener, *self.clients]
        ready, _, _ = select.select(watched, [], [])
        if self.listener in ready:
            client, _ = self.listener.accept()
            client.setblocking(False)
            self.clients.append(client)
        for client in [c for c in self.clients if c in ready]:
            self._drop(client)  # clients never write: readable means it hung up
        return fd in ready

    def send(self, record: bytes) -> None:
        for client in list(self.clients):
            try:
                client.send(record, socket.MSG_EOR)
            except OSError:
                self._drop(client)

    def _drop(self, client: socket.socket) -> None:
        self.clients.remove(client)
        client.close()


def main(argv: list[str]) -> int:
    """`python -m carpswitch.lab.cluster.devd DIR`."""
    if len(argv) != 1:
        sys.stderr.write("usage: python -m carpswitch.lab.cluster.devd DIR\n")
        return 64
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    return Devd(Path(argv[0])).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
