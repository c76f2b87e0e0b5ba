"""sshd in the lab's namespaces: root with its key reaches the peer, nothing else does."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from carpswitch.lab.cluster import sshd
from carpswitch.lab.cluster.cluster import Cluster
from carpswitch.lab.cluster.teardown import tgtd_ports

from .conftest import leftovers

pytestmark = pytest.mark.cluster


@pytest.fixture(autouse=True)
def _need_openssh() -> None:
    for binary in (sshd.SSHD, sshd.SSH_KEYGEN, Path("/usr/bin/ssh")):
        if not binary.exists():
            pytest.skip(f"{binary} is missing (Debian openssh-server / openssh-client)")


def _ssh(
    cluster: Cluster, identity: Path, known_hosts: Path, *command: str
) -> subprocess.CompletedProcess[str]:
    """hasta's DIR/bin/ssh to hastb, with the options set-up's transport uses."""
    hasta = cluster.node("hasta")
    return subprocess.run(
        [
            str(hasta.bin / "ssh"),
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "ConnectTimeout=5",
            "-o", "IdentitiesOnly=yes",
            "-i", str(identity),
            "-o", f"UserKnownHostsFile={known_hosts}",
            f"root@{cluster.net.host('hastb').address}",
            "--",
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip


def test_root_key_reaches_the_peer_and_wrong_keys_do_not(
    make_cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    cluster = make_cluster(up=False, resources=())
    cluster.up_empty()
    mine = sshd.SshFiles.of(cluster.node("hasta").paths)
    hastb = cluster.node("hastb")

    done = _ssh(cluster, mine.identity, mine.known_hosts, "cat", str(hastb.paths.facts))
    assert done.returncode == 0, done.stderr
    assert '"name": "hastb"' in done.stdout  # ran on hastb's node, in hastb's namespace
    where = _ssh(cluster, mine.identity, mine.known_hosts, "ip", "-4", "-o", "addr")
    assert cluster.net.host("hastb").address in where.stdout
    assert cluster.net.host("hasta").address not in where.stdout

    stranger = tmp_path / "id_stranger"
    sshd.keygen(stranger, "not authorized")
    refused = _ssh(cluster, stranger, mine.known_hosts, "true")
    assert refused.returncode == 255
    assert "Permission denied (publickey" in refused.stderr

    other = tmp_path / "other_host_key"
    sshd.keygen(other, "a host key hastb never had")
    changed = tmp_path / "known_hosts"
    changed.write_text(f"{cluster.net.host('hastb').address} {sshd.public_key(other)}\n")
    mismatch = _ssh(cluster, mine.identity, changed, "true")
    assert mismatch.returncode == 255
    assert "Host key verification failed" in mismatch.stderr

    assert not (cluster.node("hasta").paths.var_run / "hastd.pid").exists()  # nothing else ran
    ports = tgtd_ports(cluster.record)
    cluster.down()
    assert leftovers(cluster.record, ports) == []
