"""`carpswitch lab demo`: a failover of a HAST-replicated LUN served over iSCSI, end to end.

Two hosts in network namespaces, real CARP (ucarp), hastd replicating over TCP, the LUN
served by tgt from the CARP address; a real initiator (qemu-io) writes numbered,
checksummed blocks through the address; the master dies; the demo shows the failover as
it happens, writes again, reads everything back and checks that no acknowledged write was
lost. Everything it made is removed at the end, also when it fails.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from carpswitch.lab.cluster.cluster import Cluster
from carpswitch.lab.cluster.command import ClusterError
from carpswitch.lab.cluster.ctl_conf import CtlConfError, ctl_conf_path, parse_ctl_conf, target_iqn
from carpswitch.lab.cluster.initiator import Initiator, InitiatorError, LunAddress
from carpswitch.lab.cluster.net import VIP
from carpswitch.lab.cluster.watch import Referee
from carpswitch.lab.node import LabResource

RESOURCE = "lun"
#: Blocks written before and after the failover.
BLOCKS = 32
#: How long the survivor may take to serve the LUN again.
RECOVERY_BOUND = 90.0
#: Problems shown one per line (the rest are counted).
SHOWN = 5


@dataclass
class Clock:
    """Prints a line with the seconds since the failure (or since the start)."""

    out: Callable[[str], None]
    zero: float = 0.0

    def __post_init__(self) -> None:
        self.zero = time.monotonic()

    def say(self, text: str) -> None:
        """One progress line, timed."""
        self.out(f"[{time.monotonic() - self.zero:6.2f}s] {text}")

    def reset(self) -> None:
        """Count from now (the failure)."""
        self.zero = time.monotonic()


def lun_of(cluster: Cluster) -> Initiator:
    """The demo's initiator: the client's namespace, the CARP address, the LUN."""
    return Initiator(LunAddress(VIP, target_iqn(RESOURCE), 1), netns=cluster.client.netns)


def started_lun(cluster: Cluster) -> tuple[str, Initiator]:
    """A started cluster's (`lab start`) first iSCSI LUN, as hasta's ctl.conf serves it:
    its HAST resource and an initiator for it through the CARP address."""
    node = cluster.node("hasta")
    path = ctl_conf_path(node.facts)
    try:
        conf = parse_ctl_conf(path.read_text())
    except (OSError, CtlConfError) as exc:
        raise ClusterError(f"{path}: no iSCSI LUN to demonstrate ({exc})") from exc
    for target in conf.targets:
        for lun in target.luns:
            resource = Path(lun.path).name
            if node.facts.resource(resource) is not None:
                address = LunAddress(node.facts.vip, target.iqn, lun.number)
                return resource, Initiator(address, netns=cluster.client.netns)
    raise ClusterError(f"{path}: no LUN serves a HAST resource of hasta")


def run(out: Callable[[str], None] = print, cluster_id: str | None = None) -> int:
    """The demo; 0 when no acknowledged write was lost and the LUN came back.

    With `cluster_id`, against that started cluster (`lab up --empty`, `setup apply`,
    `lab start`), which it leaves up (a dead hasta: `lab reboot hasta` or `lab down`).
    """
    clock = Clock(out)
    if cluster_id is not None:
        try:
            cluster = Cluster.load(cluster_id)
            resource, client = started_lun(cluster)
            return _demo(cluster, clock, client, resource, bring_up=False)
        except (ClusterError, InitiatorError) as exc:
            out(f"demo failed: {exc}")
            return 1
    cluster = Cluster.create(resources=[LabResource(RESOURCE, "raw")], services=["ctld"])
    previous = {sig: signal.signal(sig, _interrupted) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return _demo(cluster, clock, lun_of(cluster), RESOURCE, bring_up=True)
    except (ClusterError, InitiatorError) as exc:
        out(f"demo failed: {exc}")
        return 1
    finally:
        # Down first: printing may fail (a closed pipe), the clean-up must not.
        cluster.down()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        clock.say(f"lab down {cluster.id}: removed its namespaces, processes, mounts, files")


def _interrupted(signum: int, frame: FrameType | None) -> None:
    """SIGTERM or SIGHUP: unwind like ^C, so that the lab is taken down."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _demo(
    cluster: Cluster, clock: Clock, client: Initiator, resource: str, *, bring_up: bool
) -> int:
    if bring_up:
        clock.say(f"lab up {cluster.id}: hosts hasta (198.18.0.1), hastb (198.18.0.2), client")
        cluster.up()
    else:
        clock.say(f"lab cluster {cluster.id}, started from what set-up rendered")
        cluster.wait(lambda: cluster.serving("hasta"), time.monotonic() + 60, "hasta serving")
    clock.say("hasta is CARP MASTER and HAST primary; hastb is BACKUP and secondary")
    if client.wait_until_answers(RECOVERY_BOUND) is None:
        raise ClusterError(
            f"the LUN did not answer through {client.target.address} within {RECOVERY_BOUND:g} s"
        )
    clock.say(f"hasta's ctld (tgt) serves the LUN at {client.target.address}")
    clock.say(f"client: LUN serial {client.serial()!r} through {client.target.url}")
    records = client.write(BLOCKS)
    clock.say(f"client wrote {sum(r.acknowledged for r in records)}/{BLOCKS} blocks, acknowledged")
    with Referee(_hosts(cluster), (resource,)) as referee:
        clock.reset()
        clock.say("killing hasta (every process SIGKILLed, its address and link gone)")
        referee.cut_off.add("hasta")
        cluster.kill("hasta")
        _watch_failover(cluster, clock, client, resource)
        _show_controller(cluster, "hastb", clock)
        records = client.write(BLOCKS)
        clock.say(f"client wrote {sum(r.acknowledged for r in records)}/{BLOCKS} more blocks")
    result = client.check()
    doubled = referee.two_primaries()
    problems = result.lost + tuple(doubled)
    for line in problems[:SHOWN]:
        clock.say(line)
    if len(problems) > SHOWN:
        clock.say(f"... and {len(problems) - SHOWN} more")
    if not any(sample.serving(resource) for sample in referee.samples):
        clock.say("FAILED: the referee never saw a host serving (it could not see two)")
        return 1
    if doubled:
        clock.say(f"FAILED: two hosts served the LUN at once ({len(doubled)} samples)")
        return 1
    if not result.ok:
        clock.say(f"FAILED: {len(result.lost)} acknowledged writes lost")
        return 1
    clock.say(
        f"read back all blocks: {result.checked} acknowledged writes checked, none lost; "
        f"never two primaries ({len(referee.samples)} samples, every 100 ms)"
    )
    return 0


