"""The lab's ping(8): FreeBSD's arguments and texts (sbin/ping/main.c, ping.c), pure parts."""

from __future__ import annotations

import socket

import pytest

from carpswitch.lab.commands import CommandExit, ping

# What iputils ping 20221126 prints with -n -q (Debian 12), one reply and none.
LINUX_REPLY = (
    "PING 198.18.0.10 (198.18.0.10) 56(84) bytes of data.\n"
    "\n"
    "--- 198.18.0.10 ping statistics ---\n"
    "1 packets transmitted, 1 received, 0% packet loss, time 0ms\n"
    "rtt min/avg/max/mdev = 0.061/0.061/0.061/0.000 ms\n"
)
LINUX_SILENCE = (
    "PING 198.18.0.10 (198.18.0.10) 56(84) bytes of data.\n"
    "\n"
    "--- 198.18.0.10 ping statistics ---\n"
    "1 packets transmitted, 0 received, 100% packet loss, time 0ms\n"
    "\n"
)


def test_the_witness_guard_call_parses() -> None:
    request = ping.parse_args(["-c", "1", "-t", "2", "-q", "198.18.0.10"])
    assert request == ping.Request(target="198.18.0.10", count=1, timeout=2, quiet=True)
    assert ping.parse_args(["-6", "-c", "1", "-t", "1", "-q", "::1"]).family == socket.AF_INET6


@pytest.mark.parametrize(
    ("args", "code", "message", "usage"),
    [
        (["-q"], 1, None, True),  # no host: usage() exits 1 (main.c)
        (["-c", "1", "a", "b"], 1, None, True),
        (["-x", "h"], 1, "illegal option -- x", True),
        (["-c"], 1, "option requires an argument -- c", True),
        (["-c", "0", "h"], 64, "invalid count of packets to transmit: `0'", False),
        (["-t", "zero", "h"], 64, "invalid timeout: `zero'", False),
        (["-t", "3601", "h"], 64, "invalid timeout: `3601' > 3600", False),
    ],
)
def test_bad_arguments_exit_as_freebsd_ping(
    args: list[str], code: int, message: str | None, usage: bool
) -> None:
    with pytest.raises(CommandExit) as stop:
        ping.parse_args(args)
    assert (stop.value.code, stop.value.message, stop.value.usage) == (code, message, usage)


def test_a_name_that_does_not_resolve_is_ex_nohost() -> None:
    with pytest.raises(CommandExit) as stop:
        ping.resolve(ping.Request(target="no-such-host.invalid"))
    assert stop.value.code == 68
    assert stop.value.message == (
        "cannot resolve no-such-host.invalid: hostname nor servname provided, or not known"
    )


def test_a_family_option_against_the_literal_finds_nothing() -> None:
    with pytest.raises(CommandExit) as stop:
        ping.resolve(ping.Request(target="198.18.0.10", family=socket.AF_INET6))
    assert stop.value.code == 68
    assert ping.resolve(ping.Request(target="198.18.0.10")) == (socket.AF_INET, "198.18.0.10")
    assert ping.resolve(ping.Request(target="::1")) == (socket.AF_INET6, "::1")


def test_header_lines() -> None:
    assert ping.header("h", socket.AF_INET, "198.18.0.10", "") == (
        "PING h (198.18.0.10): 56 data bytes\n"
    )
    assert ping.header("::1", socket.AF_INET6, "::1", "::1") == (
        "PING(104=40+8+56 bytes) ::1 --> ::1\n"
    )


def test_summary_of_a_reply_and_of_silence() -> None:
    heard = ping.Outcome(transmitted=1, received=1, rtt=(0.061, 0.061, 0.061, 0.0))
    assert ping.summary("198.18.0.10", heard) == (
        "\n--- 198.18.0.10 ping statistics ---\n"
        "1 packets transmitted, 1 packets received, 0.0% packet loss\n"
        "round-trip min/avg/max/stddev = 0.061/0.061/0.061/0.000 ms\n"
    )
    assert ping.summary("w", ping.Outcome(transmitted=1, received=0)) == (
        "\n--- w ping statistics ---\n"
        "1 packets transmitted, 0 packets received, 100.0% packet loss\n"
    )
    assert ping.summary("w", ping.Outcome(transmitted=3, received=2)).splitlines()[2] == (
        "3 packets transmitted, 2 packets received, 33.3% packet loss"
    )


def test_linux_summary_is_read() -> None:
    assert ping.parse_linux(LINUX_REPLY) == (1, 1, (0.061, 0.061, 0.061, 0.0))
    assert ping.parse_linux(LINUX_SILENCE) == (1, 0, None)
    assert ping.parse_linux("ping: connect: Network is unreachable\n") is None
