"""ctl.conf(5) for the lab's ctld: the text a node starts with and the subset it reads.

An administrator configures ctld on a HAST pair identically on both nodes: the same target
IQN and LUN serial, so that an initiator sees one LUN that moves with the CARP address. The
lab writes DIR/etc/ctl.conf that way (one target per raw HAST resource, serving
/dev/hast/NAME) and its ctld (carpswitch.lab.cluster.iscsi) reads back this subset:
`portal-group NAME { discovery-auth-group, listen }` and `target IQN { auth-group,
portal-group, lun N { path, serial, blocksize, device-id } }`, `#` comments, no semicolons.
tgt keeps LUN 0 of every target for its controller device, so ctl.conf's `lun N` is tgt's
LUN N+1 (an initiator of the lab reads ctld's LUN 0 as iscsi://ADDRESS/IQN/1).
"""

from __future__ import annotations

import dataclasses
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from carpswitch.lab.facts import NodeFacts
from carpswitch.lab.paths import inside_node

#: The IQN naming authority of the lab's targets (iqn.YYYY-MM.reversed-domain:name).
IQN_PREFIX = "iqn.2026-01.org.carpswitch.lab"
#: ctld's default portal: every address of the host, iSCSI's port.
DEFAULT_LISTEN = "0.0.0.0:3260"
#: tgt's first LUN that can carry a backing store: ctl.conf's `lun 0`.
FIRST_LUN = 1
#: ctl.conf's LUN N is tgt's LUN N + TGT_LUN_OFFSET.
TGT_LUN_OFFSET = FIRST_LUN
_TOKEN = re.compile(r'"[^"]*"|[{}]|[^\s{}"#]+')


class CtlConfError(ValueError):
    """ctl.conf says something the lab's ctld cannot serve (ctld would refuse to start)."""


@dataclass(frozen=True)
class Lun:
    """One `lun N { ... }` of a target."""

    number: int  # tgt's LUN number: ctl.conf's N + TGT_LUN_OFFSET
    path: str
    serial: str | None = None


@dataclass(frozen=True)
class Target:
    """One `target IQN { ... }`: who may log in and its LUNs."""

    iqn: str
    luns: tuple[Lun, ...]
    #: `auth-group no-authentication` lets every initiator in; ctld's `default` denies all.
    allow_all: bool


@dataclass(frozen=True)
class CtlConf:
    """What the lab's ctld serves: one portal (listen address) and the targets."""

    listen: str
    targets: tuple[Target, ...]


def ctl_conf_path(facts: NodeFacts) -> Path:
    """DIR/etc/ctl.conf (rc.d/ctld: required_files=/etc/ctl.conf)."""
    return facts.node_paths.etc / "ctl.conf"


def target_iqn(resource: str) -> str:
    """The IQN both nodes give the target of HAST resource `resource`."""
    return f"{IQN_PREFIX}:{resource}"


def lun_serial(facts: NodeFacts, resource: str) -> str:
    """The serial both nodes give the LUN of `resource`: from the pair's names, not the host.

    16 characters at most: CTL's serial number field (CTL_SN_LEN).
    """
    pair = "|".join((*sorted((facts.name, facts.peer)), resource))
    return f"CSW{zlib.crc32(pair.encode()):08X}"


def ctl_conf_text(facts: NodeFacts) -> str:
    """ctl.conf of a node: a portal on every address, one target per raw resource."""
    lines = [
        "# ctl.conf of a carpswitch lab node (simulated FreeBSD; served by tgt)",
        "portal-group pg0 {",
        "\tdiscovery-auth-group no-authentication",
        f"\tlisten {DEFAULT_LISTEN}",
        "}",
        "",
    ]
    for resource in facts.resources:
        if resource.kind != "raw":
            continue  # a mounted file system or a pool is not a LUN
        lines += [
            f"target {target_iqn(resource.name)} {{",
            "\tauth-group no-authentication",
            "\tportal-group pg0",
            "\tlun 0 {",
            f"\t\tpath {facts.node_paths.provider(resource.name)}",
            f"\t\tserial {lun_serial(facts, resource.name)}",
            "\t}",
            "}",
            "",
        ]
    return "\n".join(lines)


def write_ctl_conf(facts: NodeFacts) -> None:
    """Write DIR/etc/ctl.conf for a node that has the ctld service (layout.write_layout)."""
    if "ctld" in facts.services:
        ctl_conf_path(facts).write_text(ctl_conf_text(facts))


