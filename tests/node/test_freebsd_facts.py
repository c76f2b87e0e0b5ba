"""Issue 8, items 16-20: FreeBSD facts the simulator got wrong, and how the controller copes.

Each test reproduces the scenario of the issue on a simulated node: the FreeBSD text or
behaviour (source in docs/freebsd/verified-facts.md) and, where the controller is
concerned, a real `carpswitch promote` against it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from carpswitch.cli import main
from carpswitch.config import load_config
from carpswitch.engine.journal import Journal
from carpswitch.lab.node import LabNode, LabResource
from carpswitch.lab.procs import unix_address
from carpswitch.model import StepOutcome, TransitionOutcome, TransitionRecord
from carpswitch.parse.hastctl import parse_hastctl_list
from carpswitch.parse.ifconfig import parse_ifconfig_carp
from carpswitch.parse.mount import parse_mount_p
from carpswitch.parse.service import parse_service_status
from carpswitch.parse.zpool import parse_zpool_list
from tests.node.conftest import wait_until

UFS = LabResource("data", "ufs")
ZFS = LabResource("tank", "zfs")

TIMEOUTS = """
[timeouts]
release = 1.5
device = 3
role = 10
fsck = 15
mount = 15
import = 15
export = 3
umount = 3
umount_grace = 1
service = 15
hook = 5
observe = 10
"""

NOT_ENABLED = (
    "Cannot 'status' ctld. Set ctld_enable to YES in /etc/rc.conf or use 'onestatus' "
    "instead of 'status'.\n"
)


def configure(node: LabNode, timeouts: str = TIMEOUTS) -> str:
    """The node's carpswitch.toml with bounded step timeouts."""
    path = Path(node.config_path)
    path.write_text(path.read_text() + timeouts)
    return str(path)


def promote(config: str) -> int:
    try:
        return main(["-c", config, "promote"])
    except SystemExit as exc:
        return int(exc.code or 0)


def last(config: str) -> TransitionRecord:
    return Journal(load_config(config).paths.state_dir).records()[-1]


def step_text(record: TransitionRecord, kind: str) -> str:
    """What the steps of `kind` reported: detail and output."""
    return " ".join(f"{s.detail} {s.output}" for s in record.steps if s.step.kind == kind)


# --- 16: `service NAME status` of a disabled service ----------------------------------


@pytest.mark.parametrize("release", [13, 14])
def test_status_of_a_disabled_service_is_refused_on_13_and_14_0(make_lab_node, release) -> None:
    node = make_lab_node(services=["ctld"], disabled_services=["ctld"], freebsd_version=release)
    status = node.run("service", "ctld", "status")
    assert (status.returncode, status.stdout, status.stderr) == (0, NOT_ENABLED, "")
    onestatus = node.run("service", "ctld", "onestatus")
    assert (onestatus.returncode, onestatus.stdout) == (1, "ctld is not running.\n")
    assert not parse_service_status("ctld", onestatus.stdout, onestatus.returncode).running
    started = node.run("service", "ctld", "start")  # every directive but the exempt ones
    assert started.stdout == (
        "Cannot 'start' ctld. Set ctld_enable to YES in /etc/rc.conf or use 'onestart' "
        "instead of 'start'.\n"
    )
    assert node.service_pid("ctld") is None


def test_newest_rc_subr_answers_status_of_a_disabled_service(make_lab_node) -> None:
    node = make_lab_node(services=["ctld"], disabled_services=["ctld"], rc_subr_exempts_status=True)
    status = node.run("service", "ctld", "status")
    assert (status.returncode, status.stdout) == (1, "ctld is not running.\n")


