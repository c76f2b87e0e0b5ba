"""Events of vhids no group is configured for are logged and ignored (issue 8, item 7)."""

import pytest

from carpswitch.config import parse_config
from carpswitch.intake.inbox import Inbox, IntakeEvent
from carpswitch.intake.vhids import EVERY_VHID, ConfiguredVhids, keep_ours
from carpswitch.intake.worker import InboxSource, vhids_of

GROUPS = [
    {"name": "storage", "vhid": 1, "interface": "vtnet0", "resources": ["tank"]},
    {"name": "nfs", "vhid": 3, "resources": ["data"]},
]


def hook(subsystem, origin="hook", state="MASTER"):
    return IntakeEvent(origin, state, subsystem, 1.0)


@pytest.mark.parametrize(
    ("subsystem", "ours"),
    [
        ("1@vtnet0", True),
        ("1@vtnet1", False),  # vhid 1 of storage is bound to vtnet0
        ("2@vtnet0", False),
        ("3@vtnet0", True),  # nfs takes vhid 3 on any interface
        ("3@lagg0", True),
        ("vtnet0", True),  # the Handbook's bare interface: a group lives there
        ("em0", True),  # ... and nfs may live on em0
        ("", True),  # not a CARP event (resume, daemon start)
    ],
)
def test_an_event_concerns_us_when_a_group_has_its_vhid(subsystem, ours):
    assert ConfiguredVhids.of_groups(GROUPS).concerns(hook(subsystem)) is ours


def test_a_bare_interface_no_group_can_be_on_is_not_ours():
    vhids = ConfiguredVhids.of_groups(GROUPS[:1])
    assert not vhids.concerns(hook("em0"))


def test_without_groups_every_vhid_is_ours():
    assert ConfiguredVhids.of_groups([]) == EVERY_VHID
    assert EVERY_VHID.concerns(hook("200@vtnet9"))


def test_the_worker_judges_by_the_config_groups():
    config = parse_config({"group": GROUPS})
    assert vhids_of(config) == ConfiguredVhids.of_groups(GROUPS)
    assert vhids_of(parse_config({})) == EVERY_VHID


def test_ignored_events_are_told_and_dropped():
    heard: list[str] = []
    kept = keep_ours(
        [hook("2@vtnet0"), hook("1@vtnet0")], ConfiguredVhids.of_groups(GROUPS), heard.append
    )
    assert kept == [hook("1@vtnet0")]
    assert heard == [
        "hook MASTER 2@vtnet0: ignored: not a configured vhid (groups' vhids: 1@vtnet0, 3)"
    ]


def test_the_inbox_source_drops_other_vhids_events(tmp_path):
    inbox = Inbox(str(tmp_path))
    for subsystem in ("2@vtnet0", "2@vtnet0", "1@vtnet0"):
        inbox.record(hook(subsystem))
    source = InboxSource(inbox, vhids=ConfiguredVhids.of_groups(GROUPS))
    assert [e.subsystem for e in source.take()] == ["1@vtnet0"]
    assert inbox.pending() == 0  # taken, not left to wake the next worker