def chrooted_conf(conf: CtlConf, root: Path) -> CtlConf:
    """`conf` with each LUN's path as the node sees it (paths.inside_node: a node is a
    chroot, so set-up's `path /dev/hast/NAME` is DIR/dev/hast/NAME)."""
    return dataclasses.replace(
        conf,
        targets=tuple(
            dataclasses.replace(
                target,
                luns=tuple(
                    dataclasses.replace(lun, path=inside_node(root, lun.path))
                    for lun in target.luns
                ),
            )
            for target in conf.targets
        ),
    )


def parse_ctl_conf(text: str) -> CtlConf:
    """The subset of ctl.conf the lab serves (raises CtlConfError naming the statement)."""
    listens: dict[str, str] = {}
    targets: list[Target] = []
    for keyword, argument, body in _statements(_tokens(text), "ctl.conf"):
        if keyword == "portal-group" and body is not None:
            listens[argument] = _portal_group(argument, body)
        elif keyword == "target" and body is not None:
            targets.append(_target(argument, body, listens))
        else:
            raise CtlConfError(f"unsupported statement {keyword!r}")
    used = set(listens.values())
    if len(used) > 1:
        raise CtlConfError(f"the lab's ctld listens on one address, not {sorted(used)}")
    return CtlConf(listen=next(iter(used), DEFAULT_LISTEN), targets=tuple(targets))


def _tokens(text: str) -> list[str]:
    """Words and braces; a statement ends with its line (the `\\n` token)."""
    words: list[str] = []
    for line in text.splitlines():
        line = re.sub(r'#[^"]*$', "", line)
        words += [w.strip('"') for w in _TOKEN.findall(line)]
        words.append("\n")
    return words


def _statements(tokens: list[str], where: str) -> list[tuple[str, str, list[str] | None]]:
    """(keyword, argument, block tokens or None) of each statement, in order."""
    found: list[tuple[str, str, list[str] | None]] = []
    tokens = list(tokens)
    while tokens:
        keyword = tokens.pop(0)
        if keyword == "\n":
            continue
        words: list[str] = []
        while tokens and tokens[0] not in ("\n", "{"):
            words.append(tokens.pop(0))
        if len(words) != 1:
            raise CtlConfError(f"{where}: unsupported {' '.join([keyword, *words])!r}")
        body = None
        if tokens and tokens[0] == "{":
            tokens.pop(0)
            body = _block_body(tokens, f"{where}: {keyword} {words[0]}")
        found.append((keyword, words[0], body))
    return found


def _block_body(tokens: list[str], where: str) -> list[str]:
    """The tokens up to the `}` that closes an opened block (consumed; nested kept)."""
    depth, body = 1, list[str]()
    while tokens:
        token = tokens.pop(0)
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth == 0:
            return body
        body.append(token)
    raise CtlConfError(f"{where}: missing '}}'")


def _portal_group(name: str, body: list[str]) -> str:
    listen = DEFAULT_LISTEN
    for keyword, argument, _ in _statements(body, f"portal-group {name}"):
        if keyword == "listen":
            listen = argument
        elif keyword != "discovery-auth-group":
            raise CtlConfError(f"portal-group {name}: unsupported {keyword!r}")
    return listen


def _target(iqn: str, body: list[str], listens: dict[str, str]) -> Target:
    luns: list[Lun] = []
    allow_all = False
    for keyword, argument, inner in _statements(body, f"target {iqn}"):
        if (inner is not None) != (keyword == "lun"):
            raise CtlConfError(f"target {iqn}: unsupported {keyword!r}")
        if keyword == "auth-group":
            allow_all = argument == "no-authentication"
        elif keyword == "portal-group":
            if argument not in listens:
                raise CtlConfError(f"target {iqn}: unknown portal-group {argument!r}")
        elif keyword == "lun":
            luns.append(_lun(iqn, argument, inner or []))
        else:
            raise CtlConfError(f"target {iqn}: unsupported {keyword!r}")
    return Target(iqn=iqn, luns=tuple(luns), allow_all=allow_all)


def _lun(iqn: str, number: str, body: list[str]) -> Lun:
    where = f"target {iqn}: lun {number}"
    if not number.isdigit():
        raise CtlConfError(f"{where}: the lab serves numbered LUNs only")
    values: dict[str, str] = {}
    for keyword, argument, _ in _statements(body, where):
        if keyword not in ("path", "serial", "blocksize", "device-id"):
            raise CtlConfError(f"{where}: unsupported {keyword!r}")
        values[keyword] = argument
    if "path" not in values:
        raise CtlConfError(f"{where}: no path")
    return Lun(
        number=int(number) + TGT_LUN_OFFSET, path=values["path"], serial=values.get("serial")
    )
