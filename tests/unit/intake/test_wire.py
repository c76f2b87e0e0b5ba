"""Socket framing: hook datagrams to the daemon, devd records to lines."""

import socket

import pytest

from carpswitch.intake.inbox import IntakeEvent, decode_event
from carpswitch.intake.wire import Delivery, intake_socket_path, send_to_daemon, split_devd_record

EVENT = IntakeEvent("hook", "MASTER", "1@vtnet0", 5.0)


@pytest.fixture
def listener(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(intake_socket_path(str(tmp_path)))
    sock.settimeout(5)
    yield sock
    sock.close()


def test_without_a_socket_there_is_no_daemon(tmp_path):
    assert send_to_daemon(str(tmp_path), EVENT) is Delivery.NO_DAEMON


def test_a_socket_nobody_reads_is_no_daemon(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(intake_socket_path(str(tmp_path)))
    sock.close()  # a daemon that died leaves its socket file behind
    assert send_to_daemon(str(tmp_path), EVENT) is Delivery.NO_DAEMON


def test_a_plain_file_in_its_place_is_no_daemon(tmp_path):
    (tmp_path / "intake.sock").write_text("")
    assert send_to_daemon(str(tmp_path), EVENT) is Delivery.NO_DAEMON


def test_one_datagram_carries_one_event(tmp_path, listener):
    assert send_to_daemon(str(tmp_path), EVENT) is Delivery.DELIVERED
    assert decode_event(listener.recv(8192)) == EVENT


def test_a_full_queue_still_counts_as_delivered(tmp_path, listener):
    outcomes = {send_to_daemon(str(tmp_path), EVENT) for _ in range(2000)}
    assert outcomes == {Delivery.DELIVERED}


def test_a_devd_record_is_one_line_with_its_newline():
    record = b"!system=CARP subsystem=1@vtnet0 type=MASTER\n"
    assert split_devd_record(record) == ["!system=CARP subsystem=1@vtnet0 type=MASTER"]


def test_a_record_with_several_lines_is_split_and_blank_lines_dropped():
    record = (
        b"!system=CARP subsystem=1@em0 type=BACKUP\n\n!system=IFNET subsystem=em0 type=LINK_UP\n"
    )
    assert split_devd_record(record) == [
        "!system=CARP subsystem=1@em0 type=BACKUP",
        "!system=IFNET subsystem=em0 type=LINK_UP",
    ]


def test_bytes_that_are_not_utf8_do_not_break_the_record():
    assert split_devd_record(b"!system=X subsystem=\xff type=Y\n") == [
        "!system=X subsystem=\ufffd type=Y"
    ]
