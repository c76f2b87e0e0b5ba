"""ping(8): FreeBSD's `ping [-4|-6] [-c count] [-t timeout] [-q] [-n] ADDRESS`.

What the witness guard runs (`ping -c 1 -t SECONDS -q ADDRESS`). Texts and exit statuses
from sbin/ping/main.c (pr_summary, usage, the EX_NOHOST resolve error) and ping.c (option
checks, the `PING` line, `warn("sendto")`, `exit(nreceived ? 0 : 2)`).

A cluster node (facts.netns) has a real network: the real Linux ping runs in the host's
namespace and its result is told in FreeBSD's words. A stand-alone node has no network:
an address listed in the node's NetworkState.reachable answers; any other has no route,
as on a host without one (sendto fails, ping waits out its timeout, exit 2).
"""

from __future__ import annotations

import getopt
import ipaddress
import re
import socket
import subprocess
import time
from dataclasses import dataclass

from carpswitch.lab.cluster.command import netns_path
from carpswitch.lab.commands import CommandExit
from carpswitch.lab.context import ShimContext
from carpswitch.lab.state import NetworkState

EX_USAGE = 64
EX_NOHOST = 68
EX_OSERR = 71  # ping.c err(EX_OSERR, "socket"): what a lab that cannot ping says
#: ping.c MAXALARM: the largest -t.
MAXALARM = 60 * 60
#: ping.c: with no -t, the last packet's reply is awaited for waittime (MAXWAIT, 10 s)
#: after the 1 s interval.
_DEFAULT_WAIT = 11
#: ping.c DEFDATALEN and the ICMP echo header: `PING(104=40+8+56 bytes)` for IPv6.
DATALEN = 56
#: What the lab answers for a stand-alone node's reachable address (a LAN round trip).
LAB_RTT_MS = 0.050
#: FreeBSD's gai_strerror(3) texts for what getaddrinfo may say about a name.
_GAI_TEXTS = {
    socket.EAI_NONAME: "hostname nor servname provided, or not known",
    socket.EAI_AGAIN: "Temporary failure in name resolution",
    socket.EAI_FAIL: "Non-recoverable failure in name resolution",
}
USAGE = (
    "usage:\n"
    "\tping [-4AaDdfHnoQqRrv] [-C pcp] [-c count] [-G sweepmaxsize]\n"
    "\t    [-g sweepminsize] [-h sweepincrsize] [-i wait] [-l preload]\n"
    "\t    [-M mask | time] [-m ttl] [-P policy] [-p pattern] [-S src_addr] \n"
    "\t    [-s packetsize] [-t timeout] [-W waittime] [-z tos] IPv4-host\n"
    "\tping [-4AaDdfHLnoQqRrv] [-C pcp] [-c count] [-I iface] [-i wait]\n"
    "\t    [-l preload] [-M mask | time] [-m ttl] [-P policy] [-p pattern]\n"
    "\t    [-S src_addr] [-s packetsize] [-T ttl] [-t timeout] [-W waittime]\n"
    "\t    [-z tos] IPv4-mcast-group\n"
    "\tping [-6AaDdEfHnNoOquvyYZ] [-b bufsiz] [-C pcp] [-c count] [-e gateway]\n"
    "\t    [-I interface] [-i wait] [-k addrtype] [-l preload] [-m hoplimit]\n"
    "\t    [-p pattern] [-S sourceaddr] [-s packetsize] [-t timeout]\n"
    "\t    [-W waittime] [-z tclass] [IPv6-hops ...] IPv6-host\n"
)


#: Options taking a value that the lab accepts (-W, -s, -i are taken and ignored).
_OPTIONS_WITH_VALUE = ("-c", "-t", "-W", "-s", "-i")


@dataclass(frozen=True)
class Request:
    """What the arguments ask for."""

    target: str
    count: int = 0  # 0: until interrupted (ping.c npackets)
    timeout: int | None = None  # -t
    quiet: bool = False
    family: int | None = None  # socket.AF_INET / AF_INET6 when -4 / -6


@dataclass(frozen=True)
class Outcome:
    """What was sent and heard; RTTs in milliseconds (min, avg, max, stddev)."""

    transmitted: int
    received: int
    rtt: tuple[float, float, float, float] | None = None
    send_error: str | None = None  # strerror of a failed sendto


