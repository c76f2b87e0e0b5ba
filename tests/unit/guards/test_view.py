"""The peer view's wire format: exact bytes out, every malformed reply refused in one line."""

import json

import pytest

from carpswitch.guards.view import MAX_VIEW_BYTES, PeerView, ViewError, decode, encode

VIEW = PeerView(
    node="hastb",
    resources={"tank": "primary", "logs": "secondary"},
    terms={"storage": 6},
    advskew={"storage": 100},
)
WIRE = (
    b'{"carpswitch_view": 1, "node": "hastb", "resources": {"logs": "secondary", '
    b'"tank": "primary"}, "terms": {"storage": 6}, "advskew": {"storage": 100}, '
    b'"error": null}\n'
)


def test_encode_writes_the_documented_line_with_sorted_maps():
    assert encode(VIEW) == WIRE


def test_decode_reads_back_what_encode_wrote():
    assert decode(WIRE) == VIEW
    assert decode(WIRE.rstrip(b"\n")) == VIEW
    assert decode(WIRE).primaries() == ("tank",)


def test_an_unreadable_hastctl_travels_as_an_error_with_no_resources():
    view = PeerView(node="hasta", error="hastctl: timed out after 5 s and was killed")
    wire = encode(view)
    assert wire == (
        b'{"carpswitch_view": 1, "node": "hasta", "resources": {}, "terms": {}, '
        b'"advskew": {}, "error": "hastctl: timed out after 5 s and was killed"}\n'
    )
    assert decode(wire) == view


def test_a_newer_peer_may_add_keys_without_changing_the_meaning():
    document = {**json.loads(WIRE), "uptime": 12}
    assert decode(json.dumps(document).encode()) == VIEW


def test_encode_refuses_a_view_its_peer_would_refuse():
    with pytest.raises(ViewError, match="reply too long"):
        encode(PeerView(node="a", resources={f"r{i:05}": "primary" for i in range(1000)}))
    with pytest.raises(ViewError, match="error is"):
        encode(PeerView(node="a", error="two\nlines"))


def _with(**changes: object) -> bytes:
    document = {**json.loads(WIRE), **changes}
    return json.dumps(document).encode()


def _without(key: str) -> bytes:
    document = json.loads(WIRE)
    del document[key]
    return json.dumps(document).encode()


MALFORMED = {
    "empty": (b"", "not JSON"),
    "blank line": (b"\n", "not JSON"),
    "garbage": (b"HTTP/1.0 400 Bad Request\r\n", "not JSON"),
    "truncated": (WIRE[:40], "not JSON"),
    "not utf-8": (b'{"node": "\xff"}', "not UTF-8"),
    "two lines": (WIRE + WIRE, "more than one line"),
    "too long": (b" " * MAX_VIEW_BYTES + WIRE, "reply too long"),
    "array": (b"[1, 2]", "JSON array, not an object"),
    "string": (b'"view"', "JSON string, not an object"),
    "null": (b"null", "JSON null, not an object"),
    "deep nesting": (b"[" * 5000 + b"]" * 5000, "not JSON"),
    "huge number": (b'{"carpswitch_view": ' + b"9" * 5000 + b"}", "not JSON"),
    "no version": (_without("carpswitch_view"), "carpswitch_view is null, expected 1"),
    "version 2": (_with(carpswitch_view=2), "carpswitch_view is 2, expected 1"),
    "version true": (_with(carpswitch_view=True), "carpswitch_view is true, expected 1"),
    "version 1.0": (_with(carpswitch_view=1.0), "carpswitch_view is 1.0, expected 1"),
    "version text": (_with(carpswitch_view="1"), 'carpswitch_view is "1", expected 1'),
    "no node": (_without("node"), "reply has no node"),
    "node number": (_with(node=7), "node is 7, expected a name"),
    "node empty": (_with(node=""), 'node is "", expected a name'),
    "node blank": (_with(node="has ta"), 'node is "has ta", expected a name'),
    "no resources": (_without("resources"), "reply has no resources"),
    "resources list": (_with(resources=["tank"]), "resources is a JSON array"),
    "resource role": (_with(resources={"tank": "master"}), 'resources.tank is "master"'),
    "resource role number": (_with(resources={"tank": 1}), "expected a HAST role"),
    "resource role list": (_with(resources={"tank": ["primary"]}), "expected a HAST role"),
    "resource name": (_with(resources={"ta nk": "primary"}), '"ta nk" is not a valid name'),
    "no terms": (_without("terms"), "reply has no terms"),
    "term negative": (_with(terms={"storage": -1}), "terms.storage is -1"),
    "term float": (_with(terms={"storage": 6.5}), "expected a whole number >= 0"),
    "term bool": (_with(terms={"storage": False}), "terms.storage is false"),
    "term text": (_with(terms={"storage": "6"}), 'terms.storage is "6"'),
    "group name": (_with(terms={"a/b": 1}), 'terms: "a/b" is not a valid name'),
    "no advskew": (_without("advskew"), "reply has no advskew"),
    "advskew 255": (_with(advskew={"storage": 255}), "expected a whole number 0-254"),
    "advskew null": (_with(advskew={"storage": None}), "advskew.storage is null"),
    "no error": (_without("error"), "reply has no error"),
    "error number": (_with(error=5), "error is 5, expected null or one line"),
    "error two lines": (_with(error="a\nb"), "error is"),
    "error empty": (_with(error=""), 'error is "", expected null'),
    "error huge": (_with(error="x" * 5000), "error is"),
}


@pytest.mark.parametrize(("data", "reason"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_reply_is_refused_with_a_one_line_reason(data: bytes, reason: str):
    with pytest.raises(ViewError) as caught:
        decode(data)
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message and len(message) < 200
    assert caught.value.reason == message
