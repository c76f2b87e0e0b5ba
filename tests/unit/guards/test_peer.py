"""ask_peer against real sockets on 127.0.0.1: every peer behaviour bounded and classified."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from carpswitch.guards.peer import PeerAnswer, ask_peer
from carpswitch.guards.view import PeerView, encode
from tests.ports import closed_port

TIMEOUT = 0.6
VIEW = PeerView(node="hastb", resources={"tank": "primary"}, terms={"g": 3}, advskew={"g": 0})
Behaviour = Callable[[socket.socket], None]


class Peer:
    """A listening socket on 127.0.0.1 whose connections are handled by `behaviour`."""

    def __init__(self, behaviour: Behaviour | None, family: int = socket.AF_INET) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.behaviour = behaviour
        self.stop = threading.Event()
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        if behaviour is not None:  # None: never accept
            self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    assert self.behaviour is not None
                    self.behaviour(conn)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(2)
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Peer]]:
    peers: list[Peer] = []

    def start(behaviour: Behaviour | None, family: int = socket.AF_INET) -> Peer:
        peers.append(Peer(behaviour, family))
        return peers[-1]

    yield start
    for peer in peers:
        peer.close()


def _ask(port: int, address: str = "127.0.0.1") -> PeerAnswer:
    started = time.monotonic()
    answer = ask_peer(address, port, TIMEOUT)
    assert time.monotonic() - started < TIMEOUT + 0.4
    return answer


def _answers(peer: Peer) -> Behaviour:
    def behaviour(conn: socket.socket) -> None:
        peer.requests.append(conn.recv(100))
        conn.sendall(encode(VIEW))

    return behaviour


def test_a_peer_that_answers_gives_its_view_and_heard_our_request(serve):
    peer = serve(None)
    peer.behaviour = _answers(peer)
    peer.thread.start()
    answer = _ask(peer.port)
    assert answer == PeerAnswer(view=VIEW)
    assert answer.describe() == "peer hastb: tank primary"
    assert peer.requests == [b"view\n"]


def test_a_peer_that_answers_but_keeps_the_connection_open_is_heard_at_the_newline(serve):
    def linger(conn: socket.socket) -> None:
        conn.recv(10)
        conn.sendall(encode(VIEW))
        time.sleep(TIMEOUT + 1)

    peer = serve(linger)
    started = time.monotonic()
    assert _ask(peer.port) == PeerAnswer(view=VIEW)
    assert time.monotonic() - started < TIMEOUT / 2


def test_a_closed_port_is_connection_refused(serve):
    with closed_port() as port:
        answer = _ask(port)
    assert answer == PeerAnswer(unreachable="connection refused")
    assert answer.describe() == "peer unreachable: connection refused"


def test_a_peer_that_never_accepts_times_out(serve):
    peer = serve(None)
    assert _ask(peer.port) == PeerAnswer(unreachable=f"timed out after {TIMEOUT:g} s")


def test_a_peer_that_accepts_and_says_nothing_times_out(serve):
    peer = serve(lambda conn: time.sleep(TIMEOUT + 1))
    assert _ask(peer.port).unreachable == f"timed out after {TIMEOUT:g} s"


def test_a_peer_that_trickles_its_reply_cannot_stretch_the_deadline(serve):
    def trickle(conn: socket.socket) -> None:
        for byte in encode(VIEW):
            conn.sendall(bytes([byte]))
            time.sleep(0.05)

    peer = serve(trickle)
    assert _ask(peer.port).unreachable == f"timed out after {TIMEOUT:g} s"


def test_a_peer_that_sends_too_much_is_malformed_and_not_read_to_the_end(serve):
    peer = serve(lambda conn: conn.sendall(b"x" * (1 << 20)))
    answer = _ask(peer.port)
    assert answer.unreachable == "malformed reply: reply too long: 16385 bytes (at most 16384)"


def test_a_peer_that_sends_garbage_is_malformed(serve):
    peer = serve(lambda conn: (conn.recv(10), conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")))
    answer = _ask(peer.port)
    assert answer.unreachable is not None
    assert answer.unreachable.startswith("malformed reply: reply is not JSON")


def test_a_peer_that_lies_about_roles_is_malformed(serve):
    lie = encode(VIEW).replace(b"primary", b"master!")
    peer = serve(lambda conn: (conn.recv(10), conn.sendall(lie)))
    assert _ask(peer.port).unreachable == (
        'malformed reply: resources.tank is "master!", expected a HAST role'
    )


def test_a_peer_that_closes_at_once_sent_no_reply(serve):
    peer = serve(lambda conn: None)
    assert _ask(peer.port).unreachable in {"closed without a reply", "connection reset by the peer"}


def test_a_peer_that_resets_the_connection_is_classified(serve):
    def reset(conn: socket.socket) -> None:
        conn.recv(10)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    peer = serve(reset)
    assert _ask(peer.port).unreachable in {"connection reset by the peer", "closed without a reply"}


def test_a_reply_cut_off_mid_line_is_malformed(serve):
    # the request is read first: a close with unread data would reset, not end, the stream
    peer = serve(lambda conn: (conn.recv(10), conn.sendall(encode(VIEW)[:30])))
    answer = _ask(peer.port)
    assert answer.unreachable is not None
    assert answer.unreachable.startswith("malformed reply: reply is not JSON")


def test_ipv6_peers_are_asked_over_ipv6(serve):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        peer = serve(None, socket.AF_INET6)
    except OSError:
        pytest.skip("no ::1")
    peer.behaviour = _answers(peer)
    peer.thread.start()
    assert _ask(peer.port, "::1") == PeerAnswer(view=VIEW)


def test_a_name_that_does_not_resolve_is_unreachable_in_time(serve):
    answer = _ask(8459, "no-such-peer.invalid")
    assert answer.unreachable is not None
    assert answer.unreachable.startswith(("cannot resolve 'no-such-peer.invalid'", "timed out"))


@pytest.mark.parametrize(
    ("address", "port", "reason"),
    [
        ("198.18.0.2", 0, "port 0 is not a TCP port"),
        ("198.18.0.2", 70000, "port 70000 is not a TCP port"),
        ("peer\0b", 8459, "cannot resolve 'peer\\x00b': "),
        ("a" * 70 + ".example", 8459, "cannot resolve 'aaaa"),
    ],
)
def test_an_address_or_port_that_cannot_be_used_is_unreachable_not_an_exception(
    address: str, port: int, reason: str
):
    answer = _ask(port, address)
    assert answer.unreachable is not None
    assert answer.unreachable.startswith(reason)


def test_an_answer_is_a_view_or_a_reason_never_both():
    with pytest.raises(ValueError, match="either a view or unreachable"):
        PeerAnswer()
    with pytest.raises(ValueError, match="either a view or unreachable"):
        PeerAnswer(view=VIEW, unreachable="x")
