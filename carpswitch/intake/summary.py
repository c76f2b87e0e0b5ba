"""The hook's validated summary of carpswitch.toml: run_dir/config.validated.

Kept by the hook once the event is recorded (so run_dir exists; the hook creates nothing
for an event it refuses or ignores).

Validating the whole config (tomllib, then config_rules with its regular expressions)
costs the devd hook more than Python's own start-up, at every CARP event, for a file that
changes a few times a year. So once a config passed every rule the hook keeps what it
needs from it (run_dir, state_dir, the groups' vhids) in run_dir, keyed by the config's
identity: its absolute path and (st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns) of
the file its bytes were read from, and the identity of the rules' source (config_rules.py
and config_values.py: an upgrade revalidates). Any write to the file changes its ctime,
so a changed config is validated again, and refused if broken (exit 78).

Where run_dir is comes from the config itself, so the hook looks for the summary in the
run_dir a plain `[paths] run_dir = "..."` line names (else the default): a summary is
only trusted when it names this config, this identity and the very run_dir it lies in, so
a config written another way is merely validated every time, never misread.

A summary is trusted only when it is a regular file (never followed through a symlink),
owned by us, readable by nobody else, and in exactly the format written here; anything
else (planted, corrupt, another user's) is ignored and the config validated fully. The
StrictModes walk over the config, run_dir and state_dir runs every time regardless: a
chmod of an ancestor changes no identity of the file.
"""

from __future__ import annotations

import os
import stat

from carpswitch.intake.vhids import EVERY_VHID, ConfiguredVhids, GroupVhid
from carpswitch.statefiles import replace_file

SUMMARY_NAME = "config.validated"
MAGIC = "carpswitch validated config 1"
#: A summary is a few lines; anything larger is not one.
MAX_BYTES = 1 << 16
#: The modules whose rules a summary vouches for (an upgrade of either revalidates).
RULES_SOURCES = ("config_rules.py", "config_values.py")
_FIELDS = ("config", "identity", "rules", "run_dir", "state_dir", "vhids")


def identity_of(status: os.stat_result) -> str:
    """What changes whenever the file's content may have changed."""
    return " ".join(
        str(n)
        for n in (
            status.st_dev,
            status.st_ino,
            status.st_size,
            status.st_mtime_ns,
            status.st_ctime_ns,
        )
    )


def rules_identity() -> str | None:
    """Size and mtime of the rules' source files; None when they cannot be stat'ed."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parts = []
    for name in RULES_SOURCES:
        try:
            status = os.stat(os.path.join(package, name))
        except OSError:
            return None
        parts.append(f"{status.st_size}:{status.st_mtime_ns}")
    return " ".join(parts)


def named_run_dir(raw: bytes, default: str) -> str:
    """The run_dir a plain `run_dir = "PATH"` line of `[paths]` names, else `default`.

    Only where to look for a summary: a wrong guess finds none that matches.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return default
    table = ""
    for line in text.splitlines():
        words = line.strip()
        if words.startswith("["):
            table = words
            continue
        key, equals, value = words.partition("=")
        if table == "[paths]" and equals and key.strip() == "run_dir":
            value = value.strip()
            if len(value) > 1 and value[0] == value[-1] == '"' and "\\" not in value:
                return value[1:-1]
    return default


class Summary:
    """What the hook needs of one validated config (written and read as text lines)."""

    def __init__(
        self, config: str, identity: str, run_dir: str, state_dir: str, vhids: ConfiguredVhids
    ) -> None:
        self.config = config
        self.identity = identity
        self.run_dir = run_dir
        self.state_dir = state_dir
        self.vhids = vhids

    def encode(self, rules: str) -> bytes | None:
        """The file's bytes; None when a value cannot be written on one line."""
        groups = self.vhids.groups
        vhids = "every" if groups is None else " ".join(_vhid_word(g) for g in groups)
        values = (self.config, self.identity, rules, self.run_dir, self.state_dir, vhids)
        if any(c in value for value in values for c in "\t\n\r"):
            return None
        lines = [MAGIC, *(f"{k}\t{v}" for k, v in zip(_FIELDS, values, strict=True))]
        return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


def load_summary(run_dir: str, config: str, status: os.stat_result) -> Summary | None:
    """The summary in `run_dir` for `config` as it is now (`status`); None: validate."""
    rules = rules_identity()
    if rules is None:
        return None
    try:
        fields = _read_fields(os.path.join(run_dir, SUMMARY_NAME))
    except (OSError, ValueError):
        return None
    wanted = {"config": config, "identity": identity_of(status), "rules": rules}
    if fields is None or any(fields[k] != v for k, v in wanted.items()):
        return None
    if fields["run_dir"] != run_dir:
        return None
    vhids = _parse_vhids(fields["vhids"])
    if vhids is None:
        return None
    return Summary(config, wanted["identity"], run_dir, fields["state_dir"], vhids)


def save_summary(summary: Summary) -> None:
    """Write `summary` into its run_dir when that exists (best effort: a cache, replaced
    atomically, so a reader never sees half of one)."""
    rules = rules_identity()
    data = None if rules is None else summary.encode(rules)
    if data is None or not os.path.isdir(summary.run_dir):
        return
    try:
        replace_file(os.path.join(summary.run_dir, SUMMARY_NAME), data, durable=False)
    except OSError:
        return


def _read_fields(path: str) -> dict[str, str] | None:
    """The fields of a summary we wrote ourselves; None for anything else."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        status = os.fstat(fd)
        if (
            not stat.S_ISREG(status.st_mode)
            or status.st_uid != os.geteuid()
            or status.st_mode & 0o077
            or status.st_size > MAX_BYTES
        ):
            return None
        data = os.read(fd, MAX_BYTES + 1)
    finally:
        os.close(fd)
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if lines[0] != MAGIC or lines[-1] != "" or len(lines) != len(_FIELDS) + 2:
        return None
    fields = dict(line.split("\t", 1) for line in lines[1:-1])
    return fields if tuple(fields) == _FIELDS else None


def _vhid_word(group: GroupVhid) -> str:
    return str(group.vhid) if group.interface is None else f"{group.vhid}@{group.interface}"


def _parse_vhids(text: str) -> ConfiguredVhids | None:
    if text == "every":
        return EVERY_VHID
    groups = []
    for word in text.split(" "):
        vhid, at, interface = word.partition("@")
        if not vhid.isascii() or not vhid.isdigit() or (at and not interface):
            return None
        groups.append(GroupVhid(int(vhid), interface if at else None))
    return ConfiguredVhids(tuple(groups)) if groups else None