@pytest.mark.parametrize("release", [13, 14])
def test_promotion_with_a_disabled_ctld_succeeds_on_13_and_14(make_lab_node, release) -> None:
    node = make_lab_node(
        resources=[LabResource("lun", "raw")],
        services=["ctld"],
        disabled_services=["ctld"],
        freebsd_version=release,
        carp_state="MASTER",
    )
    config = configure(node)
    assert promote(config) == 0
    record = last(config)
    assert record.outcome is TransitionOutcome.SUCCEEDED, record
    assert node.service_pid("ctld") is not None
    assert node.run("service", "ctld", "status").stdout == NOT_ENABLED  # still disabled
    pid = node.service_pid("ctld")
    assert node.run("service", "ctld", "onestatus").stdout == f"ctld is running as pid {pid}.\n"


# --- 17 and 20: rc.subr's unknown directive, and a service without reload -------------

NFSD_USAGE = (
    "Usage: /etc/rc.d/nfsd [fast|force|one|quiet](start|stop|restart|rcvar|enable|disable|"
    "delete|enabled|describe|extracommands|status|poll)\n"
)


def test_onereload_of_nfsd_is_an_unknown_directive_named_without_its_prefix(
    make_lab_node,
) -> None:
    node = make_lab_node(services=["nfsd", "ctld"])
    assert node.run("service", "nfsd", "onestart").returncode == 0
    reload = node.run("service", "nfsd", "onereload")
    assert (reload.returncode, reload.stdout) == (1, "")
    assert reload.stderr == "/etc/rc.d/nfsd: unknown directive 'reload'.\n" + NFSD_USAGE
    other = node.run("service", "nfsd", "forcefrobnicate")
    assert other.stderr.startswith("/etc/rc.d/nfsd: unknown directive 'frobnicate'.\n")
    ctld = node.run("service", "ctld", "onereload")  # ctld has extra_commands="reload"
    assert (ctld.returncode, ctld.stderr) == (1, f"ctld not running? (check {ctld_pid(node)}).\n")
    node.run("service", "ctld", "onestart")
    assert node.run("service", "ctld", "onereload").returncode == 0
    usage = node.run("service", "ctld", "bogus").stderr.splitlines()[1]
    assert usage.endswith("|describe|extracommands|reload|status|poll)")


def ctld_pid(node: LabNode) -> Path:
    return node.paths.service_pidfile("ctld")


def test_promotion_restarts_a_running_service_that_has_no_reload(make_lab_node) -> None:
    node = make_lab_node(
        resources=[UFS], services=["nfsd"], disabled_services=["nfsd"], carp_state="MASTER"
    )
    config = configure(node)
    assert node.run("service", "nfsd", "onestart").returncode == 0
    before = node.service_pid("nfsd")
    assert promote(config) == 0
    record = last(config)
    assert record.outcome is TransitionOutcome.SUCCEEDED, record
    detail = step_text(record, "service_start")
    assert "unknown directive 'reload'" in detail and "onerestart" in detail, detail
    after = node.service_pid("nfsd")
    assert after is not None and after != before


# --- 18: a new primary's I/O waits for the remote --------------------------------------


def test_new_primary_serves_io_only_after_the_hast_timeout(make_lab_node) -> None:
    node = make_lab_node(resources=[UFS], hast_timeout=2)
    assert "\ntimeout 2\n" in node.paths.hast_conf.read_text()
    started = time.monotonic()
    node.run("hastctl", "role", "primary", "data")
    assert wait_until(lambda: node.provider_exists("data"))
    waiting = parse_hastctl_list(node.run("hastctl", "list", "data").stdout)[0]
    assert waiting.statistics is not None and waiting.statistics.queues is not None
    assert waiting.statistics.queues.idle == 256  # ggate_recv_thread not started yet
    fsck = node.run("fsck", "-p", "-t", "ufs", str(node.paths.provider("data")))
    waited = time.monotonic() - started
    assert fsck.returncode == 0
    assert 1.9 <= waited < 6, waited
    serving = parse_hastctl_list(node.run("hastctl", "list", "data").stdout)[0]
    assert serving.statistics is not None and serving.statistics.queues is not None
    assert serving.statistics.queues.idle == 255


