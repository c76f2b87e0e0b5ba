"""Which CARP events concern carpswitch: those of a configured vhid (standard library only).

With [[group]]s in the config, carpswitch acts on their vhids only: another vhid on the
same host (another service's address) may flap all day without that counting as
flapping of ours and demoting a healthy primary. Without [[group]]s (hast.conf alone)
every vhid is ours. An event that names no vhid (the Handbook's `carpswitch master
IFACE`) concerns the groups on that interface; an event that is no CARP event (resume,
daemon start) always concerns us.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from carpswitch.intake.inbox import IntakeEvent

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from carpswitch.records import NamedTuple  # typing costs the hook ~14 ms


class GroupVhid(NamedTuple):
    """A configured vhid and the interface its group is bound to (None: any)."""

    vhid: int
    interface: str | None


class ConfiguredVhids(NamedTuple):
    """The vhids events are judged against; `groups` None means every vhid."""

    groups: tuple[GroupVhid, ...] | None

    @classmethod
    def of_groups(cls, groups: Iterable[Mapping[str, object]]) -> ConfiguredVhids:
        """From `[[group]]` tables (validated TOML or model dumps); none: every vhid."""
        found = []
        for group in groups:
            vhid, interface = group.get("vhid"), group.get("interface")
            if isinstance(vhid, int):
                found.append(GroupVhid(vhid, interface if isinstance(interface, str) else None))
        return cls(tuple(found) if found else None)

    def concerns(self, event: IntakeEvent) -> bool:
        """Whether `event` may change what a configured group needs."""
        if self.groups is None or not event.subsystem:
            return True
        vhid_text, at, interface = event.subsystem.rpartition("@")
        vhid = int(vhid_text) if at and vhid_text.isdigit() else None
        return any(
            (vhid is None or group.vhid == vhid) and group.interface in (None, interface)
            for group in self.groups
        )

    def why_ignored(self, event: IntakeEvent) -> str:
        """The log line for an event that does not concern us."""
        wanted = ", ".join(
            f"{g.vhid}@{g.interface}" if g.interface else str(g.vhid) for g in self.groups or ()
        )
        return f"{event.describe()}: ignored: not a configured vhid (groups' vhids: {wanted})"


#: Hast.conf alone (no [[group]]): every vhid is ours.
EVERY_VHID = ConfiguredVhids(None)


def keep_ours(
    events: Iterable[IntakeEvent], vhids: ConfiguredVhids, tell: Callable[[str], object]
) -> list[IntakeEvent]:
    """The events that concern a configured group; `tell(line)` hears of each other one."""
    kept = []
    for event in events:
        if vhids.concerns(event):
            kept.append(event)
        else:
            tell(vhids.why_ignored(event))
    return kept
