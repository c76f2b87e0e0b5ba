"""The ssh transport: its argv, and OpenSSH's exit-255 texts turned into one line each.

The stderr texts are OpenSSH's (openssh-portable sshconnect.c ssh_connect_direct: "ssh:
connect to host %s port %s: %s"; sshconnect2.c ssh_userauth2: "%s@%s: Permission denied
(%s)."; sshconnect.c check_host_key: "Host key verification failed.").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from carpswitch.setup.files import SetupError
from carpswitch.setup.ssh import Peer, transport_error
from tests.fakes import FakeRunner
from tests.unit.setup.simnode import node_config

CHANGED = """\
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Host key for 198.18.0.2 has changed and you have requested strict checking.
Host key verification failed.
"""


@pytest.mark.parametrize(
    ("stderr", "meaning"),
    [
        ("root@198.18.0.2: Permission denied (publickey).\n", "no key accepted"),
        (
            "No ED25519 host key is known for 198.18.0.2 and you have requested strict "
            "checking.\nHost key verification failed.\n",
            "host key unknown or changed",
        ),
        (CHANGED, "host key unknown or changed"),
        ("ssh: connect to host 198.18.0.2 port 22: Connection refused\n", "connection refused"),
        ("ssh: connect to host 198.18.0.2 port 22: Connection timed out\n", "timed out"),
        ("ssh: connect to host 198.18.0.2 port 22: Operation timed out\n", "timed out"),
        ("ssh: connect to host 198.18.0.2 port 22: No route to host\n", "no route to host"),
        (
            "ssh: Could not resolve hostname hastb: Name or service not known\n",
            "cannot resolve",
        ),
        ("Connection closed by 198.18.0.2 port 22\n", "connection closed"),
        ("something new\nkex_exchange_identification: read: reset\n", "kex_exchange"),
        ("", "without a message"),
    ],
)
def test_transport_error_says_what_happened(stderr: str, meaning: str) -> None:
    assert meaning in transport_error(stderr)
    assert "\n" not in transport_error(stderr)


def _peer(tmp_path: Path, cluster_data: dict[str, Any], runner: FakeRunner) -> Peer:
    cluster_data["cluster"]["ssh"] = {"identity": "/k/id", "known_hosts": "/k/kh"}
    cluster_data["cluster"]["host"][1]["ssh_port"] = 2222
    config = node_config(cluster_data, str(tmp_path))
    assert config.cluster is not None
    return Peer(config, config.cluster.host[1], runner)


def test_argv_is_batch_mode_strict_with_one_master(
    tmp_path: Path, cluster_data: dict[str, Any]
) -> None:
    peer = _peer(tmp_path, cluster_data, FakeRunner())
    argv = peer.argv("plan")
    assert argv[argv.index("--") :] == ["--", "carpswitch setup receive plan --as hastb"]
    options = " ".join(argv)
    for word in (
        "-o BatchMode=yes",
        "-o StrictHostKeyChecking=yes",
        "-o ConnectTimeout=10",
        "-o ControlMaster=auto",
        f"-o ControlPath={tmp_path}/run/ssh-",
        "-o ControlPersist=no",
        "-i /k/id",
        "-o UserKnownHostsFile=/k/kh",
        "-p 2222",
    ):
        assert word in options
    assert argv[argv.index("--") - 1] == "root@198.18.0.2"


def test_exit_255_is_a_transport_error_naming_the_peer(
    tmp_path: Path, cluster_data: dict[str, Any]
) -> None:
    runner = FakeRunner()
    peer = _peer(tmp_path, cluster_data, runner)
    runner.reply(
        ("ssh", *peer.argv("plan")), exit_status=255, stderr="Host key verification failed.\n"
    )
    with pytest.raises(SetupError) as caught:
        peer.ask("plan", "")
    assert str(caught.value) == (
        "peer hastb (root@198.18.0.2): host key unknown or changed (check known_hosts)"
    )


@pytest.mark.parametrize(
    ("stdout", "exit_status", "message"),
    [
        ("not json at all\n", 0, "not an answer of carpswitch setup receive: not json"),
        ("[1, 2]\n", 0, "not an answer"),
        ('{"error": "this node is hasta, not hastb: nothing changed"}\n', 1, "this node is"),
        ('{"host": "hastb"}\n', 1, "exit status 1"),
    ],
)
def test_a_lying_peer_is_an_error(
    tmp_path: Path, cluster_data: dict[str, Any], stdout: str, exit_status: int, message: str
) -> None:
    runner = FakeRunner()
    peer = _peer(tmp_path, cluster_data, runner)
    runner.reply(("ssh", *peer.argv("facts")), stdout=stdout, exit_status=exit_status)
    with pytest.raises(SetupError, match=message):
        peer.ask("facts", "")


def test_a_hanging_ssh_is_a_timeout(tmp_path: Path, cluster_data: dict[str, Any]) -> None:
    runner = FakeRunner()
    peer = _peer(tmp_path, cluster_data, runner)
    runner.reply(("ssh", *peer.argv("apply")), timed_out=True)
    with pytest.raises(SetupError, match=r"^peer hastb: ssh timed out after"):
        peer.ask("apply", "")


def test_a_run_dir_too_long_for_the_socket_means_one_connection_each(
    tmp_path: Path, cluster_data: dict[str, Any]
) -> None:
    runner = FakeRunner()
    peer = _peer(tmp_path, cluster_data, runner)
    assert peer.control_path is not None
    assert len(peer.control_path) + 17 < 104  # ssh binds PATH.XXXXXXXXXXXXXXXX first
    base = peer.config
    run_dir = "/var/run/" + "d" * 72  # 81 bytes: fits intake.sock (91), not ssh-HASH.XXX
    config = base.replace(paths=base.paths.replace(run_dir=run_dir))
    assert config.cluster is not None
    long_peer = Peer(config, config.cluster.host[1], runner)
    assert long_peer.control_path is None
    options = " ".join(long_peer.argv("plan"))
    assert "-o ControlMaster=no -o ControlPath=none" in options
    long_peer.close()
    assert runner.calls == []  # no master to end