def test_a_connected_peer_ends_the_wait_at_once(make_lab_node) -> None:
    node = make_lab_node(resources=[UFS], hast_timeout=60)
    node.run("hastctl", "role", "primary", "data")
    assert wait_until(lambda: node.provider_exists("data"))
    assert not node.serves_io("data")
    node.connect_peer("data")  # init_remote gets its answer
    started = time.monotonic()
    result = node.run("mount", str(node.paths.provider("data")), str(node.paths.mnt / "data"))
    assert result.returncode == 0 and time.monotonic() - started < 3


def test_promotion_waits_out_the_remote_with_its_step_timeouts(make_lab_node) -> None:
    node = make_lab_node(resources=[UFS, ZFS], carp_state="MASTER", hast_timeout=2)
    config = configure(node)
    assert promote(config) == 0
    record = last(config)
    assert record.outcome is TransitionOutcome.SUCCEEDED, record
    durations = {s.step.kind: s.duration for s in record.steps if s.step.resource}
    assert durations["fsck"] >= 1.5, durations  # fsck -p blocked on /dev/hast/data
    assert durations["zpool_import"] >= 1.5, durations  # the import read tank's label


def test_a_step_timeout_below_the_hast_timeout_fails_the_promotion(make_lab_node) -> None:
    node = make_lab_node(resources=[ZFS], carp_state="MASTER", hast_timeout=3)
    config = configure(node, TIMEOUTS.replace("import = 15", "import = 1"))
    assert promote(config) == 1
    record = last(config)
    imported = [s for s in record.steps if s.step.kind == "zpool_import"]
    assert [s.outcome for s in imported] == [StepOutcome.TIMED_OUT], record


# --- 19: zpool.cache ----------------------------------------------------------------


def _import_with_cachefile(node: LabNode) -> None:
    """What an import without `-o cachefile=none` (an admin, an old carpswitch) does."""
    node.run("hastctl", "role", "primary", "tank")
    assert wait_until(lambda: node.serves_io("tank"), timeout=5)
    imported = node.run("zpool", "import", "-f", "-N", "-d", str(node.paths.dev_hast), "tank")
    assert imported.returncode == 0, imported.stderr


def test_a_pool_in_zpool_cache_comes_back_unavail_after_a_reboot(make_lab_node) -> None:
    node = make_lab_node(resources=[ZFS])
    _import_with_cachefile(node)
    node.reboot()
    listed = node.run("zpool", "list", "-H", "-o", "name,health").stdout
    assert listed == "tank\tUNAVAIL\n"
    assert [p.health for p in parse_zpool_list(listed)] == ["UNAVAIL"]
    table = node.run("zpool", "list").stdout.splitlines()
    assert table[1].split() == ["tank", "-", "-", "-", "-", "-", "-", "-", "-", "UNAVAIL", "-"]
    node.run("hastctl", "role", "primary", "tank")
    assert wait_until(lambda: node.serves_io("tank"), timeout=5)
    assert node.pools()[0].health == "UNAVAIL"  # the provider is back, the pool is not
    again = node.run("zpool", "import", "-o", "cachefile=none", "-f", "tank")
    assert again.stderr.startswith("cannot import 'tank': a pool with that name already exists")
    assert node.run("zpool", "export", "tank").returncode == 0
    assert node.run("zpool", "import", "-o", "cachefile=none", "-f", "tank").returncode == 0
    assert node.pools()[0].health == "ONLINE"
    node.reboot()
    assert node.run("zpool", "list").stdout == "no pools available\n"


