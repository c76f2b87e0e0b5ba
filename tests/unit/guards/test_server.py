"""ViewServer against real sockets on 127.0.0.1 (ephemeral ports): answers, floods, hostiles."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from carpswitch.guards.peer import PeerAnswer, ask_peer
from carpswitch.guards.server import MAX_CLIENTS, ViewServer
from carpswitch.guards.view import PeerView

VIEW = PeerView(node="hasta", resources={"tank": "secondary"}, terms={"g": 2}, advskew={"g": 0})


class Looks:
    """A look that counts its calls (and may fail)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.fail: Exception | None = None
        self.lock = threading.Lock()
        self.running = 0
        self.overlapped = False

    def __call__(self) -> PeerView:
        with self.lock:
            self.running += 1
            self.overlapped |= self.running > 1
        try:
            self.times.append(time.monotonic())
            time.sleep(0.01)  # like hastctl: takes a moment
            if self.fail is not None:
                raise self.fail
            return VIEW
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def looks() -> Looks:
    return Looks()


@pytest.fixture
def server(looks: Looks) -> Iterator[ViewServer]:
    view_server = ViewServer("127.0.0.1", 0, looks)
    assert view_server.start()
    yield view_server
    view_server.close()


def _ask(port: int | None, timeout: float = 2.0) -> PeerAnswer:
    assert port is not None
    return ask_peer("127.0.0.1", port, timeout)


def _connect(port: int | None) -> socket.socket:
    assert port is not None
    return socket.create_connection(("127.0.0.1", port), timeout=2)


def test_it_answers_with_the_look_on_an_ephemeral_port(server: ViewServer):
    assert isinstance(server.port, int) and server.port > 0
    assert _ask(server.port) == PeerAnswer(view=VIEW)


def test_a_burst_of_200_connections_is_answered_with_one_look_per_second_at_most(
    server: ViewServer, looks: Looks
):
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=25) as pool:
        answers = list(pool.map(lambda _: _ask(server.port, 5.0), range(200)))
    elapsed = time.monotonic() - started
    assert answers == [PeerAnswer(view=VIEW)] * 200
    assert 1 <= len(looks.times) <= int(elapsed) + 1
    assert all(b - a >= 0.99 for a, b in zip(looks.times, looks.times[1:], strict=False))
    assert not looks.overlapped


def test_asks_spread_over_2_5_s_cost_one_look_per_second(server: ViewServer, looks: Looks):
    for _ in range(26):
        assert _ask(server.port) == PeerAnswer(view=VIEW)
        time.sleep(0.1)
    assert 2 <= len(looks.times) <= 4


def _hang_silent(port: int | None) -> list[socket.socket]:
    return [_connect(port) for _ in range(5)]


def _send_a_mebibyte(port: int | None) -> list[socket.socket]:
    sock = _connect(port)
    sock.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        sock.send(b"v" * (1 << 20))
    return [sock]


