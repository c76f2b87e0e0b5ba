"""carpswitch.records.NamedTuple builds what typing.NamedTuple builds, without typing."""

from __future__ import annotations

import pytest

TYPE_CHECKING = False
if TYPE_CHECKING:  # as the hook's modules import it
    from typing import NamedTuple
else:
    from carpswitch.records import NamedTuple


class Vhid(NamedTuple):
    """A doc."""

    vhid: int
    interface: str | None = None

    @property
    def word(self) -> str:
        return f"{self.vhid}@{self.interface}" if self.interface else str(self.vhid)

    @classmethod
    def parse(cls, text: str) -> Vhid:
        vhid, _at, interface = text.partition("@")
        return cls(int(vhid), interface or None)

    def describe(self) -> str:
        return f"vhid {self.word}"


def test_fields_defaults_and_tuple_behaviour():
    one = Vhid(1)
    assert one == (1, None) == Vhid(vhid=1)
    assert Vhid._fields == ("vhid", "interface")
    assert Vhid._field_defaults == {"interface": None}
    assert Vhid(1)._replace(interface="em0") == Vhid(1, "em0")
    assert isinstance(one, tuple)
    assert hash(one) == hash((1, None))
    assert repr(Vhid(2, "em0")) == "Vhid(vhid=2, interface='em0')"


def test_the_class_body_comes_along():
    assert Vhid.parse("3@vtnet0").describe() == "vhid 3@vtnet0"
    assert Vhid(4).word == "4"
    assert Vhid.__doc__ == "A doc."
    assert Vhid.__module__ == __name__
    assert Vhid.__qualname__ == "Vhid"


def test_a_field_without_default_after_one_with_is_refused():
    with pytest.raises(TypeError, match="without a default follows"):

        class Bad(NamedTuple):
            first: int = 0
            second: int  # type: ignore[misc]  # mypy refuses it too
