"""Lean JSON records: the lab's state, facts, fault plan and hastd protocol as dataclasses.

Every shim reads the node's facts and state on every call; pydantic's import and model
building cost ~0.2 s of CPU per call (issue 9), this codec next to nothing. On load it
checks what the models said (types, Literal choices, field metadata `bounds(ge=, le=)` and
`one_of(...)`, no unknown keys) and raises RecordError (a ValueError) naming the field.
Records are dumped as JSON with `indent` as pydantic's model_dump_json did.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from functools import cache
from typing import Any, TypeVar

Record = TypeVar("Record")


class RecordError(ValueError):
    """A JSON document does not describe the record it should."""


def bounds(*, ge: float | None = None, le: float | None = None) -> dict[str, float]:
    """Field metadata for a number's inclusive bounds (checked by `load` and `check`)."""
    limits: dict[str, float] = {}
    if ge is not None:
        limits["ge"] = ge
    if le is not None:
        limits["le"] = le
    return limits


def one_of(*choices: str) -> dict[str, tuple[str, ...]]:
    """Field metadata for a string that must be one of `choices` (a Literal by value)."""
    return {"one_of": choices}


def loads(cls: type[Record], text: str | bytes) -> Record:
    """The record `cls` described by the JSON `text` (raises RecordError)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RecordError(f"invalid JSON: {exc}") from exc
    return load(cls, data)


def load(cls: type[Record], data: object, where: str = "") -> Record:
    """The record `cls` built from decoded JSON `data` (raises RecordError)."""
    value: Record = _convert(cls, data, where or cls.__name__)
    return value


def dumps(record: object, indent: int | None = None) -> str:
    """`record` as JSON (keys in field order, non-ASCII kept)."""
    separators = (",", ":") if indent is None else None
    return json.dumps(dump(record), indent=indent, ensure_ascii=False, separators=separators)


def dump(record: object) -> Any:
    """`record` as plain JSON values (dataclasses become dicts, tuples lists)."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: dump(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, list | tuple):
        return [dump(item) for item in record]
    if isinstance(record, dict):
        return {key: dump(item) for key, item in record.items()}
    return record


def check(record: object) -> None:
    """Check a record built in code against its fields' metadata (raises RecordError)."""
    for f in dataclasses.fields(record):  # type: ignore[arg-type]
        _check_field(f, getattr(record, f.name), f"{type(record).__name__}.{f.name}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(kind: Any, data: object, where: str) -> Any:
    if dataclasses.is_dataclass(kind):
        return _record(kind, data, where)  # type: ignore[arg-type]
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        choices = typing.get_args(kind)
        if data not in choices or type(data) is not type(choices[0]):
            raise RecordError(f"{where}: expected one of {list(choices)}, got {data!r}")
        return data
    if origin is typing.Union or origin is types.UnionType:
        return _union(typing.get_args(kind), data, where)
    if origin is list or origin is tuple:
        if not isinstance(data, list | tuple):
            raise RecordError(f"{where}: expected a list, got {data!r}")
        item = typing.get_args(kind)[0]
        items = [_convert(item, x, f"{where}[{i}]") for i, x in enumerate(data)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
            raise RecordError(f"{where}: expected an object, got {data!r}")
        item = typing.get_args(kind)[1]
        return {k: _convert(item, v, f"{where}.{k}") for k, v in data.items()}
    return _scalar(kind, data, where)


def _union(arms: tuple[Any, ...], data: object, where: str) -> Any:
    if data is None and type(None) in arms:
        return None
    problems = []
    for arm in arms:
        if arm is type(None):
            continue
        try:
            return _convert(arm, data, where)
        except RecordError as exc:
            problems.append(str(exc))
    raise RecordError("; ".join(problems) or f"{where}: expected null, got {data!r}")


def _scalar(kind: Any, data: object, where: str) -> Any:
    if kind is float and isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    if kind in (int, str, bool) and type(data) is kind:
        return data
    if kind is Any:
        return data
    name = getattr(kind, "__name__", str(kind))
    raise RecordError(f"{where}: expected {name}, got {data!r}")


def _record(cls: type, data: object, where: str) -> object:
    if not isinstance(data, dict):
        raise RecordError(f"{where}: expected an object, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise RecordError(f"{where}: unknown field(s) {', '.join(unknown)}")
    hints = _hints(cls)
    values = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecordError(f"{where}.{name}: missing")
            continue
        values[name] = _convert(hints[name], data[name], f"{where}.{name}")
        _check_field(f, values[name], f"{where}.{name}")
    try:
        return cls(**values)
    except ValueError as exc:  # a __post_init__ check
        raise RecordError(f"{where}: {exc}") from exc


def _check_field(f: dataclasses.Field[Any], value: object, where: str) -> None:
    choices = f.metadata.get("one_of")
    if choices is not None and value not in choices:
        raise RecordError(f"{where}: expected one of {list(choices)}, got {value!r}")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    low = f.metadata.get("ge")
    high = f.metadata.get("le")
    if low is not None and value < low:
        raise RecordError(f"{where}: must be >= {low:g}, got {value!r}")
    if high is not None and value > high:
        raise RecordError(f"{where}: must be <= {high:g}, got {value!r}")