def _reset(port: int | None) -> list[socket.socket]:
    sock = _connect(port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    return []


def _half_request(port: int | None) -> list[socket.socket]:
    sock = _connect(port)
    sock.sendall(b"vi")
    return [sock]


def _flood_silent(port: int | None) -> list[socket.socket]:
    return [_connect(port) for _ in range(MAX_CLIENTS * 3)]


HOSTILES: dict[str, Callable[[int | None], list[socket.socket]]] = {
    "silent and hanging": _hang_silent,
    "a mebibyte": _send_a_mebibyte,
    "connect and reset": _reset,
    "half a request": _half_request,
    "a flood of silent connections": _flood_silent,
}


@pytest.mark.parametrize("hostile", HOSTILES.values(), ids=HOSTILES.keys())
def test_a_hostile_client_never_keeps_the_next_honest_one_waiting_2_s(
    server: ViewServer, hostile: Callable[[int | None], list[socket.socket]]
):
    held = hostile(server.port)
    try:
        started = time.monotonic()
        assert _ask(server.port, 2.0) == PeerAnswer(view=VIEW)
        assert time.monotonic() - started < 2.0
    finally:
        for sock in held:
            sock.close()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_flood_leaves_no_descriptor_behind(server: ViewServer):
    assert _ask(server.port) == PeerAnswer(view=VIEW)  # the serving thread has its selector
    before = _open_fds()
    for sock in _flood_silent(server.port):
        sock.close()
    deadline = time.monotonic() + 3
    while _open_fds() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _open_fds() <= before


def test_start_twice_serves_once_and_a_closed_server_does_not_restart(looks: Looks):
    view_server = ViewServer("127.0.0.1", 0, looks)
    assert view_server.start() and view_server.start()
    view_server.close()
    assert view_server.start() is False


def test_a_silent_client_is_closed_after_1_s(server: ViewServer):
    sock = _connect(server.port)
    started = time.monotonic()
    sock.settimeout(3)
    assert sock.recv(10) == b""
    assert 0.8 < time.monotonic() - started < 2.0
    sock.close()


def test_anything_but_a_view_request_is_closed_unanswered(server: ViewServer, looks: Looks):
    for request in (b"GET / HTTP/1.0\r\n\r\n", b"views\n", b"x" * 100):
        sock = _connect(server.port)
        sock.sendall(request)
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(100) == b""
        sock.close()
    assert looks.times == []
    assert _ask(server.port) == PeerAnswer(view=VIEW)


def test_what_follows_the_first_line_is_ignored(server: ViewServer):
    sock = _connect(server.port)
    sock.sendall(b"view\nview\nmore")
    reply = sock.recv(20000)
    sock.close()
    assert reply.startswith(b'{"carpswitch_view": 1, "node": "hasta"')


def test_a_failing_look_closes_unanswered_and_is_logged_once(
    server: ViewServer, looks: Looks, caplog: pytest.LogCaptureFixture
):
    looks.fail = RuntimeError("hastctl exploded")
    with caplog.at_level(logging.WARNING, logger="carpswitch.guards.server"):
        answers = {_ask(server.port).unreachable for _ in range(3)}
    assert answers <= {"closed without a reply", "connection reset by the peer"}
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == ["view server: cannot look at this node: RuntimeError: hastctl exploded"]
    looks.fail = None
    time.sleep(1.05)
    assert _ask(server.port) == PeerAnswer(view=VIEW)


def test_close_stops_serving_and_frees_the_port(looks: Looks):
    first = ViewServer("127.0.0.1", 0, looks)
    assert first.start()
    port = first.port
    assert _ask(port) == PeerAnswer(view=VIEW)
    first.close()
    first.close()  # twice is harmless
    assert _ask(port) == PeerAnswer(unreachable="connection refused")
    second = ViewServer("127.0.0.1", port or 0, looks)
    try:
        assert second.start()
        assert second.port == port
        assert _ask(port) == PeerAnswer(view=VIEW)
    finally:
        second.close()


def test_a_bind_failure_is_logged_once_and_start_returns_false(
    server: ViewServer, looks: Looks, caplog: pytest.LogCaptureFixture
):
    taken = ViewServer("127.0.0.1", server.port or 0, looks)
    with caplog.at_level(logging.WARNING, logger="carpswitch.guards.server"):
        assert taken.start() is False
        assert taken.start() is False
    taken.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert messages[0] == (
        f"view server: cannot listen on 127.0.0.1 port {server.port}: Address already in use;"
        " running without a view"
    )
    assert taken.port is None
    assert _ask(server.port) == PeerAnswer(view=VIEW)  # the one that listens is untouched


@pytest.mark.parametrize(
    ("address", "port"), [("hasta.example", 0), ("127.0.0.1", 70000), ("198.18.0.1", 8459)]
)
def test_an_address_or_port_this_node_cannot_listen_on_is_a_bind_failure(
    looks: Looks, caplog: pytest.LogCaptureFixture, address: str, port: int
):
    bad = ViewServer(address, port, looks)
    with caplog.at_level(logging.WARNING, logger="carpswitch.guards.server"):
        assert bad.start() is False
    bad.close()
    [record] = caplog.records
    assert record.getMessage().startswith(f"view server: cannot listen on {address} port {port}: ")


def test_it_serves_over_ipv6(looks: Looks):
    view_server = ViewServer("::1", 0, looks)
    if not view_server.start():
        pytest.skip("no ::1 here")
    try:
        assert ask_peer("::1", view_server.port or 0, 2.0) == PeerAnswer(view=VIEW)
    finally:
        view_server.close()