def _watch_failover(cluster: Cluster, clock: Clock, client: Initiator, resource: str) -> None:
    """Print each stage of hastb taking over as it happens; the LUN's recovery time."""
    deadline = time.monotonic() + RECOVERY_BOUND
    vip = client.target.address
    stages: list[tuple[str, Callable[[], bool]]] = [
        ("hastb: ucarp is MASTER, holds " + vip, lambda: cluster.holds_vip("hastb")),
        (f"hastb: HAST primary, /dev/hast/{resource} serves I/O", lambda: cluster.serving("hastb")),
        ("client: the LUN answers through " + vip, lambda: client.probe(timeout=2.0)),
    ]
    for text, reached in stages:
        while not reached():
            if time.monotonic() >= deadline:
                raise ClusterError(f"no failover within {RECOVERY_BOUND:g} s: waiting for {text}")
            time.sleep(0.1)
        clock.say(text)
    clock.say(f"recovery time: {time.monotonic() - clock.zero:.2f} s after hasta died")


def _show_controller(cluster: Cluster, name: str, clock: Clock) -> None:
    """What the host's controller did, step by step, from its own journal."""
    done = cluster.host(name).controller("history", "-n", "1", timeout=30)
    clock.say(f"{name}'s controller (carpswitch history -n 1):")
    for line in done.stdout.splitlines():
        clock.out(f"           {line}")


def _hosts(cluster: Cluster) -> dict[str, Path]:
    return {name: cluster.node(name).path for name in ("hasta", "hastb")}


def main(cluster_id: str | None = None) -> int:
    """Entry point of `carpswitch lab demo [--cluster ID]`."""
    return run(lambda line: print(line, flush=True), cluster_id)


if __name__ == "__main__":
    sys.exit(main())
