"""What every key of carpswitch.toml must be, checked with the standard library only.

One set of rules for two readers: the devd hook, which must not import pydantic, checks
the parsed TOML with `config_problems` before it hands an event on (a broken config must
fail the hook, not a detached worker nobody watches), and carpswitch.config runs the same
function first, then builds its typed pydantic models with the same limits. A unit test
runs both over many bad files and asserts they accept and reject alike.

`config_problems` is a pure function of the parsed TOML. Each problem is one line,
`key: what was expected`, one per key; checks across keys look only at keys that passed,
so no problem is the echo of another.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from carpswitch.config_cluster import (
    INTERFACE_PATTERN,
    VHID_MAX,
    cluster_problems,
    host_address,
)
from carpswitch.config_values import (
    SUN_PATH_SIZE,
    Key,
    absolute_path,
    array,
    array_of_tables,
    boolean,
    choice,
    expected,
    integer,
    key_name,
    pool_name,
    seconds,
    shown,
    socket_path,
    table_problems,
    text,
)

DEMOTION_MAX = 240
#: What the guards' waits may be: ping's -t takes whole seconds (ping.c), the peer's view
#: must answer well inside a release wait.
WITNESS_TIMEOUT_MAX = 60
VIEW_PORT_MAX = 65535
#: The peer view's port: a reserved one (FreeBSD net.inet.ip.portrange.reservedhigh is
#: 1023), so that a local user cannot listen there first and answer for this node.
DEFAULT_VIEW_PORT = 857
WITNESSES_MAX = 16
#: watchdog(4)'s timeout in seconds; 0 is off (watchdog(8) -t 0 disarms).
WATCHDOG_MAX = 3600
MAX_FAILURES_MAX = 100
DEFAULT_SETTLE = 1.0
DEFAULT_FLAP_LIMIT = 30.0

# What hastd accepts as a resource name (token.l STR), shorter than NAME_MAX (parse.y).
RESOURCE_PATTERN = r"[A-Za-z0-9._:\-\[\]/]{1,254}"
SERVICE_PATTERN = r"[A-Za-z0-9_.\-]{1,255}"  # an rc.d script: NAME_MAX
GROUP_PATTERN = r"[A-Za-z0-9_.\-]{1,64}"
NODE_PATTERN = r"[A-Za-z0-9._:\-\[\]/]{1,255}"  # a host name, UUID or hostidN
MOUNT_OPTION_PATTERN = r"[^\s,]{1,255}"

#: Where FreeBSD keeps each command carpswitch may run; `[commands]` may redirect these
#: names (a lab config points them at a simulated node). The runner resolves through it.
FREEBSD_COMMANDS: Mapping[str, str] = {
    "hastctl": "/sbin/hastctl",
    "ifconfig": "/sbin/ifconfig",
    "sysctl": "/sbin/sysctl",
    "mount": "/sbin/mount",
    "umount": "/sbin/umount",
    "fsck": "/sbin/fsck",
    "zpool": "/sbin/zpool",
    "zfs": "/sbin/zfs",
    "service": "/usr/sbin/service",
    "logger": "/usr/bin/logger",
    "daemon": "/usr/sbin/daemon",
    "ssh": "/usr/bin/ssh",
    "ping": "/sbin/ping",
    "watchdog": "/usr/sbin/watchdog",
}
COMMAND_NAMES = tuple(FREEBSD_COMMANDS)
TIMEOUT_KEYS = (
    "release",
    "device",
    "role",
    "fsck",
    "mount",
    "import",
    "export",
    "umount",
    "umount_grace",
    "service",
    "hook",
    "observe",
)
KINDS = ("zfs", "ufs", "raw")
FSCK_POLICIES = ("refuse", "preen", "full")
#: The daemon's socket under run_dir (carpswitch.intake.wire.INTAKE_SOCKET_NAME).
INTAKE_SOCKET_NAME = "intake.sock"

RESOURCE_NAME = text(RESOURCE_PATTERN, "a HAST resource name as in hast.conf")
SERVICE_NAME = text(SERVICE_PATTERN, "an rc.d script name")
INTERFACE_NAME = text(INTERFACE_PATTERN, "an interface name (at most 15 characters)")
GROUP_NAME = text(GROUP_PATTERN, "a name of letters, digits, '_', '.' or '-' (at most 64)")
MOUNT_OPTION = text(MOUNT_OPTION_PATTERN, "a mount option (no blanks or commas)")

TABLES: dict[str, dict[str, Key]] = {
    "node": {
        "name": Key(text(NODE_PATTERN, "a node name as in hast.conf's `on` blocks")),
        "peer": Key(host_address),
        "view_listen": Key(host_address),
    },
    "paths": {
        "dev_hast": Key(absolute_path),
        "hast_conf": Key(absolute_path),
        "state_dir": Key(absolute_path),
        "run_dir": Key(absolute_path),
        "devd_socket": Key(socket_path),
        "devd_conf": Key(absolute_path),
        "rc_conf_d": Key(absolute_path),
        "loader_conf_d": Key(absolute_path),
        "ctl_conf": Key(absolute_path),
    },
    # umount_grace may be 0 (umount -f at once); every other timeout must leave time.
    "timeouts": {key: Key(seconds(0, inclusive=key == "umount_grace")) for key in TIMEOUT_KEYS},
    "failover": {
        "demotion": Key(integer(1, DEMOTION_MAX)),
        "force_backup": Key(boolean),
        "max_failures": Key(integer(1, MAX_FAILURES_MAX)),
        "failure_window": Key(seconds(0, inclusive=False)),
    },
    "hooks": {"pre_promote": Key(absolute_path), "notify": Key(absolute_path)},
    "metrics": {"dir": Key(absolute_path)},
    "guards": {
        "witnesses": Key(array(at_most=WITNESSES_MAX), item=host_address),
        "witness_timeout": Key(integer(1, WITNESS_TIMEOUT_MAX)),
        "witness_grace": Key(seconds(0, inclusive=True)),
        "self_fence": Key(boolean),
        "peer_view": Key(boolean),
        "view_port": Key(integer(1, VIEW_PORT_MAX)),
        "view_timeout": Key(seconds(0, inclusive=False)),
        "interval": Key(seconds(0, inclusive=False)),
        "watchdog": Key(integer(0, WATCHDOG_MAX)),
    },
    "intake": {
        "settle": Key(seconds(0, inclusive=True)),
        "flap_limit": Key(seconds(0, inclusive=False)),
        "timer": Key(seconds(0, inclusive=False)),
    },
}
ARRAYS: dict[str, dict[str, Key]] = {
    "resource": {
        "name": Key(RESOURCE_NAME, required=True),
        "kind": Key(choice(KINDS)),
        "pool": Key(pool_name),
        "mountpoint": Key(absolute_path),
        "mount_options": Key(array(), item=MOUNT_OPTION),
        "fsck": Key(choice(FSCK_POLICIES)),
    },
    "group": {
        "name": Key(GROUP_NAME, required=True),
        "vhid": Key(integer(1, VHID_MAX), required=True),
        "interface": Key(INTERFACE_NAME),
        "resources": Key(array(at_least=1), required=True, item=RESOURCE_NAME),
        "services": Key(array(), item=SERVICE_NAME),
    },
}
COMMANDS = "commands"
CLUSTER = "cluster"  # its rules: carpswitch.config_cluster
#: Sections that name this machine's own files and programs (they may differ between the
#: two nodes); every other section is shared, identical on both (`setup check`).
NODE_LOCAL = ("node", "paths", COMMANDS)
TOP_LEVEL = (*TABLES, COMMANDS, CLUSTER, *ARRAYS)


def config_problems(data: Mapping[str, object]) -> list[str]:
    """Every problem of a parsed carpswitch.toml, one line each (`key: what was expected`)."""
    problems: list[str] = []
    valid: dict[str, object] = {}
    for key, value in data.items():
        if key in TABLES:
            valid[key] = table_problems(key, f"[{key}]", value, TABLES[key], problems)
        elif key in ARRAYS:
            check = _resource_fits_kind if key == "resource" else None
            valid[key] = array_of_tables(key, value, ARRAYS[key], problems, check)
        elif key == COMMANDS:
            valid[key] = _commands(value, problems)
        elif key == CLUSTER:
            found, valid[key] = cluster_problems(value)
            problems += found
        else:
            problems.append(
                f"{key_name(key)}: unknown key (expected one of {', '.join(TOP_LEVEL)})"
            )
    return problems + across_problems(valid)


def _resource_fits_kind(
    where: str, entry: Mapping[str, object], passed: Mapping[str, object]
) -> list[str]:
    """pool goes with zfs, mountpoint with ufs (judged only when those keys passed)."""
    if any(key in entry and key not in passed for key in ("kind", "pool", "mountpoint")):
        return []
    problems = kind_problems(
        passed.get("kind", "raw"), passed.get("pool"), passed.get("mountpoint")
    )
    return [f"{where}: {'; '.join(problems)}"] if problems else []


def kind_problems(kind: object, pool: object, mountpoint: object) -> list[str]:
    """What does not fit a resource's kind: a zfs resource needs a pool, and so on."""
    problems = []
    if kind == "zfs" and pool is None:
        problems.append("kind zfs needs pool = NAME")
    if kind == "ufs" and mountpoint is None:
        problems.append("kind ufs needs mountpoint = PATH")
    if kind != "zfs" and pool is not None:
        problems.append(f"pool is only for kind zfs (this is kind {kind})")
    if kind != "ufs" and mountpoint is not None:
        problems.append(f"mountpoint is only for kind ufs (this is kind {kind})")
    return problems