def run(ctx: ShimContext, args: list[str]) -> int:
    """ping with `args`."""
    try:
        request = parse_args(args)
        family, address = resolve(request)
    except CommandExit as stop:
        if stop.message is not None:
            ctx.warn(f"ping: {stop.message}")
        if stop.usage:
            ctx.err.write(USAGE)
        return stop.code
    ctx.out.write(header(request.target, family, address, _source(family, address)))
    ctx.out.flush()
    if ctx.facts.netns is not None:
        try:
            outcome = _real_ping(ctx.facts.netns, request, family, address)
        except CommandExit as broken:
            ctx.warn(f"ping: {broken.message}")
            return broken.code
    else:
        outcome = _lab_ping(ctx, request, address)
    if outcome.send_error is not None:
        ctx.warn(f"ping: sendto: {outcome.send_error}")
    ctx.out.write(summary(request.target, outcome))
    return 0 if outcome.received else 2


def parse_args(args: list[str]) -> Request:
    """ping.c's getopt loop for the options the lab honours (others: usage, exit 1)."""
    try:
        options, operands = getopt.getopt(args, "46c:t:qnW:s:i:")
    except getopt.GetoptError as exc:  # getopt(3)'s complaint, then usage()
        known = exc.opt and f"-{exc.opt}" in (*_OPTIONS_WITH_VALUE, "-4", "-6", "-q", "-n")
        why = "option requires an argument" if known else "illegal option"
        raise CommandExit(1, f"{why} -- {exc.opt}", usage=True) from None
    count, timeout, quiet, family = 0, None, False, None
    for option, value in options:
        if option == "-c":
            count = _number(value, f"invalid count of packets to transmit: `{value}'", 1)
        elif option == "-t":
            timeout = _number(value, f"invalid timeout: `{value}'", 1)
            if timeout > MAXALARM:
                raise CommandExit(EX_USAGE, f"invalid timeout: `{value}' > {MAXALARM}")
        elif option == "-q":
            quiet = True
        elif option == "-4":
            family = socket.AF_INET
        elif option == "-6":
            family = socket.AF_INET6
    if len(operands) != 1:
        raise CommandExit(1, usage=True)
    return Request(target=operands[0], count=count, timeout=timeout, quiet=quiet, family=family)


def _number(text: str, message: str, least: int) -> int:
    """strtoul(3) of the whole argument, at least `least`, else errx(EX_USAGE)."""
    try:
        value = int(text, 0)
    except ValueError:
        raise CommandExit(EX_USAGE, message) from None
    if value < least:
        raise CommandExit(EX_USAGE, message)
    return value


def resolve(request: Request) -> tuple[int, str]:
    """(family, numeric address) of the target; errx(EX_NOHOST) when it cannot be had."""
    try:
        literal = ipaddress.ip_address(request.target)
    except ValueError:
        literal = None
    if literal is not None:
        family = socket.AF_INET if literal.version == 4 else socket.AF_INET6
        if request.family is not None and request.family != family:
            # -4 with an IPv6 address (or -6 with IPv4): the family's lookup finds nothing
            raise CommandExit(
                EX_NOHOST, f"cannot resolve {request.target}: {_GAI_TEXTS[socket.EAI_NONAME]}"
            )
        return family, str(literal)
    try:
        found = socket.getaddrinfo(
            request.target, None, request.family or socket.AF_UNSPEC, socket.SOCK_RAW
        )
    except socket.gaierror as exc:
        text = _GAI_TEXTS.get(exc.errno or socket.EAI_NONAME, _GAI_TEXTS[socket.EAI_NONAME])
        raise CommandExit(EX_NOHOST, f"cannot resolve {request.target}: {text}") from None
    for family, _, _, _, sockaddr in found:
        if family in (socket.AF_INET, socket.AF_INET6):
            return family, str(sockaddr[0])
    raise CommandExit(EX_NOHOST, f"cannot resolve {request.target}")


def header(target: str, family: int, address: str, source: str) -> str:
    """The first line: ping.c `PING %s (%s): %d data bytes`, ping6.c `PING(...) S --> D`."""
    if family == socket.AF_INET6:
        return f"PING({DATALEN + 48}=40+8+{DATALEN} bytes) {source} --> {address}\n"
    return f"PING {target} ({address}): {DATALEN} data bytes\n"


