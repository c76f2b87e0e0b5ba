"""Issue 12's induced split-brain on the two-node lab: detected by hastd, reported by
carpswitch, never healed on its own, and resolved by `split-brain resolve --keep-this`
with the kept side's checksummed blocks intact through the iSCSI LUN.

Both controllers are paused, so only the admin acts (carpswitch promote/demote, by hand
where a real split-brain would have a bug or an operator): hastb is cut off and promoted
while hasta, alone with the client, takes writes (run B); then hasta is cut off and the
client writes to hastb (run A continued). Healed, hasta is demoted to secondary: hastd's
handshake finds both sides written and refuses (split-brain). hastb was promoted last, so
its data is the acknowledged data, and `resolve --keep-this` on hastb discards hasta's.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable

import pytest

from carpswitch.engine.splitbrain import SplitBrainMarks
from carpswitch.exitcodes import ExitCode
from carpswitch.lab.cluster.cluster import HOSTS, Cluster
from carpswitch.lab.cluster.demo import RESOURCE, lun_of
from carpswitch.lab.cluster.initiator import BLOCK_SIZE, Initiator, block_bytes
from carpswitch.lab.cluster.sshd import SshFiles
from carpswitch.lab.cluster.status import status_text
from carpswitch.lab.node import LabResource

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(420)]

BLOCKS = 8
BOUND = 90.0


def _carpswitch(cluster: Cluster, host: str, *args: str, timeout: float = 180) -> str:
    """`carpswitch ARGS` on `host` (its namespace and config); its output, exit 0 asserted.

    Exit 75 (another carpswitch is acting: a hastd event's `hast-event` holds the lock for
    a moment) is what an admin meets too: tried again, within BOUND."""
    deadline = time.monotonic() + BOUND
    done = cluster.host(host).controller(*args, timeout=timeout)
    while done.returncode == ExitCode.TEMPFAIL and time.monotonic() < deadline:
        time.sleep(0.5)
        done = cluster.host(host).controller(*args, timeout=timeout)
    assert done.returncode == 0, (host, args, done.returncode, done.stdout, done.stderr)
    return done.stdout


def _with_cluster_section(cluster: Cluster) -> None:
    """[cluster] in both carpswitch.toml: each host's address and carpswitch, ssh keys."""
    for name in HOSTS:
        keys = SshFiles.of(cluster.node(name).paths)
        hosts = "".join(
            f'[[cluster.host]]\nname = "{host}"\naddress = "{cluster.net.host(host).address}"\n'
            f'carpswitch = "{cluster.node(host).paths.bin / "carpswitch"}"\n'
            for host in HOSTS
        )
        config = cluster.node(name).config_path
        config.write_text(
            config.read_text()
            + '\n[cluster]\ninterface = "vtnet0"\nvhid = 1\naddress = "198.18.0.100/24"\n'
            + f'password = "lab-password"\n{hosts}'
            + f'[cluster.ssh]\nidentity = "{keys.identity}"\n'
            + f'known_hosts = "{keys.dot_ssh / "known_hosts"}"\n'
        )


def _write(initiator: Initiator, count: int) -> None:
    """`count` more acknowledged blocks of the initiator's run (retried while the LUN moves)."""
    deadline = time.monotonic() + BOUND
    wanted = sum(r.acknowledged for r in initiator.ledger) + count
    while sum(r.acknowledged for r in initiator.ledger) < wanted:
        assert time.monotonic() < deadline, initiator.ledger[-3:]
        if initiator.write(1)[0].acknowledged is False:
            time.sleep(0.2)


def _local_block(cluster: Cluster, host: str, number: int) -> bytes:
    """Block `number` of the host's local component (what HAST has there, not the LUN)."""
    with open(cluster.node(host).paths.disk(RESOURCE), "rb") as disk:
        disk.seek(number * BLOCK_SIZE)
        return disk.read(BLOCK_SIZE)


def _acknowledged(initiator: Initiator, since: int = 0) -> list[int]:
    """Numbers of the run's acknowledged blocks from ledger entry `since` on."""
    return [r.number for r in initiator.ledger[since:] if r.acknowledged]


def _holds(cluster: Cluster, host: str, initiator: Initiator, numbers: list[int]) -> bool:
    """The host's local component has each of the run's blocks `numbers`."""
    return all(_local_block(cluster, host, n) == block_bytes(initiator.run, n) for n in numbers)


def _marks(cluster: Cluster, host: str) -> frozenset[str]:
    state_dir = cluster.node(host).paths.carpswitch_state_dir
    return SplitBrainMarks(str(state_dir)).read().resources


def _flush_client_arp(cluster: Cluster) -> None:
    """The client forgets which MAC had the CARP address (the new master's gratuitous ARP
    went out while its cable was cut)."""
    subprocess.run(
        ["ip", "-n", cluster.client.netns, "neigh", "flush", "all"], check=True, timeout=10
    )