def _commands(value: object, problems: list[str]) -> dict[str, object]:
    if not isinstance(value, dict):
        problems.append(f"commands: {expected('a table ([commands])', value)}")
        return {}
    passed: dict[str, object] = {}
    for name, path in value.items():
        if name not in COMMAND_NAMES:
            known = ", ".join(COMMAND_NAMES)
            problems.append(f"commands.{key_name(name)}: unknown command (expected one of {known})")
        elif (problem := absolute_path(path)) is not None:
            problems.append(f"commands.{name}: {problem}")
        else:
            passed[name] = path
    return passed


def across_problems(valid: Mapping[str, object]) -> list[str]:
    """Checks that join keys, over values that passed: one owner per name, paces, sockets."""
    groups = _entries(valid, "group")
    problems = _duplicates("resource", [r.get("name") for r in _entries(valid, "resource")])
    problems += _duplicates("group", [g.get("name") for g in groups])
    problems += _duplicates("group vhid", [g.get("vhid") for g in groups])
    for what in ("resource", "service"):
        claimed: dict[str, object] = {}
        for group in groups:
            if "name" not in group:
                continue
            for name in _strings(group.get(what + "s")):
                owner = claimed.setdefault(name, group["name"])
                if owner != group["name"]:
                    problems.append(
                        f"{what} {name!r} is in group {owner!r} and {group['name']!r} "
                        "(demoting one group would take it from the other)"
                    )
    return problems + _pace_problems(valid) + _socket_problems(valid)


