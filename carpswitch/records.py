"""`NamedTuple` for the devd hook's modules, without importing `typing`.

`typing` (which imports `re`) costs the hook ~14 ms of CPU, as much as the rest of its
work, and its modules need it only for `class X(NamedTuple)`. They import it as

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from carpswitch.records import NamedTuple

mypy takes any `TYPE_CHECKING` name as true, so it checks them against typing.NamedTuple;
at run time the class statement builds a `collections.namedtuple` with the annotated
fields, their defaults, and the methods, properties and docstring of the class body:
what typing.NamedTuple builds, less its typing metadata.
"""

from __future__ import annotations

import collections
from collections.abc import Callable

#: What the class body holds that namedtuple makes itself (or must not be overwritten).
_OWN = frozenset(
    ("__annotations__", "__module__", "__qualname__", "__dict__", "__weakref__", "__slots__")
)


#: collections.namedtuple, called with computed names (mypy wants literal ones).
_make: Callable[..., type] = collections.namedtuple


class _NamedTupleMeta(type):
    def __new__(mcs, typename: str, bases: tuple[type, ...], namespace: dict[str, object]) -> type:
        if not bases:  # NamedTuple itself
            return super().__new__(mcs, typename, bases, namespace)
        annotations = namespace.get("__annotations__", {})
        fields = list(annotations) if isinstance(annotations, dict) else []
        defaults = [namespace[name] for name in fields if name in namespace]
        if any(name not in namespace for name in fields[len(fields) - len(defaults) :]):
            raise TypeError(f"{typename}: a field without a default follows one with a default")
        built = _make(typename, fields, defaults=defaults, module=str(namespace.get("__module__")))
        for key, value in namespace.items():
            if key not in _OWN and key not in fields:
                setattr(built, key, value)
        built.__qualname__ = str(namespace.get("__qualname__", typename))
        return built


class NamedTuple(metaclass=_NamedTupleMeta):
    """Base of the hook's record classes (see the module docstring)."""