def test_an_induced_split_brain_is_reported_kept_apart_and_resolved_keeping_the_last_writer(
    make_cluster: Callable[..., Cluster],
) -> None:
    # without the guards: with them the cut-off hastb would refuse to promote (no witness),
    # which is their point (tests/cluster/test_guards.py); this test needs the split-brain
    cluster = make_cluster(
        up=False, resources=[LabResource(RESOURCE, "raw")], services=["ctld"], guards=False
    )
    cluster.up(ssh=True, hast_exec=True)
    _with_cluster_section(cluster)
    a_run = lun_of(cluster)  # the run the client goes on writing: kept
    _write(a_run, BLOCKS)  # blocks 0-7 on both nodes
    cluster.wait(
        lambda: cluster.node("hasta").status(RESOURCE).dirty == 0,
        time.monotonic() + BOUND,
        "hasta in sync",
    )
    for host in HOSTS:
        _carpswitch(cluster, host, "pause", "split-brain test")

    # hastb cut off and promoted by hand; hasta, alone with the client, takes run B
    cluster.cut("hastb")
    b_run = lun_of(cluster)
    _write(b_run, BLOCKS)  # blocks 0-7 again, on hasta only
    cluster.wait(lambda: cluster.carp_state("hastb") == "MASTER", time.monotonic() + 30, "B")
    # hastb's secondary worker must have noticed the cut (2 x HAST_KEEPALIVE of silence):
    # while it lives, a promotion takes the primary as still connected and refuses
    cluster.wait(
        lambda: cluster.node("hastb").worker_pid(RESOURCE) is None,
        time.monotonic() + BOUND,
        "hastb's secondary worker gone",
    )
    _carpswitch(cluster, "hastb", "promote", "storage")  # its CARP is MASTER, paused

    # now hasta is cut off (its CARP stopped) and the client writes to hastb
    cluster.kill_ucarp("hasta")
    cluster.cut("hasta")
    cluster.heal("hastb")
    _flush_client_arp(cluster)
    assert a_run.wait_until_answers(BOUND) is not None, status_text(cluster)
    later = len(a_run.ledger)
    _write(a_run, BLOCKS)  # blocks 8-15, on hastb only
    cluster.heal("hasta")
    _carpswitch(cluster, "hasta", "demote", "storage")  # its secondary meets hastb: refused

    try:
        cluster.wait(
            lambda: all(_marks(cluster, host) == {RESOURCE} for host in HOSTS),
            time.monotonic() + BOUND,
            "split-brain marks on both hosts",
        )
    except Exception as exc:
        raise AssertionError(f"{exc}\n{status_text(cluster)}") from None
    status = cluster.host("hastb").controller("split-brain", "status", "--json", timeout=180)
    assert status.returncode == 1, (status.stdout, status.stderr)
    seen = json.loads(status.stdout)
    verdict = seen["split_brain"][RESOURCE]
    assert verdict["holder"] == "hastb", verdict
    assert verdict["to_run"] == [f"carpswitch split-brain resolve {RESOURCE} --keep-this"]
    assert seen["this"]["resources"][RESOURCE]["role"] == "primary"
    assert seen["peer"]["resources"][RESOURCE]["role"] == "secondary"
    assert seen["peer"]["resources"][RESOURCE]["mark"] is not None
    text = _carpswitch_status_text(cluster)
    assert f"split-brain on {RESOURCE}:" in text and "acknowledged data: hastb" in text

    # never healed on its own: after more than one of hastd's 10 s retries, hasta still
    # holds run B and none of run A's later blocks
    time.sleep(12)
    assert _holds(cluster, "hasta", b_run, _acknowledged(b_run))
    assert not any(_holds(cluster, "hasta", a_run, [n]) for n in _acknowledged(a_run, later))
    assert _holds(cluster, "hastb", a_run, _acknowledged(a_run))
    assert all(_marks(cluster, host) == {RESOURCE} for host in HOSTS)

    resolved = cluster.host("hastb").controller(
        "split-brain", "resolve", RESOURCE, "--keep-this", "--yes", timeout=300
    )
    assert resolved.returncode == 0, (resolved.stdout, resolved.stderr)
    assert "hasta: running hastctl create" in resolved.stdout, resolved.stdout
    try:
        cluster.wait(
            lambda: cluster.secondary("hasta") and _synchronised(cluster),
            time.monotonic() + BOUND,
            "hasta secondary and in sync",
        )
    except Exception as exc:
        raise AssertionError(f"{exc}\n{status_text(cluster)}") from None
    assert all(_marks(cluster, host) == frozenset() for host in HOSTS)
    checked = a_run.check()  # every acknowledged block of run A, through the LUN (hastb)
    assert checked.checked == len(_acknowledged(a_run)) >= 2 * BLOCKS, checked
    assert not checked.lost, checked.lost
    assert _holds(cluster, "hasta", a_run, _acknowledged(a_run))  # the full sync's copy
    after = cluster.host("hastb").controller("split-brain", "status", timeout=180)
    assert (after.returncode, after.stdout) == (0, "no resource in split-brain\n"), after


def _synchronised(cluster: Cluster) -> bool:
    reply = cluster.node("hastb").status(RESOURCE)
    return reply.role == "primary" and reply.status == "complete" and reply.dirty == 0


def _carpswitch_status_text(cluster: Cluster) -> str:
    done = cluster.host("hastb").controller("split-brain", "status", timeout=180)
    assert done.returncode == 1, (done.stdout, done.stderr)
    return done.stdout