def test_promotion_exports_a_pool_left_unavail_by_a_stale_cache_then_imports_it(
    make_lab_node,
) -> None:
    node = make_lab_node(resources=[ZFS], carp_state="MASTER")
    _import_with_cachefile(node)
    node.reboot(carp_state="MASTER")
    assert node.run("zpool", "list", "-H", "-o", "name,health").stdout == "tank\tUNAVAIL\n"
    config = configure(node)
    assert promote(config) == 0
    record = last(config)
    assert record.outcome is TransitionOutcome.SUCCEEDED, record
    assert "tank was listed UNAVAIL, export first" in step_text(record, "zpool_import")
    assert [(p.name, p.health) for p in node.pools()] == [("tank", "ONLINE")]
    node.reboot()  # carpswitch imported with cachefile=none: nothing comes back at boot
    assert node.pools() == []


# --- 20: smaller output details ----------------------------------------------------


@contextmanager
def hastd_that_hangs_up(node: LabNode) -> Iterator[None]:
    """A control socket that accepts, reads the request and closes without a reply."""
    node.stop()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with unix_address(node.paths.control_socket) as address:
        listener.bind(address)
    listener.listen(1)
    listener.settimeout(10)

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(10)
        listener.close()
        node.paths.control_socket.unlink(missing_ok=True)


def test_hastctl_says_cannot_receive_reply_with_the_strerror(lab_node: LabNode) -> None:
    with hastd_that_hangs_up(lab_node):
        result = lab_node.run("hastctl", "status")
    assert result.returncode == 69
    assert result.stderr == (
        f"[ERROR] cannot receive reply from hastd via uds://{lab_node.paths.control_socket}: "
        "Socket is not connected.\n"
    )


def test_hastctl_create_goes_on_after_an_unknown_name(lab_node: LabNode) -> None:
    before = lab_node.run("hastctl", "dump", "tank").stdout
    result = lab_node.run("hastctl", "create", "foo", "tank")
    assert (result.returncode, result.stderr) == (65, "[ERROR] Unknown resource foo.\n")
    assert lab_node.run("hastctl", "dump", "tank").stdout != before  # tank got a new resuid


def test_mount_p_gives_a_ufs_outside_fstab_pass_2_2(make_lab_node) -> None:
    node = make_lab_node(resources=[UFS])
    node.run("hastctl", "role", "primary", "data")
    device, mountpoint = str(node.paths.provider("data")), str(node.paths.mnt / "data")
    assert wait_until(lambda: node.provider_exists("data"))
    assert node.run("mount", device, mountpoint).returncode == 0
    table = node.run("mount", "-p").stdout
    assert table.startswith("/dev/ada0p2\t\t/\t\t\tufs\trw\t\t1 1\n"), repr(table)  # root
    assert table.endswith("ufs\trw\t\t2 2\n"), repr(table)
    root, mount = parse_mount_p(table)
    assert (root.dump_freq, root.pass_number) == (1, 1)
    assert (mount.dump_freq, mount.pass_number) == (2, 2)


def test_fsck_y_prints_freebsds_questions_and_closing_lines(make_lab_node) -> None:
    node = make_lab_node(resources=[UFS])
    node.run("hastctl", "role", "primary", "data")
    assert wait_until(lambda: node.serves_io("data"), timeout=5)
    device = str(node.paths.provider("data"))
    node.set_fs_state("data", "dirty")
    repaired = node.run("fsck", "-y", "-t", "ufs", device)
    assert repaired.returncode == 0
    assert "MARK FILE SYSTEM CLEAN" not in repaired.stdout  # NetBSD's, not FreeBSD's
    assert repaired.stdout.endswith(
        "** Phase 5 - Check Cyl groups\n"
        "FREE BLK COUNT(S) WRONG IN SUPERBLK\n"
        "SALVAGE? yes\n"
        "\n"
        "2 files, 2 used, 30447 free (23 frags, 3803 blocks, 0.1% fragmentation)\n"
        "\n"
        "***** FILE SYSTEM MARKED CLEAN *****\n"
        "\n"
        "***** FILE SYSTEM WAS MODIFIED *****\n"
    )
    clean = node.run("fsck", "-y", "-t", "ufs", device)
    assert clean.stdout.endswith("fragmentation)\n\n***** FILE SYSTEM IS CLEAN *****\n")


