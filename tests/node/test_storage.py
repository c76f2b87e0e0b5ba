"""mount, umount, fsck, zpool and zfs shims over HAST providers (§7)."""

from __future__ import annotations

from carpswitch.lab.node import LabNode, LabResource
from carpswitch.model import PoolHealth
from carpswitch.parse.mount import parse_mount_p
from carpswitch.parse.zpool import parse_zpool_list
from tests.node.conftest import wait_until


def _primary(node: LabNode, *names: str) -> None:
    assert node.run("hastctl", "role", "primary", *names).returncode == 0
    assert wait_until(lambda: all(node.provider_exists(n) for n in names))


def _ufs_node(make_lab_node) -> LabNode:
    node: LabNode = make_lab_node(resources=[LabResource("tank", "ufs")])
    return node


def test_mount_p_lists_the_mount_in_fstab_format(make_lab_node) -> None:
    node = _ufs_node(make_lab_node)
    _primary(node, "tank")
    device, mountpoint = str(node.paths.provider("tank")), str(node.paths.mnt / "tank")
    assert node.run("mount", "-o", "noatime", device, mountpoint).returncode == 0
    listed = node.run("mount", "-p").stdout
    assert [(m.device, m.mountpoint, m.options) for m in parse_mount_p(listed)] == [
        ("/dev/ada0p2", "/", ("rw",)),  # FreeBSD always lists its root file system first
        (device, mountpoint, ("rw", "noatime")),
    ]
    assert node.run("mount").stdout == (
        f"/dev/ada0p2 on / (ufs, local)\n{device} on {mountpoint} (ufs, local, noatime)\n"
    )


def test_mount_needs_an_existing_device_and_directory(make_lab_node) -> None:
    node = _ufs_node(make_lab_node)
    device, mountpoint = str(node.paths.provider("tank")), str(node.paths.mnt / "tank")
    result = node.run("mount", device, mountpoint)
    assert (result.returncode, result.stderr) == (
        1,
        f"mount: {device}: No such file or directory\n",
    )
    missing = node.run("mount", device, "/nonexistent/dir")
    assert missing.stderr == "mount: /nonexistent/dir: No such file or directory\n"


def test_dirty_file_system_refuses_rw_mount_until_preened(make_lab_node) -> None:
    node = _ufs_node(make_lab_node)
    _primary(node, "tank")
    node.set_fs_state("tank", "dirty")
    device, mountpoint = str(node.paths.provider("tank")), str(node.paths.mnt / "tank")
    refused = node.run("mount", device, mountpoint)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"mount: {device}: R/W mount of {mountpoint} denied. "
        "Filesystem is not clean - run fsck.: Operation not permitted\n"
    )
    preen = node.run("fsck", "-p", "-t", "ufs", device)
    assert preen.returncode == 0
    assert preen.stdout == (  # preen: pwarn lines only, ckfini prints no MARKED CLEAN
        f"{device}: FREE BLK COUNT(S) WRONG IN SUPERBLK (SALVAGED)\n"
        f"{device}: 2 files, 2 used, 30447 free (23 frags, 3803 blocks, 0.1% fragmentation)\n"
    )
    assert node.run("mount", device, mountpoint).returncode == 0


def test_clean_file_system_preen_skips_checks(make_lab_node) -> None:
    node = _ufs_node(make_lab_node)
    _primary(node, "tank")
    device = str(node.paths.provider("tank"))
    result = node.run("fsck", "-p", "-y", "-t", "ufs", device)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == f"{device}: FILE SYSTEM CLEAN; SKIPPING CHECKS"


def test_unrepairable_fails_preen_with_8_but_yes_repairs_it(make_lab_node) -> None:
    node = _ufs_node(make_lab_node)
    _primary(node, "tank")
    node.set_fs_state("tank", "unrepairable")
    device = str(node.paths.provider("tank"))
    preen = node.run("fsck", "-p", "-y", "-t", "ufs", device)
    assert preen.returncode == 8
    assert preen.stdout.endswith(f"{device}: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.\n")
    full = node.run("fsck", "-y", "-t", "ufs", device)
    assert full.returncode == 0
    assert "***** FILE SYSTEM WAS MODIFIED *****" in full.stdout
    assert node.fs_state("tank") == "clean"


