"""'Mounted' means this device, present, at its mount point; stale mounts are forced off."""

from pathlib import Path

import pytest

from carpswitch.actions.storage_rules import mounted_here, pool_imported, stale_mounts
from carpswitch.actions.ufs import Fsck, MountUfs, Unmount, UnmountStale
from carpswitch.actions.verify import Verify
from carpswitch.config import parse_config
from carpswitch.engine.step import StepContext, StepFailed
from carpswitch.fsck.zfs import pool_health
from carpswitch.model import Mount, Pool, PoolHealth
from carpswitch.parse.mount import format_mount_p_line
from carpswitch.system import commands
from carpswitch.system.observe import Observer
from carpswitch.topology import Group, Resource, Topology
from tests.fakes import FakeRunner

FIXTURES = Path(__file__).parents[2] / "fixtures"
DEV, MNT = "/dev/hast/data", "/hast/data"
OURS = Mount(device=DEV, mountpoint=MNT, fstype="ufs")
OTHER = Mount(device="/dev/ada2p1", mountpoint=MNT, fstype="ufs")
ELSEWHERE = Mount(device="/dev/ada0p2", mountpoint="/", fstype="ufs")


def test_this_device_present_at_its_mount_point_is_mounted():
    assert mounted_here([ELSEWHERE, OURS], DEV, MNT, device_present=True)
    assert mounted_here([OURS], DEV + "/", MNT + "/", device_present=True)  # same paths
    assert stale_mounts([ELSEWHERE, OURS], DEV, MNT, device_present=True) == []


def test_a_mount_whose_provider_vanished_is_stale():
    assert not mounted_here([OURS], DEV, MNT, device_present=False)
    assert stale_mounts([OURS], DEV, MNT, device_present=False) == [OURS]


def test_another_device_at_the_mount_point_is_stale_and_not_ours():
    assert not mounted_here([OTHER], DEV, MNT, device_present=True)
    assert stale_mounts([ELSEWHERE, OTHER], DEV, MNT, device_present=True) == [OTHER]
    assert not mounted_here([OURS, OTHER], DEV, MNT, device_present=True)  # covered


def test_nothing_at_the_mount_point():
    assert not mounted_here([ELSEWHERE], DEV, MNT, device_present=True)
    assert stale_mounts([ELSEWHERE], DEV, MNT, device_present=False) == []


def test_pools():
    pools = [Pool(name="tank", health=PoolHealth.UNAVAIL)]
    assert pool_imported(pools, "tank") and not pool_imported(pools, "data")
    assert pool_health(pools, "tank") is PoolHealth.UNAVAIL
    assert pool_health(pools, "data") is None


@pytest.fixture
def data(tmp_path):
    """A UFS resource whose device path is a file we can make appear and vanish."""
    return Resource(
        name="data",
        kind="ufs",
        provider_name="data",
        device=str(tmp_path / "hast" / "data"),
        local_path="/dev/ada1",
        remote_address="198.18.0.2",
        mountpoint=str(tmp_path / "mnt"),
    )


def context(runner, resource):
    config = parse_config({})
    group = Group(name="g", vhid=1, resources=(resource.name,))
    topology = Topology(node_names=("hasta",), resources={resource.name: resource}, groups=(group,))
    return StepContext(
        runner=runner, config=config, topology=topology, observer=Observer(runner, config)
    )


def mount_p(runner, *mounts):
    """`mount -p` listing `mounts` after the root file system, as FreeBSD prints it."""
    table = (ELSEWHERE, *mounts)
    runner.reply(commands.mount_list(), "".join(format_mount_p_line(m) for m in table))


def entry(resource):
    return Mount(device=resource.device, mountpoint=resource.mountpoint, fstype="ufs")


def test_stale_mount_is_not_taken_for_a_checked_mounted_file_system(data):
    runner = FakeRunner()
    mount_p(runner, entry(data))
    ctx = context(runner, data)  # the device does not exist: the provider vanished
    assert not Fsck(data).is_done(ctx)
    assert not MountUfs(data).is_done(ctx)
    assert not UnmountStale(data).is_done(ctx)
    assert not Unmount(data).is_done(ctx)  # a demotion unmounts whatever is there


def test_unmount_stale_forces_off_what_is_there(data):
    runner = FakeRunner()
    mount_p(runner, entry(data))
    runner.reply(commands.umount(data.mountpoint, force=True))
    output = UnmountStale(data).do(context(runner, data))
    assert runner.calls[-1] == ("umount", "-f", data.mountpoint)
    assert output == f"forced off: {data.device} on {data.mountpoint}"


def test_live_mount_of_this_device_is_left_alone(data, tmp_path):
    (tmp_path / "hast").mkdir()
    (tmp_path / "hast" / "data").touch()
    runner = FakeRunner()
    mount_p(runner, entry(data))
    ctx = context(runner, data)
    assert UnmountStale(data).is_done(ctx)
    assert Fsck(data).is_done(ctx) and MountUfs(data).is_done(ctx)


def test_verify_refuses_a_mount_of_another_device(data, tmp_path):
    (tmp_path / "hast").mkdir()
    (tmp_path / "hast" / "data").touch()
    runner = FakeRunner()
    mount_p(runner, Mount(device="/dev/ada2p1", mountpoint=data.mountpoint, fstype="ufs"))
    listing = FIXTURES / "hastctl_list" / "primary_connected_doc_example.txt"
    runner.reply(
        commands.hastctl_list("/etc/hast.conf"),
        listing.read_text().replace("shared", "data"),
    )
    ctx = context(runner, data)
    with pytest.raises(StepFailed, match=f"{data.device} is not mounted at {data.mountpoint}"):
        Verify(ctx.topology.groups[0]).do(ctx)
