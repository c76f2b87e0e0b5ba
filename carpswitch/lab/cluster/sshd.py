"""OpenSSH between the lab's hosts: an sshd in each host's namespace, keys for root.

Set-up reaches the peer as a FreeBSD admin's tools do: the system's ssh client, key-based,
`BatchMode=yes`, `StrictHostKeyChecking=yes`. Each host gets (all inside its node
directory, nothing in the machine's /etc/ssh or /root/.ssh):

    DIR/etc/ssh/sshd_config, DIR/etc/ssh/ssh_host_ed25519_key[.pub]   its sshd
    DIR/root/.ssh/id_ed25519[.pub]       root's client key (what [cluster.ssh] identity names)
    DIR/root/.ssh/authorized_keys        the peer's root key (sshd's AuthorizedKeysFile)
    DIR/root/.ssh/known_hosts            the peer's host key at the peer's address

sshd runs `-D -e -f DIR/etc/ssh/sshd_config` in the host's namespace, marked as the node's,
so teardown kills it and every session it forked (namespace and marker sweeps).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from carpswitch.lab.cluster.command import ClusterError, in_netns, run
from carpswitch.lab.cluster.detach import spawn_detached
from carpswitch.lab.cluster.net import HostNet
from carpswitch.lab.daemons import pid_alive
from carpswitch.lab.paths import NodePaths

SSHD = Path("/usr/sbin/sshd")
SSH_KEYGEN = Path("/usr/bin/ssh-keygen")
#: sshd's privilege separation directory (Debian's openssh-server; sshd refuses without it).
PRIVSEP_DIR = Path("/run/sshd")
_READY = 10.0


@dataclass(frozen=True)
class SshFiles:
    """The OpenSSH files of one lab host."""

    root: Path

    @classmethod
    def of(cls, paths: NodePaths) -> SshFiles:
        return cls(paths.root)

    @property
    def config(self) -> Path:
        return self.root / "etc" / "ssh" / "sshd_config"

    @property
    def bin(self) -> Path:
        """The node's commands (its shims and the carpswitch wrapper)."""
        return self.root / "bin"

    @property
    def host_key(self) -> Path:
        return self.root / "etc" / "ssh" / "ssh_host_ed25519_key"

    @property
    def dot_ssh(self) -> Path:
        return self.root / "root" / ".ssh"

    @property
    def identity(self) -> Path:
        """root's private key: `ssh -i` ([cluster.ssh] identity)."""
        return self.dot_ssh / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.dot_ssh / "authorized_keys"

    @property
    def known_hosts(self) -> Path:
        """`UserKnownHostsFile` ([cluster.ssh] known_hosts)."""
        return self.dot_ssh / "known_hosts"

    @property
    def pidfile(self) -> Path:
        return self.root / "var" / "run" / "sshd.pid"

    @property
    def log(self) -> Path:
        return self.root / "var" / "log" / "sshd.log"


def sshd_config_text(files: SshFiles, address: str) -> str:
    """An sshd_config letting only root in, only with a key from authorized_keys.

    StrictModes is off: the lab directory lies under /tmp (mode 1777), which sshd's
    ownership check of AuthorizedKeysFile's directories would refuse.
    """
    return "\n".join(
        (
            "# sshd of a carpswitch lab host (Debian openssh-server in its namespace)",
            f"ListenAddress {address}",
            "Port 22",
            f"HostKey {files.host_key}",
            f"PidFile {files.pidfile}",
            f"AuthorizedKeysFile {files.authorized_keys}",
            "AllowUsers root",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PermitUserEnvironment no",
            # a session on a lab host sees that node's commands first, as a shell on the
            # FreeBSD host would: `carpswitch` is the node's DIR/bin/carpswitch wrapper
            f"SetEnv PATH={files.bin}:/usr/sbin:/usr/bin:/sbin:/bin",
            "LogLevel INFO",
            "",
        )
    )


def keygen(path: Path, comment: str) -> None:
    """A new ed25519 key pair at `path`/`path`.pub (replacing any there)."""
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".pub").unlink(missing_ok=True)
    run([str(SSH_KEYGEN), "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def public_key(path: Path) -> str:
    """The `TYPE BASE64` of the key pair at `path` (no comment)."""
    return " ".join(path.with_name(path.name + ".pub").read_text().split()[:2])


def prepare(files: SshFiles, host: HostNet) -> None:
    """Host key, root's client key, sshd_config; empty authorized_keys and known_hosts."""
    files.config.parent.mkdir(parents=True, exist_ok=True)
    files.dot_ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    keygen(files.host_key, f"host key of lab host {host.name}")
    keygen(files.identity, f"root@{host.name} (carpswitch lab)")
    files.config.write_text(sshd_config_text(files, host.address))
    for path in (files.authorized_keys, files.known_hosts):
        path.write_text("")
        path.chmod(0o600)


def trust(client: SshFiles, server: SshFiles, server_host: HostNet) -> None:
    """`client`'s root may log in on `server`, and knows `server`'s host key."""
    with server.authorized_keys.open("a") as keys:
        keys.write(public_key(client.identity) + "\n")
    with client.known_hosts.open("a") as known:
        known.write(f"{server_host.address} {public_key(server.host_key)}\n")


def start(files: SshFiles, host: HostNet, env: dict[str, str]) -> int:
    """Start sshd in `host`'s namespace; return its pid once it has written its pid file
    (it listens then). ClusterError naming its log if it exits or takes too long."""
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    files.pidfile.unlink(missing_ok=True)
    argv = in_netns(host.netns, [str(SSHD), "-D", "-e", "-f", str(files.config)])
    pid = spawn_detached(argv, env, files.log)
    deadline = time.monotonic() + _READY
    while not _holds(files.pidfile, pid):
        if not pid_alive(pid) or time.monotonic() >= deadline:
            raise ClusterError(f"{host.name}: sshd did not start (see {files.log}): {_tail(files)}")
        time.sleep(0.02)
    return pid


def stop(files: SshFiles) -> None:
    """SIGTERM the sshd of `files` if it runs (its sessions end with their connection)."""
    try:
        pid = int(files.pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if pid_alive(pid):
        os.kill(pid, 15)


def _holds(pidfile: Path, pid: int) -> bool:
    """sshd -D forks no daemon, but nsenter execs it: the pid file names `pid`."""
    try:
        return pidfile.read_text().split() == [str(pid)]
    except OSError:
        return False


def _tail(files: SshFiles) -> str:
    try:
        return " | ".join(files.log.read_text().splitlines()[-3:])
    except OSError:
        return "no log"
