"""Promotion terms: one past every term known, durable, unreadable reads as none."""

import json
import os

import pytest

from carpswitch.guards.terms import Terms


def test_first_promotion_is_term_one_and_is_written(tmp_path):
    terms = Terms(str(tmp_path))
    assert terms.bump("storage") == 1
    saved = json.loads((tmp_path / "terms.json").read_text())
    assert saved == {"own": {"storage": 1}, "seen": {}}
    assert terms.read().of("storage") == 1


def test_a_promotion_goes_past_the_peers_terms_seen_and_answered(tmp_path):
    terms = Terms(str(tmp_path))
    terms.bump("storage")  # 1
    terms.saw("storage", 5)
    assert terms.bump("storage") == 6
    assert terms.bump("storage", peer_term=9) == 10
    book = terms.read()
    assert book.own == {"storage": 10}
    assert book.seen == {"storage": 9}


def test_groups_have_their_own_terms(tmp_path):
    terms = Terms(str(tmp_path))
    terms.bump("a")
    terms.bump("a")
    assert terms.bump("b") == 1
    assert terms.read().own == {"a": 2, "b": 1}


def test_a_lower_term_seen_changes_nothing(tmp_path):
    terms = Terms(str(tmp_path))
    terms.saw("storage", 4)
    before = os.stat(tmp_path / "terms.json").st_mtime_ns
    terms.saw("storage", 3)
    terms.saw("storage", 4)
    assert os.stat(tmp_path / "terms.json").st_mtime_ns == before
    assert terms.read().seen == {"storage": 4}


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"[]", b'{"own": {"g": -1}, "seen": {}}', b'{"own": {"g": true}, "seen": {}}',
     b'{"own": {}}', b'{"own": [], "seen": {}}', b"\xff\xfe"],
)  # fmt: skip
def test_an_unreadable_file_reads_as_no_terms_and_is_replaced_by_the_next_bump(
    tmp_path, content, caplog
):
    (tmp_path / "terms.json").write_bytes(content)
    terms = Terms(str(tmp_path))
    assert terms.read().own == {}
    assert "unreadable" in caplog.text
    assert terms.bump("g") == 1
    assert terms.read().own == {"g": 1}


def test_a_symlinked_file_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text('{"own": {"g": 50}, "seen": {}}')
    (tmp_path / "terms.json").symlink_to(target)
    assert Terms(str(tmp_path)).read().own == {}


def test_a_bump_on_a_full_disk_raises_and_keeps_the_old_terms(tmp_path, monkeypatch):
    terms = Terms(str(tmp_path))
    terms.bump("g")

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("carpswitch.guards.terms.replace_file", full)
    with pytest.raises(OSError):
        terms.bump("g")
    assert Terms(str(tmp_path)).read().own == {"g": 1}


def test_a_failed_write_of_a_seen_term_is_logged_not_raised(tmp_path, monkeypatch, caplog):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("carpswitch.guards.terms.replace_file", full)
    Terms(str(tmp_path)).saw("g", 3)
    assert "cannot remember the peer's term" in caplog.text