def _pace_problems(valid: Mapping[str, object]) -> list[str]:
    intake = valid.get("intake")
    if not isinstance(intake, dict):
        return []
    settle = intake.get("settle", DEFAULT_SETTLE)
    flap_limit = intake.get("flap_limit", DEFAULT_FLAP_LIMIT)
    numbers = isinstance(settle, int | float) and isinstance(flap_limit, int | float)
    if not numbers or settle < flap_limit:
        return []
    return [
        f"intake.settle: expected less than intake.flap_limit ({flap_limit:g} s), "
        f"not {settle:g}: every event would count as flapping"
    ]


def _socket_problems(valid: Mapping[str, object]) -> list[str]:
    paths = valid.get("paths")
    run_dir = paths.get("run_dir") if isinstance(paths, dict) else None
    if not isinstance(run_dir, str):
        return []
    socket = run_dir.rstrip("/") + "/" + INTAKE_SOCKET_NAME
    if len(socket.encode()) < SUN_PATH_SIZE:
        return []
    longest = SUN_PATH_SIZE - 2 - len(INTAKE_SOCKET_NAME)
    return [
        f"paths.run_dir: expected a directory of at most {longest} bytes (the daemon's "
        f"socket {INTAKE_SOCKET_NAME} must fit a UNIX socket address), not {shown(run_dir)}"
    ]


def _entries(valid: Mapping[str, object], key: str) -> list[dict[str, object]]:
    entries = valid.get(key, [])
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _duplicates(what: str, found: Sequence[object]) -> list[str]:
    counts = Counter(str(name) for name in found if name is not None)
    return [
        f"{what} {name!r} is defined more than once" for name in sorted(counts) if counts[name] > 1
    ]
