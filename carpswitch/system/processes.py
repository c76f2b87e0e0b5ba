"""Find hastd worker processes by their title, as FreeBSD's own scripts do with pgrep.

hastd names each worker with setproctitle(3): `hastd: <resource> (<role>)` (hastd.8;
primary.c and secondary.c). On FreeBSD, ps may append ` (hastd)`; only the prefix counts.
"""

from __future__ import annotations

import psutil


def worker_title(resource: str, role: str) -> str:
    """The process title hastd gives the worker of `resource` in `role`."""
    return f"hastd: {resource} ({role})"


def hastd_workers(resource: str, role: str) -> list[int]:
    """PIDs of live `hastd: RESOURCE (ROLE)` workers on this host."""
    title = worker_title(resource, role)
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        # Linux keeps the padding of a rewritten argv area as empty arguments.
        text = " ".join(part for part in process.info.get("cmdline") or [] if part)
        if text == title or text.startswith(title + " "):
            try:
                if process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process.info["pid"])
            except psutil.Error:
                continue
    return found
