"""The hook's validated summary: where it is looked for, what it holds, what it refuses."""

import os

import pytest

from carpswitch.intake import summary
from carpswitch.intake.vhids import EVERY_VHID, ConfiguredVhids, GroupVhid


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ('[paths]\nrun_dir = "/x/run"\n', "/x/run"),
        ('[node]\nname = "a"\n[paths]\n  run_dir="/y"\n[intake]\n', "/y"),
        ('[intake]\nrun_dir = "/not/paths"\n', "/default"),
        ('[paths]\nrun_dir = "/x" # a comment\n', "/default"),
        ('[paths]\nrun_dir = "/x\\ty"\n', "/default"),
        ("paths.run_dir = '/dotted'\n", "/default"),
        (b"\xff[paths]", "/default"),
    ],
)
def test_where_the_summary_is_looked_for(text, found):
    raw = text if isinstance(text, bytes) else text.encode()
    assert summary.named_run_dir(raw, "/default") == found


def test_a_summary_written_is_read_back_for_the_same_file_only(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("x")
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    vhids = ConfiguredVhids((GroupVhid(1, "vtnet0"), GroupVhid(7, None)))
    status = os.stat(config)
    kept = summary.Summary(str(config), summary.identity_of(status), str(run_dir), "/db", vhids)
    summary.save_summary(kept)
    back = summary.load_summary(str(run_dir), str(config), status)
    assert back is not None
    assert (back.run_dir, back.state_dir, back.vhids) == (str(run_dir), "/db", vhids)
    assert os.stat(run_dir / summary.SUMMARY_NAME).st_mode & 0o777 == 0o600
    assert summary.load_summary(str(run_dir), str(tmp_path / "other.toml"), status) is None
    config.write_text("y")
    assert summary.load_summary(str(run_dir), str(config), os.stat(config)) is None


def test_a_summary_found_in_another_run_dir_than_it_names_is_not_used(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("x")
    status = os.stat(config)
    for name in ("a", "b"):
        (tmp_path / name).mkdir(mode=0o700)
    kept = summary.Summary(
        str(config), summary.identity_of(status), str(tmp_path / "a"), "/db", EVERY_VHID
    )
    data = kept.encode(summary.rules_identity() or "")
    path = tmp_path / "b" / summary.SUMMARY_NAME
    path.write_bytes(data)
    path.chmod(0o600)
    assert summary.load_summary(str(tmp_path / "b"), str(config), status) is None


def test_values_that_do_not_fit_one_line_are_not_kept(tmp_path):
    odd = summary.Summary("/c", "1 2 3 4 5", str(tmp_path), "/db\nx", EVERY_VHID)
    assert odd.encode("r") is None
    summary.save_summary(odd)
    assert not (tmp_path / summary.SUMMARY_NAME).exists()


def test_nothing_is_kept_when_run_dir_does_not_exist(tmp_path):
    kept = summary.Summary("/c", "1", str(tmp_path / "none"), "/db", EVERY_VHID)
    summary.save_summary(kept)
    assert not (tmp_path / "none").exists()
