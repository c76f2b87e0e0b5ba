"""The set-up transport against a real OpenSSH: sshd on loopback, key auth for root only.

`Peer.ask("facts")` runs `carpswitch setup receive facts` through the system's ssh client
(the one runner), so the argv, BatchMode, StrictHostKeyChecking, the ControlMaster socket
and the exit-255 classification meet the real programs: a missing key, an unknown host
key and a refused port are each one clear line, and nothing answers for the peer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carpswitch.config import parse_config
from carpswitch.setup.files import SetupError
from carpswitch.setup.receive import shared_of
from carpswitch.setup.render import render_config
from carpswitch.setup.ssh import Peer
from carpswitch.system.runner import Runner
from tests.ports import closed_port, free_port
from tests.unit.setup.conftest import CLUSTER_DATA

pytestmark = pytest.mark.cluster
SSHD = "/usr/sbin/sshd"
#: Ports tried before the sshd fixture gives up.
_SSHD_TRIES = 5
CARPSWITCH = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "carpswitch"


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30
    )


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A root-only, key-only sshd on 127.0.0.1:PORT, its host key in a known_hosts file."""
    if os.geteuid() != 0 or not os.access(SSHD, os.X_OK) or shutil.which("ssh") is None:
        pytest.skip("needs root, /usr/sbin/sshd and ssh")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    _keygen(keys / "host")
    _keygen(keys / "client")
    (keys / "authorized_keys").write_text((keys / "client.pub").read_text())
    host_pub = (keys / "host.pub").read_text().split()
    (keys / "other_known_hosts").write_text("")
    for _ in range(_SSHD_TRIES):  # the port found free may be taken before sshd binds it
        port = free_port()
        (keys / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
        log = tmp_path / f"sshd.{port}.log"
        with log.open("wb") as stderr:
            server = subprocess.Popen(
                _sshd_argv(tmp_path, keys, port), stdout=subprocess.DEVNULL, stderr=stderr
            )
        try:
            if _listening(server, port, log):
                yield {"port": port, "keys": keys}
                return
        finally:
            server.kill()
            server.wait(timeout=10)
    pytest.fail(f"sshd did not start ({_SSHD_TRIES} ports tried)")


def _sshd_argv(tmp_path: Path, keys: Path, port: int) -> list[str]:
    options = {
        "Port": str(port),
        "ListenAddress": "127.0.0.1",
        "HostKey": str(keys / "host"),
        "PidFile": str(tmp_path / "sshd.pid"),
        "AuthorizedKeysFile": str(keys / "authorized_keys"),
        "PermitRootLogin": "prohibit-password",
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "UsePAM": "no",
        "StrictModes": "no",
    }
    argv = [SSHD, "-D", "-e", "-f", "/dev/null"]
    for key, value in options.items():
        argv += ["-o", f"{key}={value}"]
    return argv


def _listening(server: subprocess.Popen[bytes], port: int, log: Path) -> bool:
    """Whether `server` says it listens on `port` within 10 s (False once it exited: the
    port was taken); sshd's own line, not a connect, which another listener could answer."""
    said = f"Server listening on 127.0.0.1 port {port}."
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if said in log.read_text(errors="replace"):
            return server.poll() is None
        if server.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def _peer(tmp_path: Path, sshd: dict[str, Any], **ssh: Any) -> Peer:
    """hasta's view of hastb at 127.0.0.1:PORT; hastb's carpswitch is a wrapper (its config)."""
    b_root = tmp_path / "b"
    (b_root / "run").mkdir(parents=True, mode=0o700)
    b_config = parse_config(
        {"node": {"name": "hastb"}, "paths": {"run_dir": str(b_root / "run"),
         "state_dir": str(b_root / "db"), "hast_conf": str(b_root / "hast.conf"),
         "rc_conf_d": str(b_root / "rc.conf.d")}}
    )  # fmt: skip
    (b_root / "carpswitch.toml").write_text(render_config(b_config))
    wrapper = b_root / "carpswitch"
    wrapper.write_text(
        f'#!/bin/sh\nCARPSWITCH_CONFIG={b_root}/carpswitch.toml exec {CARPSWITCH} "$@"\n'
    )
    wrapper.chmod(0o755)
    cluster = {**CLUSTER_DATA, "resource": []}
    cluster["host"] = [
        {"name": "hasta", "address": "198.18.0.1"},
        {"name": "hastb", "address": "127.0.0.1", "ssh_port": sshd["port"],
         "carpswitch": str(wrapper)},
    ]  # fmt: skip
    keys = sshd["keys"]
    cluster["ssh"] = {
        "identity": str(keys / "client"),
        "known_hosts": str(keys / "known_hosts"),
        "connect_timeout": 5,
        **ssh,
    }
    (tmp_path / "a-run").mkdir(mode=0o700)
    config = parse_config({"cluster": cluster, "paths": {"run_dir": str(tmp_path / "a-run")}})
    assert config.cluster is not None
    return Peer(config, config.cluster.host[1], Runner(config.commands))


def test_facts_over_real_ssh(tmp_path: Path, sshd: dict[str, Any]) -> None:
    peer = _peer(tmp_path, sshd)
    try:
        facts = peer.ask("facts", shared_of(peer.config))
    finally:
        peer.close()
    assert facts["host"] == "hastb"
    assert facts["hast_conf_sha256"] is None and facts["carp_netif"] is False
    assert not list((tmp_path / "a-run").iterdir())  # the master socket is gone


def test_key_not_accepted_is_one_line(tmp_path: Path, sshd: dict[str, Any]) -> None:
    other = tmp_path / "other"
    _keygen(other)
    peer = _peer(tmp_path, sshd, identity=str(other))
    with pytest.raises(SetupError) as caught:
        peer.ask("facts", shared_of(peer.config))
    assert str(caught.value) == (
        "peer hastb (root@127.0.0.1): no key accepted (ssh key-based login as root failed)"
    )


def test_unknown_host_key_is_one_line(tmp_path: Path, sshd: dict[str, Any]) -> None:
    peer = _peer(tmp_path, sshd, known_hosts=str(sshd["keys"] / "other_known_hosts"))
    with pytest.raises(SetupError, match=r"host key unknown or changed \(check known_hosts\)$"):
        peer.ask("facts", shared_of(peer.config))


def test_refused_port_is_unreachable(tmp_path: Path, sshd: dict[str, Any]) -> None:
    peer = _peer(tmp_path, sshd)
    with closed_port() as port:
        peer = Peer(peer.config, peer.host.replace(ssh_port=port), peer.runner)
        with pytest.raises(SetupError, match=r"unreachable \(connection refused"):
            peer.ask("facts", shared_of(peer.config))


def _cli(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CARPSWITCH), "-c", str(config_file), "setup", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_setup_apply_on_two_lab_nodes_over_real_ssh(tmp_path: Path, sshd: dict[str, Any]) -> None:
    """Two empty lab nodes; hastb reached over the real sshd on loopback (its wrapper)."""
    import tomllib

    from carpswitch.lab.node import create_node

    nodes = [
        create_node(tmp_path / name, name=name, resources=(), start=False)
        for name in ("hasta", "hastb")
    ]
    try:
        a, b = nodes
        keys = sshd["keys"]
        cluster = {
            **CLUSTER_DATA,
            "resource": [{"name": "hastvol", "zvol": "tank/hastvol", "size": "64M"}],
            "host": [
                {"name": "hasta", "address": "198.18.0.1", "listen": ["127.0.0.1:18457"]},
                {"name": "hastb", "address": "127.0.0.1", "ssh_port": sshd["port"],
                 "carpswitch": str(tmp_path / "hastb" / "bin" / "carpswitch"),
                 "listen": ["127.0.0.1:18458"]},
            ],
            "ssh": {"identity": str(keys / "client"), "known_hosts": str(keys / "known_hosts")},
        }  # fmt: skip
        data = tomllib.loads(a.config_path.read_text())
        a.config_path.write_text(render_config(parse_config({**data, "cluster": cluster})))
        applied = _cli(a.config_path, "apply")
        assert applied.returncode == 0, applied.stderr
        assert "== hastb (peer, root@127.0.0.1):" in applied.stdout
        assert a.paths.hast_conf.read_text() == b.paths.hast_conf.read_text()
        assert "[cluster]" in b.config_path.read_text()
        assert b.paths.zvol("tank/hastvol").stat().st_size == 64 << 20
        for node in nodes:
            assert "secondary" in node.run("hastctl", "status", "hastvol").stdout
        again = _cli(a.config_path, "apply")
        assert (again.returncode, again.stdout) == (
            0,
            "both nodes are set up as carpswitch.toml says\n",
        ), again.stderr
        b.paths.hast_conf.write_text(b.paths.hast_conf.read_text() + "# by hand\n")
        checked = _cli(a.config_path, "check")
        assert checked.returncode == 1
        assert "hast.conf differs" in checked.stdout.splitlines()
    finally:
        for node in nodes:
            node.stop()
