"""The lab's ping(8) on a stand-alone node: no network, the lab state says who answers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

from carpswitch.lab.node import LabNode

WITNESS = "198.18.0.254"


def _ping(node: LabNode, *args: str) -> tuple[int, str, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [str(node.paths.command("ping")), *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def test_an_unlisted_address_has_no_route(lab_node: LabNode) -> None:
    code, out, err, took = _ping(lab_node, "-c", "1", "-t", "1", "-q", WITNESS)
    assert code == 2
    assert err == "ping: sendto: No route to host\n"
    assert out == (
        f"PING {WITNESS} ({WITNESS}): 56 data bytes\n"
        f"\n--- {WITNESS} ping statistics ---\n"
        "1 packets transmitted, 0 packets received, 100.0% packet loss\n"
    )
    assert 0.9 < took < 3.0  # ping waits its -t out, as FreeBSD's does


def test_a_reachable_witness_answers_until_it_is_gone(lab_node: LabNode) -> None:
    lab_node.set_reachable(WITNESS)
    lab_node.set_reachable("198.18.0.253")
    code, out, err, took = _ping(lab_node, "-c", "1", "-t", "2", "-q", WITNESS)
    assert (code, err) == (0, "")
    assert out.endswith(
        "1 packets transmitted, 1 packets received, 0.0% packet loss\n"
        "round-trip min/avg/max/stddev = 0.050/0.050/0.050/0.000 ms\n"
    )
    assert took < 1.5  # a reply ends ping at once

    lab_node.set_reachable(WITNESS, False)
    assert _ping(lab_node, "-c", "1", "-t", "1", "-q", WITNESS)[0] == 2
    assert _ping(lab_node, "-c", "1", "-t", "1", "-q", "198.18.0.253")[0] == 0


def test_usage_and_bad_values_and_names(lab_node: LabNode) -> None:
    code, out, err, _ = _ping(lab_node, "-q")
    assert (code, out) == (1, "")
    assert err.startswith("usage:\n\tping [-4AaDdfHnoQqRrv]")
    code, _, err, _ = _ping(lab_node, "-t", "0", WITNESS)
    assert (code, err) == (64, "ping: invalid timeout: `0'\n")
    code, out, err, _ = _ping(lab_node, "-c", "1", "-t", "1", "-q", "no-such-host.invalid")
    assert (code, out) == (68, "")
    assert err == (
        "ping: cannot resolve no-such-host.invalid: hostname nor servname provided, or not known\n"
    )


def test_a_cluster_node_whose_namespace_is_gone_says_so(
    make_lab_node: Callable[..., LabNode],
) -> None:
    """A lab that cannot ping (no namespace) is broken, not a lost witness: EX_OSERR."""
    node = make_lab_node(netns="csw-no-such-namespace", start=False)
    code, _, err, took = _ping(node, "-c", "1", "-t", "1", "-q", WITNESS)
    assert code == 71
    assert err.startswith("ping: socket: ") and "no-such-namespace" in err, err
    assert took < 3.0
