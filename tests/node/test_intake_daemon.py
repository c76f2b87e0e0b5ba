"""`carpswitch daemon` driven through a real SOCK_SEQPACKET socket speaking devd's format.

The test plays devd: it binds and listens on a seqpacket socket at the path set as
paths.devd_socket, and sends each event as devd does: one record, trailing newline
included (sbin/devd/devd.cc notify_clients).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from carpswitch.intake.wire import intake_socket_path
from carpswitch.lab.faults import Fault
from carpswitch.model import TransitionOutcome
from tests.node.test_intake_helpers import IntakeNode, wait_until


class Devd:
    """The devd end of the socket: accepts the daemon and sends it records."""

    def __init__(self, path: Path) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.server.bind(str(path))
        self.server.listen(10)
        self.server.settimeout(30)
        self.client: socket.socket | None = None

    def accept(self) -> None:
        self.client, _ = self.server.accept()
        self.client.shutdown(socket.SHUT_RD)  # devd never reads from its clients

    def carp(self, state: str, subsystem: str = "1@vtnet0") -> None:
        assert self.client is not None
        self.client.send(f"!system=CARP subsystem={subsystem} type={state}\n".encode())

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.server.close()


@pytest.fixture
def devd(tmp_path) -> Iterator[Devd]:
    fake = Devd(tmp_path / "devd.pipe")
    yield fake
    fake.close()


def test_devd_records_on_the_seqpacket_socket_drive_transitions(make_lab_node, tmp_path, devd):
    intake = IntakeNode(
        make_lab_node(carp_state="BACKUP"), settle=0.2, devd_socket=tmp_path / "devd.pipe"
    )
    with intake.daemon() as daemon:
        devd.accept()
        assert wait_until(lambda: intake.role() == "secondary"), intake.daemon_log()
        intake.node.set_carp("MASTER")
        devd.carp("MASTER")
        assert devd.client is not None
        devd.client.send(b"!system=IFNET subsystem=vtnet0 type=LINK_UP\n")  # not CARP: ignored
        assert wait_until(lambda: intake.role() == "primary"), intake.daemon_log()
        intake.node.set_carp("BACKUP")
        devd.carp("BACKUP")
        assert wait_until(lambda: intake.role() == "secondary"), intake.daemon_log()
        assert wait_until(lambda: len(intake.journal()) == 3)
        daemon.terminate()  # SIGTERM
        assert daemon.wait(timeout=30) == 0
    triggers = [r.trigger for r in intake.journal()]
    # Unloaded: daemon start, devd MASTER, devd BACKUP. Under load a record can arrive
    # while a round runs: it is then coalesced into that round's re-check (`+1 coalesced`).
    assert triggers[0] == "daemon start", triggers
    assert all(t.startswith(("devd ", "re-check after ")) for t in triggers[1:]), triggers
    assert any(t.startswith("devd ") for t in triggers), triggers
    assert not os.path.exists(intake_socket_path(intake.run_dir))


def test_the_hook_hands_its_events_to_a_running_daemon(make_lab_node, tmp_path, devd):
    intake = IntakeNode(
        make_lab_node(carp_state="MASTER"), settle=0.2, devd_socket=tmp_path / "devd.pipe"
    )
    with intake.daemon():
        devd.accept()
        assert wait_until(lambda: intake.role() == "primary"), intake.daemon_log()
        intake.carp_event("BACKUP")  # devd forwards nothing here: only the hook tells
        assert wait_until(lambda: intake.role() == "secondary"), intake.daemon_log()
        assert intake.workers() == []  # the daemon acted, no worker was started
    assert intake.journal()[-1].trigger == "hook BACKUP 1@vtnet0"


def test_sigterm_lets_the_transition_in_progress_finish(make_lab_node, tmp_path, devd):
    intake = IntakeNode(
        make_lab_node(carp_state="BACKUP"), settle=0.2, devd_socket=tmp_path / "devd.pipe"
    )
    with intake.daemon() as daemon:
        devd.accept()
        assert wait_until(lambda: "rounds (daemon start" in intake.daemon_log())
        intake.node.set_faults(
            [Fault(command="hastctl", args=r"^role\b.*\bprimary\b", hang=2.0, times=1)]
        )
        intake.node.set_carp("MASTER")
        devd.carp("MASTER")
        assert wait_until(
            lambda: any(
                r.kind == "promote" and r.outcome is TransitionOutcome.RUNNING
                for r in intake.journal()
            )
        )
        daemon.terminate()  # while `hastctl role primary` hangs
        assert daemon.wait(timeout=60) == 0
    promote = intake.journal()[-1]
    assert promote.outcome is TransitionOutcome.SUCCEEDED
    assert intake.role() == "primary"


def test_the_daemon_survives_a_devd_restart(make_lab_node, tmp_path):
    path = tmp_path / "devd.pipe"
    intake = IntakeNode(make_lab_node(carp_state="BACKUP"), settle=0.2, devd_socket=path)
    first = Devd(path)
    try:
        with intake.daemon() as daemon:
            first.accept()
            assert wait_until(lambda: "rounds (daemon start" in intake.daemon_log())
            first.close()  # devd restarts
            path.unlink()
            second = Devd(path)
            try:
                second.accept()  # the daemon reconnects (backoff from 0.5 s)
                intake.node.set_carp("MASTER")
                second.carp("MASTER")
                assert wait_until(lambda: intake.role() == "primary"), intake.daemon_log()
            finally:
                second.close()
            assert daemon.poll() is None
    finally:
        first.close()