def test_ifconfig_vhid_state_on_a_new_vhid_creates_it_in_init(lab_node: LabNode) -> None:
    result = lab_node.run("ifconfig", "vtnet0", "vhid", "7", "state", "backup")
    assert (result.returncode, result.stderr) == (0, "")
    shown = lab_node.run("ifconfig", "vtnet0").stdout
    assert "\tcarp: INIT vhid 7 advbase 1 advskew 0\n" in shown
    assert "vhid 7\n" not in shown.replace("carp: INIT vhid 7", "")  # no address for it
    assert [(v.vhid, v.state) for v in parse_ifconfig_carp(shown, "vtnet0")] == [
        (1, "BACKUP"),
        (7, "INIT"),
    ]


def test_ifconfig_refuses_advskew_255_and_state_without_vhid(lab_node: LabNode) -> None:
    refused = lab_node.run("ifconfig", "vtnet0", "vhid", "1", "advskew", "255")
    assert (refused.returncode, refused.stderr) == (1, "ifconfig: SIOCSVH: Invalid argument\n")
    assert lab_node.carp()[0].advskew == 0
    assert lab_node.run("ifconfig", "vtnet0", "vhid", "1", "advskew", "254").returncode == 0
    assert lab_node.carp()[0].advskew == 254
    early = lab_node.run("ifconfig", "vtnet0", "state", "backup", "vhid", "1")
    assert (early.returncode, early.stderr) == (1, "ifconfig: state requires vhid\n")
    skew = lab_node.run("ifconfig", "vtnet0", "advskew", "10")
    assert skew.stderr == "ifconfig: advskew requires vhid\n"


def test_ifdown_demotion_factor_is_added_per_vhid_on_down_and_on_carp_allow_0(
    lab_node: LabNode,
) -> None:
    lab_node.run("ifconfig", "vtnet0", "vhid", "2")
    lab_node.run("ifconfig", "vtnet0", "down")
    assert lab_node.demotion() == 480  # two vhids, 240 each
    lab_node.run("ifconfig", "vtnet0", "up")
    assert lab_node.demotion() == 0
    assert [v.state for v in lab_node.carp()] == ["BACKUP", "INIT"]  # vhid 2 has no address
    lab_node.run("sysctl", "net.inet.carp.ifdown_demotion_factor=100")
    lab_node.run("sysctl", "net.inet.carp.allow=0")
    assert lab_node.demotion() == 200
    assert [v.state for v in lab_node.carp()] == ["INIT", "INIT"]
    lab_node.run("sysctl", "net.inet.carp.allow=0")  # unchanged: carp_allow_sysctl does nothing
    assert lab_node.demotion() == 200
    lab_node.run("sysctl", "net.inet.carp.allow=1")
    assert lab_node.demotion() == 0
    assert [v.state for v in lab_node.carp()] == ["BACKUP", "INIT"]


def test_reboot_gives_a_new_boottime_and_a_fresh_kernel(make_lab_node) -> None:
    node = make_lab_node(resources=[UFS], carp_state="MASTER")
    before = node.run("sysctl", "-n", "kern.boottime").stdout
    assert before.startswith("{ sec = ") and ", usec = " in before
    node.run("sysctl", "net.inet.carp.demotion=240")
    node.run("hastctl", "role", "primary", "data")
    assert wait_until(lambda: node.serves_io("data"), timeout=5)
    node.run("mount", str(node.paths.provider("data")), str(node.paths.mnt / "data"))
    node.reboot()
    assert node.run("sysctl", "-n", "kern.boottime").stdout != before
    assert node.demotion() == 0
    assert node.role("data") == "init"
    assert node.mounts() == []
    assert node.fs_state("data") == "dirty"  # it lost its provider while mounted
    assert [v.state for v in node.carp()] == ["BACKUP"]
    written = node.run("sysctl", "kern.boottime=1")
    assert written.stderr == "sysctl: oid 'kern.boottime' is read only\n"
