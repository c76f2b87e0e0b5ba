"""HastConf -> hast.conf text in one canonical layout.

Global statements first, then node sections, then resources; a blank line between
sections; tabs for indentation; one statement per line, in a fixed order per section.
Comments are not kept (the model has none). parse(render(c)) == c for every HastConf.
"""

from __future__ import annotations

from carpswitch.parse.hastconf_model import (
    HastConf,
    HastNodeSection,
    HastResourceNode,
    HastResourceSection,
)

Setting = tuple[str, str | int | bool | None]


def _lines(settings: list[Setting], indent: str) -> list[str]:
    lines = []
    for keyword, value in settings:
        if value is None:
            continue
        if isinstance(value, bool):
            value = "on" if value else "off"
        lines.append(f"{indent}{keyword} {value}")
    return lines


def _shared_settings(
    section: HastConf | HastResourceSection,
) -> list[Setting]:
    """Statements the global section and a resource have in common, in render order."""
    return [
        ("replication", section.replication),
        ("checksum", section.checksum),
        ("compression", section.compression),
        ("timeout", section.timeout),
        ("exec", section.exec_path),
        ("metaflush", section.metaflush),
    ]


def _global_lines(conf: HastConf) -> list[str]:
    settings: list[Setting] = [("control", conf.control), ("pidfile", conf.pidfile)]
    settings += [("listen", address) for address in conf.listen]
    return _lines(settings + _shared_settings(conf), "")


def _node_lines(node: HastNodeSection) -> list[str]:
    settings: list[Setting] = [("control", node.control), ("pidfile", node.pidfile)]
    settings += [("listen", address) for address in node.listen]
    return [f"on {node.node} {{", *_lines(settings, "\t"), "}"]


def _resource_node_lines(node: HastResourceNode) -> list[str]:
    settings: list[Setting] = [
        ("name", node.provider_name),
        ("local", node.local_path),
        ("metaflush", node.metaflush),
        ("remote", node.remote_address),
        ("source", node.source_address),
    ]
    return [f"\ton {node.node} {{", *_lines(settings, "\t\t"), "\t}"]


def _resource_lines(resource: HastResourceSection) -> list[str]:
    settings = _shared_settings(resource)
    settings += [("name", resource.provider_name), ("local", resource.local_path)]
    lines = [f"resource {resource.name} {{", *_lines(settings, "\t")]
    if len(lines) > 1 and resource.on:
        lines.append("")
    for node in resource.on:
        lines += _resource_node_lines(node)
    lines.append("}")
    return lines


def render_hast_conf(conf: HastConf) -> str:
    """Write `conf` as hast.conf text (empty string for an empty configuration)."""
    sections = [_global_lines(conf)]
    sections += [_node_lines(node) for node in conf.nodes]
    sections += [_resource_lines(resource) for resource in conf.resources]
    text = "\n\n".join("\n".join(lines) for lines in sections if lines)
    return text + "\n" if text else ""
