"""`[cluster]`: what `setup` renders both nodes' files from, checked with the standard library.

Part of carpswitch.config_rules (same words, same reader for the hook and the loader): a
bad value here must fail `setup init`/`plan`/`apply` before any file is written, so every
value a rendered file would carry is checked as the program reading that file would:
hastd (names, words), ifconfig/ip_carp.c (vhid, advskew, pass), zfs(8) (sizes, datasets),
ctld (IQNs). Each problem is one line, `cluster.host[1].address: expected ...`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from carpswitch.config_values import (
    Key,
    absolute_path,
    array,
    array_of_tables,
    boolean,
    expected,
    integer,
    pool_name,
    shown,
    table_problems,
    text,
)

if TYPE_CHECKING:
    from ipaddress import IPv4Address, IPv6Address

VHID_MAX = 255  # CARP_MAXVHID (ip_carp.h)
ADVBASE_MAX = 255  # ip_carp.c: advbase is one byte of the advertisement
ADVSKEW_MAX = 254  # ip_carp.c: CARP_MAXSKEW
CARP_KEY_LEN = 20  # ip_carp.c: the `pass` key, at most 20 bytes
SSH_TIMEOUT_MAX = 300
#: hast.conf `timeout` that set-up may write: more than 0 (hastd: "Negative or zero
#: timeout."), at most an hour (a new primary waits that long for a silent peer).
HAST_TIMEOUT_MAX = 3600
#: hast.conf `exec`: the wrapper installed with the package (sbin/carpswitch-hast-event).
DEFAULT_HAST_EXEC = "/usr/local/sbin/carpswitch-hast-event"
DEFAULT_ADVBASE = 1
#: advskew of the first host (the preferred master) and of the second, when not given.
DEFAULT_ADVSKEW = (0, 100)
#: ctld target names: `iqn.YYYY-MM.<reversed domain>:NAME` (RFC 3720 3.2.6.3.1).
DEFAULT_IQN_PREFIX = "iqn.2026-01.org.carpswitch"
IQN_PREFIX_PATTERN = r"iqn\.[0-9]{4}-[0-9]{2}\.[a-z0-9](?:[a-z0-9.\-]*[a-z0-9])?"
#: What a resource name may be when it also names an iSCSI target (ctld valid_iscsi_name).
ISCSI_NAME_PATTERN = r"[A-Za-z0-9.:\-]{1,200}"
#: zfs_namecheck.c: dataset components are letters, digits and `_ - . :`.
DATASET_COMPONENT = r"[A-Za-z0-9_.:\-]+"
#: libzfs zfs_nicestrtonum: a number, optionally with a fraction, then B K M G T P E Z,
#: each alone, followed by `B`, or by `iB` (case-insensitive); a fraction needs a suffix.
SIZE_PATTERN = r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<suffix>[A-Za-z]*)"
SIZE_SHIFTS = {letter: 10 * index for index, letter in enumerate("BKMGTPEZ")}
UINT64_MAX = 2**64 - 1
#: OpenZFS's default volblocksize (16K since 2.2, 8K before): libzfs zfs_create refuses a
#: volsize that is not a multiple ("must be a multiple of volume block size"), newer
#: zfs(8) rounds it up; either way the two nodes' providers could differ, so refuse it.
VOLBLOCKSIZE = 16 * 1024
# A word of hast.conf (token.l's STR characters), for control/pidfile/listen.
HAST_WORD_PATTERN = r"[A-Za-z0-9.\-_/:\[\]]{1,1023}"
# hastd execv()s `exec` as written (hooks.c): a file's absolute path, one hast.conf word,
# shorter than PATH_MAX (1024, "Exec path is too long.").
HAST_EXEC_PATTERN = r"(?=.{2,1023}\Z)(?:/[A-Za-z0-9.\-_:\[\]]+)+"
HAST_NAME_PATTERN = r"[A-Za-z0-9._:\-\[\]/]{1,254}"
SSH_USER_PATTERN = r"[A-Za-z_][A-Za-z0-9_.\-]{0,31}"
COMMAND_PATTERN = r"[A-Za-z0-9_./\-]{1,1023}"
# FreeBSD ifnet names: letters, digits, '_' and '.', at most IFNAMSIZ - 1 characters.
INTERFACE_PATTERN = r"[A-Za-z][A-Za-z0-9_.]{0,14}"


def hast_name(what: str) -> Key:
    """A name hast.conf reads back as itself: a STR token, not a keyword or a number."""
    word = text(HAST_NAME_PATTERN, what)

    def check(value: object) -> str | None:
        problem = word(value)
        # Imported here: the devd hook reads this module and pays only for what it uses.
        from carpswitch.parse.hastconf_lexer import is_str_token

        if problem is None and isinstance(value, str) and not is_str_token(value):
            return expected(f"{what} (not a hast.conf keyword or number)", value)
        return problem

    return Key(check, required=True)


def _address(value: object, with_prefix: bool) -> IPv4Address | IPv6Address:
    """The address `value` writes, or ValueError."""
    import ipaddress  # only when there is a [cluster]: see hast_name

    if not isinstance(value, str) or value != value.strip():
        raise ValueError(value)
    if with_prefix:
        if "/" not in value:
            raise ValueError(value)
        interface = ipaddress.ip_interface(value)
        address = interface.ip
        network = interface.network
        ends = (network.network_address, network.broadcast_address)
        if address.version == 4 and network.prefixlen <= 30 and address in ends:
            raise ValueError(value)
    else:
        address = ipaddress.ip_address(value)
    if address.is_multicast or address.is_unspecified or str(address) == "255.255.255.255":
        raise ValueError(value)
    return address


def host_address(value: object) -> str | None:
    """A unicast IPv4 or IPv6 address (where HAST replicates to and ssh connects)."""
    try:
        _address(value, with_prefix=False)
    except ValueError:
        return expected("a unicast IPv4 or IPv6 address", value)
    return None


def carp_address(value: object) -> str | None:
    """ADDRESS/PREFIXLEN, a unicast host address of its network (ifconfig's alias)."""
    try:
        _address(value, with_prefix=True)
    except ValueError:
        return expected(
            "a unicast address with its prefix length (198.18.0.100/24), "
            "not its network's or broadcast address",
            value,
        )
    return None


def carp_password(value: object) -> str | None:
    """ifconfig's `pass`: 1 to 20 bytes (CARP_KEY_LEN) of printable ASCII, nothing rc.conf's
    sh would expand or split (no blanks, quotes, `$`, backquote or backslash)."""
    if (
        isinstance(value, str)
        and 0 < len(value.encode()) <= CARP_KEY_LEN
        and all("!" <= char <= "~" and char not in "\"'`$\\" for char in value)
    ):
        return None
    return expected(
        f"a CARP password of 1 to {CARP_KEY_LEN} printable ASCII characters "
        "(no blanks, quotes, $, ` or \\)",
        value,
    )


def zfs_size(value: object) -> int | None:
    """The bytes a zfs(8) size means (`10G`, `512M`, `1.5T`, `1073741824`), or None."""
    if not isinstance(value, str):
        return None
    match = re.fullmatch(SIZE_PATTERN, value)
    if match is None:
        return None
    suffix = match["suffix"].upper()
    letter, rest = suffix[:1], suffix[1:]
    if suffix and (letter not in SIZE_SHIFTS or rest not in ("", "B", "IB") or suffix == "BB"):
        return None
    if suffix in ("BIB",):
        return None
    shift = SIZE_SHIFTS.get(letter, 0)
    number = match["number"]
    if "." in number:
        if not suffix:
            return None
        whole, _, fraction = number.partition(".")
        numerator = int((whole or "0") + fraction) << shift
        size = numerator // 10 ** len(fraction)
    else:
        size = int(number) << shift
    return size if 0 < size <= UINT64_MAX else None


def size(value: object) -> str | None:
    """A zvol size as `zfs create -V` takes it, more than 0 bytes, whole volume blocks."""
    found = zfs_size(value)
    if found is None:
        return expected('a size as zfs(8) writes it, more than 0 ("10G", "512M", "1.5T")', value)
    if found % VOLBLOCKSIZE:
        return expected("a size of whole 16K volume blocks (zfs create -V)", value)
    return None


def dataset(value: object) -> str | None:
    """POOL/VOL: a zvol's dataset name (zfs_namecheck.c), below a valid pool name."""
    if isinstance(value, str) and "/" in value and len(value) < 256:
        pool, _, rest = value.partition("/")
        components = rest.split("/")
        if pool_name(pool) is None and all(
            re.fullmatch(DATASET_COMPONENT, part) for part in components
        ):
            return None
    return expected("a zvol dataset POOL/VOL (zfs(8) names)", value)


def iqn_prefix(value: object) -> str | None:
    """`iqn.YYYY-MM.reversed.domain`, lower case (the target name is PREFIX:NAME)."""
    return text(IQN_PREFIX_PATTERN, "an iSCSI name prefix like iqn.2026-01.org.example")(value)


_HAST_EXEC_PATH = text(
    HAST_EXEC_PATTERN,
    "a program's absolute path of letters, digits, . - _ / : [ ] (a hast.conf word), "
    'or "" for no exec',
)


def hast_exec(value: object) -> str | None:
    """hast.conf `exec`: the program hastd runs on each event, or "" for none."""
    return None if value == "" else _HAST_EXEC_PATH(value)


HAST_WORD = text(HAST_WORD_PATTERN, "a hast.conf word (letters, digits, . - _ / : [ ])")

CLUSTER_KEYS: dict[str, Key] = {
    "interface": Key(
        text(INTERFACE_PATTERN, "an interface name (at most 15 characters)"), required=True
    ),
    "vhid": Key(integer(1, VHID_MAX), required=True),
    "address": Key(carp_address, required=True),
    "password": Key(carp_password, required=True),
    "advbase": Key(integer(1, ADVBASE_MAX)),
    "iqn_prefix": Key(iqn_prefix),
    "hast_exec": Key(hast_exec),
    "hast_timeout": Key(integer(1, HAST_TIMEOUT_MAX)),
}


HOST_KEYS: dict[str, Key] = {
    "name": hast_name("a host name as in hast.conf's `on` blocks"),
    "address": Key(host_address, required=True),
    "advskew": Key(integer(0, ADVSKEW_MAX)),
    "carpswitch": Key(text(COMMAND_PATTERN, "a command name or path")),
    "ssh_user": Key(text(SSH_USER_PATTERN, "a user name")),
    "ssh_port": Key(integer(1, 65535)),
    "control": Key(HAST_WORD),
    "pidfile": Key(absolute_path),
    "listen": Key(array(), item=HAST_WORD),
}
SSH_KEYS: dict[str, Key] = {
    "identity": Key(absolute_path),
    "known_hosts": Key(absolute_path),
    "connect_timeout": Key(integer(1, SSH_TIMEOUT_MAX)),
}
RESOURCE_KEYS: dict[str, Key] = {
    "name": hast_name("a HAST resource name as in hast.conf"),
    "zvol": Key(dataset),
    "size": Key(size),
    "local": Key(absolute_path),
    "iscsi": Key(boolean),
}
SUBTABLES = ("host", "ssh", "resource")
HOSTS = 2


def cluster_problems(value: object) -> tuple[list[str], dict[str, object]]:
    """Every problem of a `[cluster]` table, and its keys that passed (for later checks)."""
    problems: list[str] = []
    if not isinstance(value, dict):
        return [f"cluster: {expected('a table ([cluster])', value)}"], {}
    flat = {key: item for key, item in value.items() if key not in SUBTABLES}
    passed = table_problems("cluster", "[cluster]", flat, CLUSTER_KEYS, problems)
    hosts = array_of_tables("cluster.host", value.get("host", []), HOST_KEYS, problems)
    if "ssh" in value:
        passed["ssh"] = table_problems(
            "cluster.ssh", "[cluster.ssh]", value["ssh"], SSH_KEYS, problems
        )
    resources = array_of_tables(
        "cluster.resource", value.get("resource", []), RESOURCE_KEYS, problems
    )
    if isinstance(value.get("host", []), list) and len(value.get("host", [])) != HOSTS:
        found = len(value.get("host", []))
        problems.append(
            f"cluster.host: expected exactly {HOSTS} hosts ([[cluster.host]]), not {found}"
        )
    problems += _host_problems(passed, hosts) + _resource_problems(value, resources)
    return problems, passed | {"host": hosts, "resource": resources}


def _host_problems(cluster: Mapping[str, object], hosts: list[dict[str, object]]) -> list[str]:
    problems = _duplicates("cluster.host", "name", [h.get("name") for h in hosts])
    addresses = [_normal(h.get("address")) for h in hosts]
    problems += _duplicates("cluster.host", "address", addresses)
    carp = cluster.get("address")
    if isinstance(carp, str):
        ip = str(_address(carp, with_prefix=True))
        problems += [
            f"cluster.address: expected an address of its own, not host[{index}]'s {ip}"
            for index, address in enumerate(addresses)
            if address == ip
        ]
    return problems


def _resource_problems(
    cluster: Mapping[str, object], resources: list[dict[str, object]]
) -> list[str]:
    problems = _duplicates("cluster.resource", "name", [r.get("name") for r in resources])
    problems += _duplicates("cluster.resource", "zvol", [r.get("zvol") for r in resources])
    problems += _duplicates("cluster.resource", "local", [r.get("local") for r in resources])
    raw = cluster.get("resource", [])
    entries = raw if isinstance(raw, list) else []
    iscsi_names = []
    for index, (entry, passed) in enumerate(zip(entries, resources, strict=False)):
        if not isinstance(entry, dict):
            continue
        at = f"cluster.resource[{index}]"
        if any(key in entry and key not in passed for key in ("zvol", "local", "size")):
            continue
        if ("zvol" in passed) == ("local" in passed):
            problems.append(f"{at}: expected either zvol = POOL/VOL or local = PATH (one of them)")
        elif "zvol" in passed and "size" not in passed:
            problems.append(f"{at}: zvol needs size = SIZE (zfs create -V SIZE)")
        elif "local" in passed and "size" in passed:
            problems.append(f"{at}: size is only for zvol (local is an existing provider)")
        if passed.get("iscsi") is True and isinstance(name := passed.get("name"), str):
            if not re.fullmatch(ISCSI_NAME_PATTERN, name):
                problems.append(
                    f"{at}.name: expected letters, digits, '.', ':' or '-' for a resource "
                    f"served over iSCSI (it names the target), not {shown(name)}"
                )
            if name not in iscsi_names:
                iscsi_names.append(name)
    iscsi_names = [name.lower() for name in iscsi_names]
    problems += _duplicates("cluster.resource", "iSCSI target name", iscsi_names)
    return problems


def _normal(address: object) -> str | None:
    """An address in one spelling (`::1` and `0::1` are the same host)."""
    return str(_address(address, with_prefix=False)) if isinstance(address, str) else None


def _duplicates(where: str, what: str, found: Sequence[object]) -> list[str]:
    counts = Counter(str(name) for name in found if name is not None)
    return [
        f"{where}: {what} {shown(name)} is given more than once"
        for name in sorted(counts)
        if counts[name] > 1
    ]
