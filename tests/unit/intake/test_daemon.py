"""The daemon with a fake controller: devd's socket, the hook's socket, timer, reload, stop."""

import os
import subprocess
import sys
import threading
import time

import pytest

from carpswitch.intake.act import Reconciler
from carpswitch.intake.daemon import Daemon
from carpswitch.intake.describe import lock_holder
from carpswitch.intake.inbox import Inbox, IntakeEvent
from carpswitch.intake.lockfile import IntakeLock
from carpswitch.intake.signals import SignalFlags
from carpswitch.intake.wire import Delivery, intake_socket_path, send_to_daemon
from tests.ports import free_port
from tests.unit.devd.test_listener import FakeDevd


class FakeController:
    def __init__(self):
        self.notifications = []
        self.calls = []
        self.finished = 0
        self.unsettled = []
        self.errors = []

    def reconcile(self, trigger, boot=False, flapping=frozenset(), should_stop=lambda: False):
        self.stop_seen = should_stop()
        self.calls.append((trigger, flapping))
        return []

    def wait_for_notifications(self):
        self.finished += 1


def wait_for(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


class Running:
    """A Daemon serving in a thread; stopped and joined by the fixture."""

    def __init__(self, root, timer=30.0):
        self.root = root
        self.run_dir = str(root / "run")
        self.config = root / "carpswitch.toml"
        self.devd_path = str(root / "devd.seqpacket.pipe")
        self.write_config(timer=timer)
        self.controllers = []
        self.flags = SignalFlags()
        self.result = None
        self.daemon = Daemon(
            str(self.config), self.flags, self.make_reconciler, install_signals=False
        )
        self.thread = threading.Thread(target=self._run, daemon=True)

    def write_config(self, timer=30.0, settle=0.05, groups=""):
        self.config.write_text(
            f'[paths]\nrun_dir = "{self.run_dir}"\nstate_dir = "{self.root}/db"\n'
            f'devd_socket = "{self.devd_path}"\n'
            f"[intake]\nsettle = {settle}\nflap_limit = 2.0\ntimer = {timer}\n{groups}"
        )

    def make_reconciler(self, config):
        controller = FakeController()
        self.controllers.append((config, controller))
        return Reconciler(config, controller=controller)

    @property
    def calls(self):
        return [call for _config, c in self.controllers for call in c.calls]

    def _run(self):
        self.result = self.daemon.run()

    def start(self):
        self.thread.start()
        assert wait_for(lambda: os.path.exists(intake_socket_path(self.run_dir)))
        return self

    def stop(self):
        self.flags.request_stop()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture
def make_daemon(tmp_path):
    started = []

    def make(timer=30.0):
        running = Running(tmp_path, timer)
        started.append(running)
        return running

    yield make
    for running in started:
        if running.thread.is_alive():
            running.stop()
        running.flags.uninstall()


def test_the_daemon_reconciles_at_start_and_holds_the_intake_lock(make_daemon):
    running = make_daemon().start()
    assert wait_for(lambda: running.calls == [("daemon start", frozenset())])
    holder = lock_holder(running.run_dir)
    assert holder is not None
    assert holder.role == "daemon"


def test_a_devd_record_on_the_seqpacket_socket_makes_a_round(make_daemon):
    running = make_daemon()
    devd = FakeDevd(running.devd_path)
    try:
        running.start()
        client = devd.accept()
        assert wait_for(lambda: len(running.calls) == 1)
        client.send(b"!system=CARP subsystem=1@vtnet0 type=MASTER\n")
        assert wait_for(lambda: len(running.calls) == 2)
        assert running.calls[1] == ("devd MASTER 1@vtnet0", frozenset())
    finally:
        devd.close()


def test_devd_records_of_a_vhid_no_group_has_make_no_round(make_daemon):
    """Another service's vhid flapping must not count as ours (issue 8, item 7)."""
    running = make_daemon()
    running.write_config(groups='[[group]]\nname = "s"\nvhid = 1\nresources = ["tank"]\n')
    running.daemon = Daemon(
        str(running.config), running.flags, running.make_reconciler, install_signals=False
    )
    devd = FakeDevd(running.devd_path)
    try:
        running.start()
        client = devd.accept()
        assert wait_for(lambda: len(running.calls) == 1)
        for _ in range(20):
            client.send(b"!system=CARP subsystem=2@vtnet0 type=MASTER\n")
            client.send(b"!system=CARP subsystem=2@vtnet0 type=BACKUP\n")
        client.send(b"!system=CARP subsystem=1@vtnet0 type=BACKUP\n")
        assert wait_for(lambda: len(running.calls) == 2)
        assert running.calls[1] == ("devd BACKUP 1@vtnet0", frozenset())  # no "+40 coalesced"
    finally:
        devd.close()


def test_a_devd_restart_is_healed_by_a_round_after_reconnecting(make_daemon, tmp_path):
    running = make_daemon()
    devd = FakeDevd(running.devd_path)
    try:
        running.start()
        devd.accept()
        assert wait_for(lambda: len(running.calls) == 1)
        devd.close()
        (tmp_path / "devd.seqpacket.pipe").unlink()
        devd = FakeDevd(running.devd_path)
        devd.accept()
        assert wait_for(lambda: len(running.calls) == 2)
        assert running.calls[1] == ("devd reconnected", frozenset())
    finally:
        devd.close()


def test_a_hook_wake_up_makes_a_round_for_the_recorded_events(make_daemon):
    running = make_daemon().start()
    assert wait_for(lambda: len(running.calls) == 1)
    for state in ("BACKUP", "MASTER"):
        event = IntakeEvent("hook", state, "1@vtnet0", time.time())
        Inbox(running.run_dir).record(event)
        assert send_to_daemon(running.run_dir, event) is Delivery.DELIVERED
    assert wait_for(lambda: len(running.calls) >= 2)
    time.sleep(0.2)
    assert running.calls[1:] == [("hook MASTER 1@vtnet0 (+1 coalesced)", frozenset())]
    assert Inbox(running.run_dir).pending() == 0


def test_the_timer_reconciles_without_events(make_daemon):
    running = make_daemon(timer=0.1).start()
    assert wait_for(lambda: len(running.calls) >= 3)
    assert running.calls[1:3] == [("timer", frozenset()), ("timer", frozenset())]


def test_sighup_reloads_the_config_at_the_next_cycle(make_daemon):
    running = make_daemon().start()
    assert wait_for(lambda: len(running.calls) == 1)
    running.write_config(settle=0.25)
    running.flags.request_reload()
    assert wait_for(lambda: len(running.controllers) == 2)
    fresh_config, _controller = running.controllers[1]
    assert fresh_config.intake.settle == 0.25
    assert running.controllers[0][1].finished == 1  # the old one's notify hooks were awaited


def test_a_bad_config_on_reload_keeps_the_old_one(make_daemon):
    running = make_daemon().start()
    assert wait_for(lambda: len(running.calls) == 1)
    running.config.write_text("[intake]\nsettle = -5\n")
    running.flags.request_reload()
    time.sleep(0.3)
    assert len(running.controllers) == 1
    assert running.thread.is_alive()


def test_stop_ends_the_run_with_0_and_cleans_up(make_daemon):
    running = make_daemon().start()
    assert wait_for(lambda: len(running.calls) == 1)
    running.stop()
    assert running.result == 0
    assert not os.path.exists(intake_socket_path(running.run_dir))
    assert lock_holder(running.run_dir) is None
    assert running.controllers[0][1].finished >= 1


def test_the_daemon_waits_for_a_worker_to_finish_before_acting(make_daemon):
    running = make_daemon()
    (running.root / "run").mkdir()
    worker = IntakeLock(running.run_dir, "worker")
    assert worker.try_acquire()
    running.thread.start()
    time.sleep(0.5)
    assert running.calls == []
    worker.release()
    assert wait_for(lambda: running.calls == [("daemon start", frozenset())])


def test_a_stop_while_waiting_for_the_lock_exits_0(make_daemon):
    running = make_daemon()
    (running.root / "run").mkdir()
    worker = IntakeLock(running.run_dir, "worker")
    assert worker.try_acquire()
    try:
        running.thread.start()
        time.sleep(0.3)
        running.stop()
    finally:
        worker.release()
    assert running.result == 0
    assert running.calls == []


def test_daemon_reconcilers_stop_starting_transitions_after_sigterm(tmp_path):
    running = Running(tmp_path)
    reconciler = running.daemon._reconciler(running.daemon.config)
    reconciler("timer", flapping=frozenset())
    controller = running.controllers[-1][1]
    assert controller.stop_seen is False
    running.flags.stop = True
    reconciler("timer", flapping=frozenset())
    assert controller.stop_seen is True


def test_the_daemon_watches_the_guards_and_serves_its_view(make_daemon, tmp_path):
    """A silent witness makes the watch ask for a round (self-fencing due) while the last
    look saw this node primary; the view answers a peer on its port meanwhile."""
    from datetime import UTC, datetime

    from carpswitch.guards.peer import ask_peer
    from carpswitch.model import CarpState, CarpVhid, HastResource, HastRole, NodeState
    from carpswitch.topology import Group, Topology

    ping = tmp_path / "ping"
    ping.write_text("#!/bin/sh\nexit 2\n")
    hastctl = tmp_path / "hastctl"
    hastctl.write_text("#!/bin/sh\necho 'hastctl: cannot connect' >&2\nexit 1\n")
    for script in (ping, hastctl):
        script.chmod(0o755)
    port = free_port()
    running = make_daemon(timer=300.0)
    running.write_config(
        groups=(
            f'[commands]\nping = "{ping}"\nhastctl = "{hastctl}"\n'
            f'[node]\nname = "hasta"\nview_listen = "127.0.0.1"\n'
            f'[guards]\nwitnesses = ["198.18.0.10"]\nself_fence = true\nwitness_grace = 0.0\n'
            f"peer_view = true\nview_port = {port}\ninterval = 0.1\n"
        )
    )
    running.daemon = Daemon(
        str(running.config), running.flags, running.make_reconciler, install_signals=False
    )
    group = Group(name="storage", vhid=1, interface="vtnet0", resources=("tank",))
    primary = NodeState(
        node="hasta",
        observed_at=datetime.now(UTC),
        carp=[CarpVhid(interface="vtnet0", vhid=1, state=CarpState.MASTER, advbase=1, advskew=0)],
        resources=[HastResource(name="tank", role=HastRole.PRIMARY, device_present=True)],
    )
    topology = Topology(node_names=("hasta",), resources={}, groups=(group,))
    running.start()
    assert wait_for(lambda: len(running.calls) >= 1)
    running.controllers[-1][1].last_look = (topology, primary)
    assert wait_for(lambda: any(t.startswith("guards: group storage: ") for t, _ in running.calls))
    answer = ask_peer("127.0.0.1", port, 2.0)
    assert answer.view is not None, answer.unreachable
    assert answer.view.node == "hasta"
    assert answer.view.error and "cannot connect" in answer.view.error
    running.stop()
    assert ask_peer("127.0.0.1", port, 1.0).view is None  # the view closed with the daemon


def test_the_daemon_arms_the_watchdog_pats_it_and_disarms_it_when_it_stops(make_daemon, tmp_path):
    """`[guards] watchdog`: armed before the first round, patted from its own thread,
    re-armed with the new timeout on a reload, disarmed by a clean stop."""
    log = tmp_path / "watchdog.log"
    watchdog = tmp_path / "watchdog"
    watchdog.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    watchdog.chmod(0o755)
    running = make_daemon(timer=300.0)

    def configure(seconds: int) -> None:
        running.write_config(
            groups=f'[commands]\nwatchdog = "{watchdog}"\n[guards]\nwatchdog = {seconds}\n'
        )

    configure(2)
    running.daemon = Daemon(
        str(running.config), running.flags, running.make_reconciler, install_signals=False
    )
    running.start()
    assert wait_for(lambda: log.exists() and log.read_text().count("-t 2") >= 3)
    configure(3)
    running.flags.request_reload()
    assert wait_for(lambda: "-t 3" in log.read_text())
    running.stop()
    pats = log.read_text().splitlines()
    assert pats[0] == "-t 2" and pats[-1] == "-t 0", pats
    assert pats.index("-t 0") > pats.index("-t 2")  # the old one disarmed before the new one


def _watchdog_daemon(make_daemon, tmp_path):
    """A daemon (not started) with `[guards] watchdog = 2` and a watchdog that logs its
    arguments: (the running daemon, the log)."""
    log = tmp_path / "watchdog.log"
    watchdog = tmp_path / "watchdog"
    watchdog.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    watchdog.chmod(0o755)
    running = make_daemon()
    running.write_config(groups=f'[commands]\nwatchdog = "{watchdog}"\n[guards]\nwatchdog = 2\n')
    running.daemon = Daemon(
        str(running.config), running.flags, running.make_reconciler, install_signals=False
    )
    (running.root / "run").mkdir(exist_ok=True)
    return running, log


def test_the_watchdog_is_patted_while_a_worker_holds_the_lock(make_daemon, tmp_path):
    """A watchdog a killed daemon left armed is patted by the next one at once, even while
    a worker's transition keeps it from acting: its host must not be reset meanwhile."""
    running, log = _watchdog_daemon(make_daemon, tmp_path)
    worker = IntakeLock(running.run_dir, "worker")
    assert worker.try_acquire()
    try:
        running.thread.start()
        assert wait_for(lambda: log.exists() and log.read_text().count("-t 2") >= 3)
        assert running.calls == []  # still waiting for the worker
    finally:
        worker.release()
    running.stop()
    assert log.read_text().splitlines()[-1] == "-t 0"


def test_a_second_daemon_leaves_the_serving_ones_watchdog_armed(make_daemon, tmp_path):
    """A daemon that never got the lock because another daemon serves stops patting but
    does not disarm: the serving one's fence must not go off for a moment."""
    running, log = _watchdog_daemon(make_daemon, tmp_path)
    holds = (
        "import sys, time\n"
        "from carpswitch.intake.lockfile import IntakeLock\n"
        f"assert IntakeLock({str(running.run_dir)!r}, 'daemon').try_acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    other = subprocess.Popen([sys.executable, "-c", holds], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline() == "held\n"
        running.thread.start()
        assert wait_for(lambda: log.exists() and "-t 2" in log.read_text())
        running.stop()
    finally:
        other.kill()
        other.wait()
    assert "-t 0" not in log.read_text().splitlines()