def summary(target: str, outcome: Outcome) -> str:
    """main.c pr_summary: the statistics lines (what -q leaves of the output)."""
    lines = f"\n--- {target} ping statistics ---\n"
    lines += f"{outcome.transmitted} packets transmitted, {outcome.received} packets received, "
    if outcome.transmitted:
        if outcome.received > outcome.transmitted:
            lines += "-- somebody's duplicating packets!"
        else:
            loss = (outcome.transmitted - outcome.received) * 100.0 / outcome.transmitted
            lines += f"{loss:.1f}% packet loss"
    lines += "\n"
    if outcome.received and outcome.rtt is not None:
        low, avg, high, stddev = outcome.rtt
        lines += f"round-trip min/avg/max/stddev = {low:.3f}/{avg:.3f}/{high:.3f}/{stddev:.3f} ms\n"
    return lines


_LINUX_COUNTS = re.compile(r"^(\d+) packets transmitted, (\d+) received", re.MULTILINE)
_LINUX_RTT = re.compile(
    r"^rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", re.MULTILINE
)


def parse_linux(stdout: str) -> tuple[int, int, tuple[float, float, float, float] | None] | None:
    """(transmitted, received, rtt) from iputils ping's -q summary; None if it has none."""
    counts = _LINUX_COUNTS.search(stdout)
    if counts is None:
        return None
    found = _LINUX_RTT.search(stdout)
    rtt = None
    if found is not None:
        low, avg, high, mdev = (float(v) for v in found.groups())
        rtt = (low, avg, high, mdev)
    return int(counts.group(1)), int(counts.group(2)), rtt


def _wait(request: Request) -> int:
    """How long FreeBSD's ping runs at most: -t, else the interval and waittime."""
    count = request.count or 1
    return request.timeout if request.timeout is not None else count - 1 + _DEFAULT_WAIT


def _real_ping(netns: str, request: Request, family: int, address: str) -> Outcome:
    """iputils ping in the host's namespace, bounded by the request's own deadline."""
    deadline = _wait(request)
    count = request.count or 1  # the lab never pings until interrupted
    argv = [
        "nsenter",
        f"--net={netns_path(netns)}",
        "--",
        "ping",
        "-6" if family == socket.AF_INET6 else "-4",
        "-n",
        "-q",
        "-c",
        str(count),
        "-W",
        str(deadline),
        "-w",
        str(deadline),
        address,
    ]
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=deadline + 2,
            check=False,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
        )
    except subprocess.TimeoutExpired:  # iputils overran its own -w: nothing heard
        return Outcome(transmitted=count, received=0)
    except OSError as exc:  # nsenter missing: the lab is broken, say so
        raise CommandExit(EX_OSERR, f"socket: {exc.strerror}") from None
    parsed = parse_linux(done.stdout)
    if parsed is not None and (parsed[1] or "unreachable" not in done.stderr.lower()):
        transmitted, received, rtt = parsed
        return Outcome(transmitted=transmitted, received=received, rtt=rtt)
    if "unreachable" not in done.stderr.lower():  # no namespace, no ping: the lab is broken
        why = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise CommandExit(EX_OSERR, f"socket: {why[0]}")
    # no route (`connect: Network is unreachable`): FreeBSD's sendto fails and ping
    # still waits for a reply until its deadline
    time.sleep(max(0.0, deadline - (time.monotonic() - started)))
    return Outcome(transmitted=count, received=0, send_error="No route to host")


def _lab_ping(ctx: ShimContext, request: Request, address: str) -> Outcome:
    """A stand-alone node: the lab's network state says who answers."""
    count = request.count or 1
    if address in ctx.store.read(NetworkState).reachable:
        return Outcome(
            transmitted=count, received=count, rtt=(LAB_RTT_MS, LAB_RTT_MS, LAB_RTT_MS, 0.0)
        )
    time.sleep(_wait(request))
    return Outcome(transmitted=count, received=0, send_error="No route to host")


def _source(family: int, address: str) -> str:
    """The source address the kernel would pick (only ping6's header shows it)."""
    if family != socket.AF_INET6:
        return ""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.connect((address, 9))
            return str(probe.getsockname()[0])
    except OSError:
        return "::"