def test_umount_busy_fails_unless_forced(make_lab_node) -> None:
    node = _ufs_node(make_lab_node)
    _primary(node, "tank")
    device, mountpoint = str(node.paths.provider("tank")), str(node.paths.mnt / "tank")
    node.run("mount", device, mountpoint)
    node.set_busy(mountpoint)
    busy = node.run("umount", mountpoint)
    assert (busy.returncode, busy.stderr) == (
        1,
        f"umount: unmount of {mountpoint} failed: Device busy\n",
    )
    assert node.run("umount", "-f", mountpoint).returncode == 0
    assert node.mounts() == []


def test_umount_of_something_not_mounted(make_lab_node) -> None:
    node = _ufs_node(make_lab_node)
    mountpoint = str(node.paths.mnt / "tank")
    result = node.run("umount", mountpoint)
    assert (result.returncode, result.stderr) == (
        1,
        f"umount: {mountpoint}: not a file system root directory\n",
    )


def test_pool_import_needs_force_when_last_used_by_the_peer(make_lab_node) -> None:
    node = make_lab_node(resources=[LabResource("tank", "zfs")])
    _primary(node, "tank")
    refused = node.run("zpool", "import", "-N", "-d", str(node.paths.dev_hast), "tank")
    assert refused.returncode == 1
    lines = refused.stderr.splitlines()
    assert lines[0] == "cannot import 'tank': pool was previously in use from another system."
    assert lines[1].startswith("Last accessed by hastb (hostid=")
    assert lines[2] == "The pool can be imported, use 'zpool import -f' to import the pool."
    forced = node.run("zpool", "import", "-f", "-N", "-d", str(node.paths.dev_hast), "tank")
    assert forced.returncode == 0
    listed = node.run("zpool", "list", "-H", "-o", "name,health")
    assert listed.stdout == "tank\tONLINE\n"
    assert [(p.name, p.health) for p in parse_zpool_list(listed.stdout)] == [
        ("tank", PoolHealth.ONLINE)
    ]
    again = node.run("zpool", "import", "-f", "tank")
    assert again.stderr.startswith("cannot import 'tank': a pool with that name already exists\n")


def test_pool_without_its_provider_cannot_be_imported(make_lab_node) -> None:
    node = make_lab_node(resources=[LabResource("tank", "zfs")])
    result = node.run("zpool", "import", "-f", "tank")
    assert (result.returncode, result.stderr) == (
        1,
        "cannot import 'tank': no such pool available\n",
    )


def test_pool_loses_its_provider_when_demoted_while_imported(make_lab_node) -> None:
    node = make_lab_node(resources=[LabResource("tank", "zfs")])
    _primary(node, "tank")
    node.run("zpool", "import", "-f", "tank")
    node.run("hastctl", "role", "secondary", "tank")
    assert node.run("zpool", "list", "-H", "-o", "name,health").stdout == "tank\tUNAVAIL\n"
    node.set_pool("tank", suspended=True)
    assert node.pools()[0].health == PoolHealth.SUSPENDED


def test_export_then_import_needs_no_force(make_lab_node) -> None:
    node = make_lab_node(resources=[LabResource("tank", "zfs")])
    _primary(node, "tank")
    node.run("zpool", "import", "-f", "tank")
    node.set_pool("tank", busy=True)
    busy = node.run("zpool", "export", "tank")
    assert (busy.returncode, busy.stderr) == (
        1,
        "cannot export 'tank': pool or dataset is busy\n",  # libzfs EZFS_BUSY
    )
    assert node.run("zpool", "export", "-f", "tank").returncode == 0
    assert node.run("zpool", "list", "tank").stderr == "cannot open 'tank': no such pool\n"
    assert node.run("zpool", "import", "tank").returncode == 0
    assert node.run("zfs", "mount", "-a").returncode == 0
    assert node.run("zfs", "unmount", "-a").returncode == 0
