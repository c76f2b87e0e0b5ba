"""Reading devd's seqpacket socket: CARP records become events; devd restarts are survived."""

import socket
import time

import pytest

from carpswitch.devd.listener import DevdSocket, carp_events


class FakeDevd:
    """Plays devd: a listening SOCK_SEQPACKET socket at a path."""

    def __init__(self, path):
        self.path = str(path)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.server.bind(self.path)
        self.server.listen(4)
        self.server.settimeout(5)
        self.clients = []

    def accept(self):
        client, _ = self.server.accept()
        client.shutdown(socket.SHUT_RD)  # devd shuts its readers' write side
        self.clients.append(client)
        return client

    def close(self):
        for client in self.clients:
            client.close()
        self.server.close()


@pytest.fixture
def devd(tmp_path):
    fake = FakeDevd(tmp_path / "devd.seqpacket.pipe")
    yield fake
    fake.close()


def read_until(reader, deadline=5.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        events = reader.read()
        if events:
            return events
        time.sleep(0.01)
    return []


def test_carp_records_become_events_and_others_are_skipped():
    assert [
        e.describe() for e in carp_events(b"!system=CARP subsystem=1@vtnet0 type=MASTER\n")
    ] == ["devd MASTER 1@vtnet0"]
    assert carp_events(b"!system=IFNET subsystem=vtnet0 type=LINK_UP\n") == []
    assert carp_events(b"+uhub0 at bus=0 on usbus0\n") == []
    assert carp_events(b"!system=CARP subsystem=1@vtnet0 type=SIDEWAYS\n") == []  # logged
    assert carp_events(b"garbage\n") == []


def test_an_init_event_is_passed_on_as_what_it_is():
    (event,) = carp_events(b"!system=CARP subsystem=7@lagg0 type=INIT\n")
    assert (event.state, event.subsystem) == ("INIT", "7@lagg0")


def test_records_sent_by_devd_are_read_one_event_each(devd):
    reader = DevdSocket(devd.path)
    assert reader.connect_if_due() == []  # the first connection is no news
    client = devd.accept()
    client.send(b"!system=CARP subsystem=1@vtnet0 type=BACKUP\n")
    client.send(b"!system=CARP subsystem=1@vtnet0 type=MASTER\n")
    events = read_until(reader)
    while len(events) < 2:
        events += read_until(reader)
    assert [e.state for e in events] == ["BACKUP", "MASTER"]
    reader.close()


def test_a_devd_restart_is_noticed_and_the_reconnection_reported(tmp_path):
    devd = FakeDevd(tmp_path / "devd.pipe")
    now = [0.0]
    reader = DevdSocket(devd.path, clock=lambda: now[0])
    try:
        reader.connect_if_due()
        devd.accept()
        devd.close()  # devd stops
        (tmp_path / "devd.pipe").unlink()
        assert reader.read() == []  # end of file: devd went away
        assert reader.fileno() is None
        assert reader.seconds_to_retry() == pytest.approx(0.5)
        now[0] += 0.5
        assert reader.connect_if_due() == []  # devd is not back yet: back off further
        assert reader.seconds_to_retry() == pytest.approx(1.0)
        devd = FakeDevd(tmp_path / "devd.pipe")  # devd is back
        assert reader.connect_if_due() == []  # not yet due
        now[0] += 1.0
        (event,) = reader.connect_if_due()
        assert event.describe() == "devd reconnected"
        assert reader.fileno() is not None
    finally:
        reader.close()
        devd.close()


def test_backoff_doubles_up_to_its_limit(tmp_path):
    now = [0.0]
    reader = DevdSocket(str(tmp_path / "absent"), clock=lambda: now[0])
    waits: list[float] = []
    for _ in range(10):
        reader.connect_if_due()
        wait = reader.seconds_to_retry()
        assert wait is not None
        waits.append(wait)
        now[0] += wait
    assert waits[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(waits) == 30.0
