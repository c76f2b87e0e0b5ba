"""`carpswitch setup init`: write carpswitch.toml from the values hastconf.sh took.

hastconf.sh's seven arguments keep their names as options (`--remote-host`, `--remote-ip`,
`--carp-ip`, `--remote-poolname`, `--vol-path`, `--vol-size`, `--hastvol-name`), plus what
it left implicit: this node's name and address, the vhid, the CARP password (default: a
random one, printed), the interface. Run on the node that is to be the preferred master
(it is the first `[[cluster.host]]`, advskew 0), as hastconf.sh was. In a terminal it asks
for each value not given, with its default; otherwise a missing value is an error that
names every missing option (exit 64), and nothing is written.

The whole file is validated (carpswitch.config.parse_config) before it is written, then
written atomically, mode 0600 (it holds the CARP password). An existing file is kept
unless `--force`; a file with only node-local sections ([node], [paths], [commands], as
a lab node or a fresh install has) is not "overwritten": those sections are kept and the
shared ones added, so init needs no --force there. Imports stay light until it runs
(carpswitch.startup: every command's start-up counts).
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

if TYPE_CHECKING:
    from carpswitch.config import Config

USAGE = 64  # carpswitch.exitcodes.ExitCode.USAGE (not imported: start-up)
CONFIG = 78  # ExitCode.CONFIG
IOERR = 74  # ExitCode.IOERR
GROUP_NAME = "storage"
GENERATED_KEY_LENGTH = 16
GENERATED_KEY_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


class Value(NamedTuple):
    """One value init needs: its option, what it means, where it goes (a NamedTuple, not a
    dataclass: dataclasses imports inspect, ~10 ms of start-up)."""

    dest: str
    option: str
    what: str
    keys: tuple[str, ...]  # config keys whose problems are this option's


VALUES = (
    Value("local_host", "--local-host", "this node's name in hast.conf", ("cluster.host[0].name",)),
    Value("local_ip", "--local-ip", "this node's address", ("cluster.host[0].address",)),
    Value(
        "remote_host", "--remote-host", "the peer's name in hast.conf", ("cluster.host[1].name",)
    ),
    Value("remote_ip", "--remote-ip", "the peer's address", ("cluster.host[1].address",)),
    Value("carp_ip", "--carp-ip", "the CARP address, ADDR[/LEN]", ("cluster.address",)),
    Value(
        "interface",
        "--interface",
        "the CARP interface",
        ("cluster.interface", "group[0].interface"),
    ),
    Value("vhid", "--vhid", "the CARP vhid, 1 to 255", ("cluster.vhid", "group[0].vhid")),
    Value("carp_pass", "--carp-pass", "the CARP password", ("cluster.password",)),
    Value(
        "hastvol_name",
        "--hastvol-name",
        "the HAST resource's name",
        ("cluster.resource[0].name", "resource[0].name"),
    ),
    Value("vol_path", "--vol-path", "the zvol, VOL or POOL/VOL", ("cluster.resource[0].zvol",)),
    Value("remote_poolname", "--remote-poolname", "the zvol's pool", ()),
    Value("vol_size", "--vol-size", "the zvol's size, e.g. 10G", ("cluster.resource[0].size",)),
)

#: Options never asked for (their defaults are good), with the keys whose problems they own.
NOT_ASKED = (
    ("--hast-exec", ("cluster.hast_exec",)),
    ("--hast-timeout", ("cluster.hast_timeout",)),
)


def add_init_arguments(parser: argparse.ArgumentParser) -> None:
    """hastconf.sh's names, plus --local-host/--local-ip, --vhid, --carp-pass, --interface,
    and what hastconf.sh never wrote (iSCSI, ssh, hast.conf's exec and timeout)."""
    for value in VALUES:
        parser.add_argument(value.option, dest=value.dest, metavar="VALUE", help=value.what)
    parser.add_argument(
        "--iscsi",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve /dev/hast/NAME over iSCSI (ctl.conf, ctld; default: yes)",
    )
    parser.add_argument(
        "--ssh-identity", metavar="PATH", help="ssh -i: root's key for the peer (default: ssh's)"
    )
    parser.add_argument(
        "--ssh-known-hosts",
        metavar="PATH",
        help="the known_hosts file holding the peer's host key (default: ssh's)",
    )
    from carpswitch.config_cluster import DEFAULT_HAST_EXEC, HAST_TIMEOUT_MAX

    parser.add_argument(
        "--hast-exec",
        metavar="PATH",
        help=f"hast.conf exec: the program hastd runs on each event (default {DEFAULT_HAST_EXEC}"
        ', which journals them and marks a split-brain against automatic promotion; "" for none)',
    )
    parser.add_argument(
        "--hast-timeout",
        metavar="SECONDS",
        help=f"hast.conf timeout, 1 to {HAST_TIMEOUT_MAX}: how long hastd waits for the peer, so "
        "also how long a new primary may wait for a peer that is gone (default: hastd's 20)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace the shared sections of an existing file"
    )


def run_init(
    options: argparse.Namespace,
    *,
    config_file: str,
    interactive: bool,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Write carpswitch.toml at `config_file`; 0, or 64 (missing/bad values), 78, 74."""
    from carpswitch.errors import ConfigError

    try:
        existing = _existing_node_part(config_file, bool(options.force))
    except ConfigError as exc:
        for problem in exc.problems:
            stderr.write(f"carpswitch setup init: {exc.path}: {problem}\n")
        return CONFIG
    given = {value.dest: getattr(options, value.dest, None) for value in VALUES}
    defaults = _defaults()
    hostname_default = defaults["local_host"]
    node = existing.get("node")
    node = node if isinstance(node, dict) else {}  # a bad [node] is parse_config's to name
    node_name = node.get("name")
    if isinstance(node_name, str):
        defaults["local_host"] = node_name  # the node already says who it is
    if interactive:
        answers = _ask(given, defaults, stdin, stdout)
        if answers is None:
            stderr.write("carpswitch setup init: no answer (end of input); nothing written\n")
            return USAGE
        given = answers
    values = {
        dest: given[dest] if given[dest] not in (None, "") else defaults.get(dest) for dest in given
    }
    missing = [
        value for value in VALUES if values[value.dest] in (None, "") and _needed(value, values)
    ]
    if missing:
        stderr.write(
            "carpswitch setup init: missing values "
            "(give them as options, or run it in a terminal):\n"
        )
        for value in missing:
            stderr.write(f"  {value.option} ({value.what})\n")
        return USAGE
    data = {**existing, **_shared_data(values, bool(options.iscsi), _ssh_data(options))}
    data["cluster"].update(_hast_data(options))
    if values["local_host"] != hostname_default:
        # this_host finds it by [node].name when it is not the host name.
        data["node"] = {**node, "name": values["local_host"]}
    try:
        config = _validated(data, config_file)
    except ConfigError as exc:
        told: set[str] = set()
        for problem in exc.problems:
            option = _option_of(problem)
            if option and option in told:
                continue  # [[group]] repeats --vhid's problem: say it once
            told.add(option)
            stderr.write(f"carpswitch setup init: {option}{problem}\n")
        return USAGE
    from carpswitch.setup.render_toml import render_config

    try:
        write_private_file(config_file, render_config(config))
    except OSError as exc:
        stderr.write(f"carpswitch setup init: cannot write {config_file}: {exc.strerror or exc}\n")
        return IOERR
    stdout.write(f"wrote {config_file} (mode 0600)\n")
    if given["carp_pass"] in (None, ""):
        stdout.write(f"CARP password (generated, kept in the file): {values['carp_pass']}\n")
    stdout.write("next: carpswitch setup plan\n")
    return 0


def _defaults() -> dict[str, str]:
    import secrets
    import socket

    hostname = socket.gethostname()
    short = hostname.split(".", 1)[0] if not hostname.startswith(".") else hostname
    password = "".join(secrets.choice(GENERATED_KEY_CHARS) for _ in range(GENERATED_KEY_LENGTH))
    return {"local_host": short or hostname, "vhid": "1", "carp_pass": password}


def _needed(value: Value, values: dict[str, Any]) -> bool:
    """--remote-poolname is needed only when --vol-path is not already POOL/VOL."""
    if value.dest == "remote_poolname":
        return "/" not in str(values.get("vol_path") or "")
    return True


def _ask(
    given: dict[str, Any], defaults: dict[str, str], stdin: TextIO, stdout: TextIO
) -> dict[str, Any] | None:
    """One prompt per value not given (Enter takes the default); None at end of input."""
    answers = dict(given)
    for value in VALUES:
        if answers[value.dest] not in (None, "") or not _needed(value, answers):
            continue
        default = defaults.get(value.dest)
        shown = "generated" if value.dest == "carp_pass" else default
        stdout.write(f"{value.what} ({value.option})" + (f" [{shown}]" if shown else "") + ": ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            stdout.write("\n")
            return None
        answers[value.dest] = line.strip() or None
    return answers


def _ssh_data(options: argparse.Namespace) -> dict[str, str]:
    """`[cluster.ssh]` from --ssh-identity/--ssh-known-hosts (none given: ssh's defaults)."""
    given = {
        "identity": getattr(options, "ssh_identity", None),
        "known_hosts": getattr(options, "ssh_known_hosts", None),
    }
    return {key: value for key, value in given.items() if value is not None}


def _hast_data(options: argparse.Namespace) -> dict[str, object]:
    """[cluster] hast_exec/hast_timeout from --hast-exec/--hast-timeout (not given: defaults)."""
    given = {
        "hast_exec": getattr(options, "hast_exec", None),
        "hast_timeout": getattr(options, "hast_timeout", None),
    }
    if given["hast_timeout"] is not None:
        given["hast_timeout"] = _integer(given["hast_timeout"])
    return {key: value for key, value in given.items() if value is not None}


def _shared_data(
    values: dict[str, Any], iscsi: bool, ssh: dict[str, str] | None = None
) -> dict[str, Any]:
    """The shared sections hastconf.sh's values make: [cluster], [[resource]], [[group]]."""
    vol = str(values["vol_path"])
    zvol = vol if "/" in vol else f"{values['remote_poolname']}/{vol}"
    name = values["hastvol_name"]
    vhid = _integer(values["vhid"])
    resource: dict[str, Any] = {"name": name, "zvol": zvol, "size": values["vol_size"]}
    if iscsi:
        resource["iscsi"] = True
    group: dict[str, Any] = {
        "name": GROUP_NAME,
        "vhid": vhid,
        "interface": values["interface"],
        "resources": [name],
    }
    if iscsi:
        group["services"] = ["ctld"]
    return {
        "cluster": {
            "interface": values["interface"],
            "vhid": vhid,
            "address": _with_prefix(str(values["carp_ip"])),
            "password": values["carp_pass"],
            "host": [
                {"name": values["local_host"], "address": values["local_ip"]},
                {"name": values["remote_host"], "address": values["remote_ip"]},
            ],
            "resource": [resource],
            **({"ssh": ssh} if ssh else {}),
        },
        "resource": [{"name": name, "kind": "raw"}],
        "group": [group],
    }


def _integer(text: object) -> object:
    """An option's digits as the integer TOML would hold (else the text, to be refused)."""
    return int(text) if isinstance(text, str) and text.isascii() and text.isdigit() else text


def _with_prefix(address: str) -> str:
    """hastconf.sh took a bare CARP address: one host (/32, /128) as the Handbook's alias."""
    if "/" in address:
        return address
    return f"{address}/128" if ":" in address else f"{address}/32"


def _validated(data: dict[str, Any], config_file: str) -> Config:
    from carpswitch.config import parse_config

    return parse_config(data, config_file)


def _option_of(problem: str) -> str:
    """`--vhid: ` for a problem of cluster.vhid, so the admin sees what to change."""
    options = [(value.option, value.keys) for value in VALUES] + list(NOT_ASKED)
    for option, keys in options:
        if any(problem.startswith(key + ":") or problem.startswith(key + ".") for key in keys):
            return f"{option}: "
    return ""


def _existing_node_part(config_file: str, force: bool) -> dict[str, Any]:
    """The node-local sections of the file already there (kept), or {} when there is none.

    ConfigError when it holds shared sections and there is no --force (they would be lost),
    or when it cannot be read and there is no --force.
    """
    from carpswitch.config_rules import NODE_LOCAL
    from carpswitch.errors import ConfigError
    from carpswitch.tomlfile import read_toml

    if not os.path.lexists(config_file):
        return {}
    try:
        data = read_toml(config_file, missing_ok=True) or {}
    except ConfigError:
        if force:
            return {}
        raise
    shared = sorted(key for key in data if key not in NODE_LOCAL)
    if shared and not force:
        raise ConfigError(
            config_file,
            [f"exists with shared sections ({', '.join(shared)}): --force replaces them"],
        )
    return {key: value for key, value in data.items() if key in NODE_LOCAL}


def write_private_file(path: str, text: str) -> None:
    """Write `text` at `path` atomically, mode 0600 (carpswitch.statefiles.replace_file: a
    crash leaves the old file or the new)."""
    from carpswitch.statefiles import replace_file

    replace_file(path, text.encode())
