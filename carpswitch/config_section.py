"""Section: the base of carpswitch.toml's typed tables, frozen records made without codegen.

The tables were pydantic models, and building their ~20 classes was the largest part of
every command's start (~40 ms of CPU, with compiled bytecode); stdlib dataclasses cost
~1 ms a class here too (each method is compiled with exec). carpswitch.config_rules
already validates every key of the file with the standard library, so a table only has
to hold the values it was given: a subclass lists its fields as annotations with their
defaults (`field(default_factory=list)` for a fresh list), and gets a keyword-only
`__init__`, equality, a repr and immutability from here, read once from the class.
mypy sees them as frozen dataclasses (`dataclass_transform`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

T = TypeVar("T")


class _Factory:
    """A default made fresh for each record (`field(default_factory=list)`)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], T]) -> T:
    """A field whose default is `default_factory()`, made for each record."""
    marker: Any = _Factory(default_factory)
    return marker  # type: ignore[no-any-return]


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field,))
class Section:
    """A frozen record of named values, compared by value; `_check` may refuse one."""

    #: Field names in order, and the defaults of those that have one.
    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, object]] = {}
    #: The TOML key of a field whose name is a Python keyword (`import_` is `import`).
    _keys: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [
            name
            # not inspect.get_annotations: inspect costs the start-up ~5 ms
            for name, annotation in cls.__dict__.get("__annotations__", {}).items()  # noqa: RUF063
            if not str(annotation).startswith("ClassVar")
        ]
        cls._fields = (*cls._fields, *own)
        cls._defaults = dict(cls._defaults)
        for name in own:
            if name in cls.__dict__:
                cls._defaults[name] = cls.__dict__[name]
                if isinstance(cls.__dict__[name], _Factory):
                    delattr(cls, name)

    def __init__(self, **values: Any) -> None:
        unknown = [name for name in values if name not in self._fields]
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown field {unknown[0]!r}")
        for name in self._fields:
            if name in values:
                value = values[name]
            elif name in self._defaults:
                value = self._defaults[name]
                if isinstance(value, _Factory):
                    value = value.make()
            else:
                raise TypeError(f"{type(self).__name__}: {name!r} is required")
            object.__setattr__(self, name, value)
        self._check()

    def _check(self) -> None:
        """Normalise or refuse the values just set (raise ValueError); nothing by default."""

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes` (checked as a new record is)."""
        return type(self)(**{name: getattr(self, name) for name in self._fields} | changes)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot delete {name!r}")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Section)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({shown})"


def as_toml(section: Section, with_defaults: bool = True) -> dict[str, Any]:
    """`section` as decoded TOML would hold it: keys as the file spells them, words for
    enums, nested tables and arrays of tables, no None (TOML has none); without defaults,
    only the values that differ from them (what a canonical file writes)."""
    document: dict[str, Any] = {}
    for name in section._fields:
        value = getattr(section, name)
        default = section._defaults.get(name, _NO_DEFAULT)
        if isinstance(default, _Factory):
            default = default.make()
        if value is None or (not with_defaults and value == default):
            continue
        document[section._keys.get(name, name)] = _toml_value(value, with_defaults)
    return document


_NO_DEFAULT = object()


def _toml_value(value: object, with_defaults: bool) -> Any:
    if isinstance(value, Section):
        return as_toml(value, with_defaults)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_toml_value(item, with_defaults) for item in value]
    if isinstance(value, Mapping):
        return {key: _toml_value(item, with_defaults) for key, item in value.items()}
    return value
