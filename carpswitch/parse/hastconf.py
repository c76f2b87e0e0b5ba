"""hast.conf: parse it as hastd does, render it back, and resolve it for one node.

The public face of the hast.conf modules; import from here.

    conf = parse_hast_conf(text, "/etc/hast.conf")
    names = node_names_for_host("hasta.example.org", hostuuid, hostid)
    for resource in resolve_resources(conf, names): ...

`parse_hast_conf` raises ParseError on a syntax error (hastd's message); the `resolve_*`
functions raise HastConfError with hastd's message for anything else hastd refuses.
See docs/freebsd/hastconf.md for the grammar and the FreeBSD sources behind each rule.
"""

from __future__ import annotations

from carpswitch.parse.hastconf_lexer import decode_hast_conf
from carpswitch.parse.hastconf_model import (
    Checksum,
    Compression,
    HastConf,
    HastConfError,
    HastNodeSection,
    HastResourceNode,
    HastResourceSection,
    Replication,
    ResolvedResource,
)
from carpswitch.parse.hastconf_parser import parse_hast_conf
from carpswitch.parse.hastconf_render import render_hast_conf
from carpswitch.parse.hastconf_resolve import (
    DEFAULT_CONTROL,
    DEFAULT_LISTEN_TCP4,
    DEFAULT_LISTEN_TCP6,
    DEFAULT_PIDFILE,
    ResolvedNode,
    control_socket_path,
    node_names_for_host,
    resolve_control_address,
    resolve_listen,
    resolve_node,
    resolve_pidfile,
    resolve_resources,
)

__all__ = [
    "DEFAULT_CONTROL",
    "DEFAULT_LISTEN_TCP4",
    "DEFAULT_LISTEN_TCP6",
    "DEFAULT_PIDFILE",
    "Checksum",
    "Compression",
    "HastConf",
    "HastConfError",
    "HastNodeSection",
    "HastResourceNode",
    "HastResourceSection",
    "Replication",
    "ResolvedNode",
    "ResolvedResource",
    "control_socket_path",
    "decode_hast_conf",
    "node_names_for_host",
    "parse_hast_conf",
    "render_hast_conf",
    "resolve_control_address",
    "resolve_listen",
    "resolve_node",
    "resolve_pidfile",
    "resolve_resources",
]
