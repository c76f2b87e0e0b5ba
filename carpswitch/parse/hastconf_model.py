"""Models of hast.conf: the sections as written, and a resource as hastd resolves it.

Section models hold exactly what the file says (None = statement not written), so that
rendering them gives back the same configuration. Every string must be writable as one
hast.conf STR token; the models refuse anything else, so render -> parse always round-trips.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from carpswitch.errors import CarpswitchError
from carpswitch.parse.hastconf_lexer import is_str_token


class HastConfError(CarpswitchError):
    """hastd would refuse this hast.conf on this node; the message is hastd's own text."""


class Replication(StrEnum):
    """`replication` values (parse.y replication_type)."""

    FULLSYNC = "fullsync"
    MEMSYNC = "memsync"
    ASYNC = "async"


class Checksum(StrEnum):
    """`checksum` values (parse.y checksum_type)."""

    NONE = "none"
    CRC32 = "crc32"
    SHA256 = "sha256"


class Compression(StrEnum):
    """`compression` values (parse.y compression_type)."""

    NONE = "none"
    HOLE = "hole"
    LZF = "lzf"


def _one_str_token(value: str) -> str:
    if not is_str_token(value):
        raise ValueError(f"{value!r} is not a hast.conf word ([a-zA-Z0-9.-_/:[]], no keyword)")
    return value


def _remote_address(value: str) -> str:
    return value if value == "none" else _one_str_token(value)


#: A value hast.conf can hold in STR position.
Word = Annotated[str, AfterValidator(_one_str_token)]
#: A `remote` value: a STR or the keyword `none`.
RemoteWord = Annotated[str, AfterValidator(_remote_address)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HastNodeSection(_Section):
    """Top-level `on <node> { ... }`: control, pidfile and listen for that node."""

    node: Word
    control: Word | None = None
    pidfile: Word | None = None
    listen: tuple[Word, ...] = ()


class HastResourceNode(_Section):
    """`on <node> { ... }` inside a resource."""

    node: Word
    provider_name: Word | None = None  # `name`
    local_path: Word | None = None  # `local`
    metaflush: bool | None = None
    remote_address: RemoteWord | None = None  # `remote`; `none` = no peer yet
    source_address: Word | None = None  # `source`


class HastResourceSection(_Section):
    """`resource <name> { ... }`: resource-level settings and the per-node blocks."""

    name: Word
    replication: Replication | None = None
    checksum: Checksum | None = None
    compression: Compression | None = None
    timeout: int | None = Field(default=None, ge=0)  # digits as written; see resolve
    exec_path: Word | None = None  # `exec`
    metaflush: bool | None = None
    provider_name: Word | None = None  # `name`
    local_path: Word | None = None  # `local`
    on: tuple[HastResourceNode, ...] = ()


class HastConf(_Section):
    """A whole hast.conf: global settings, node sections and resources, as written."""

    control: Word | None = None
    pidfile: Word | None = None
    listen: tuple[Word, ...] = ()
    replication: Replication | None = None
    checksum: Checksum | None = None
    compression: Compression | None = None
    timeout: int | None = Field(default=None, ge=0)  # digits as written; see resolve
    exec_path: Word | None = None  # `exec`
    metaflush: bool | None = None
    nodes: tuple[HastNodeSection, ...] = ()
    resources: tuple[HastResourceSection, ...] = ()


class ResolvedResource(_Section):
    """A resource as hastd on this node sees it, inheritance and defaults applied."""

    name: str
    provider_name: str  # /dev/hast/<provider_name>
    local_path: str
    remote_address: str  # may be "none": no peer configured yet
    source_address: str | None = None
    replication: Replication
    checksum: Checksum
    compression: Compression
    timeout: int = Field(gt=0)
    exec_path: str | None = None
    metaflush: bool
