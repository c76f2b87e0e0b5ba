"""The chaos tests' referee (carpswitch.lab.cluster.watch): what counts as serving, and
that two hosts serving at once is reported (so the chaos test's "never two" can fail)."""

from __future__ import annotations

from pathlib import Path

from carpswitch.lab.cluster.watch import HostView, Referee, Sample, mounted_providers
from carpswitch.lab.paths import NodePaths

ROOT = Path("/tmp/cswx/hasta")


def test_a_mounted_fuse_provider_is_found_by_its_resource_name() -> None:
    mounts = (
        "proc /proc proc rw 0 0\n"
        f"lun {ROOT}/dev/hast/.lun.ggate fuse rw,nosuid,nodev 0 0\n"
        f"tank {ROOT}/dev/hast/tank fuse rw 0 0\n"  # not the provider's mount file
        f"other /tmp/cswx/hastb/dev/hast/.lun.ggate fuse rw 0 0\n"  # the other host's
    )
    assert mounted_providers(NodePaths.of(ROOT), mounts) == frozenset({"lun"})


def view(*, primary: bool, mounted: bool, reachable: bool = True) -> HostView:
    names = frozenset({"lun"})
    return HostView(
        primaries=names if primary else frozenset(),
        providers=names if mounted else frozenset(),
        reachable=reachable,
    )


def test_serving_needs_a_primary_worker_a_mounted_provider_and_a_reachable_host() -> None:
    assert view(primary=True, mounted=True).serves("lun")
    assert not view(primary=True, mounted=False).serves("lun")
    assert not view(primary=False, mounted=True).serves("lun")
    assert not view(primary=True, mounted=True, reachable=False).serves("lun")


def test_two_hosts_serving_in_one_sample_is_reported_with_its_time() -> None:
    referee = Referee({"hasta": ROOT, "hastb": ROOT}, ("lun",))
    one = {"hasta": view(primary=True, mounted=True), "hastb": view(primary=False, mounted=False)}
    two = {"hasta": view(primary=True, mounted=True), "hastb": view(primary=True, mounted=True)}
    referee.samples = [Sample(10.0, one), Sample(10.5, two), Sample(10.6, one)]
    assert referee.two_primaries() == ["+0.5s: lun served by hasta and hastb"]
    assert referee.served_by("lun") == [
        (10.0, ("hasta",)),
        (10.5, ("hasta", "hastb")),
        (10.6, ("hasta",)),
    ]
