"""Find hastd worker processes by their title, as FreeBSD's own scripts do with pgrep.

hastd names each worker with setproctitle(3): `hastd: <resource> (<role>)` (hastd.8;
primary.c and secondary.c). On FreeBSD, ps may append ` (hastd)`; only the prefix counts.
"""

from __future__ import annotations

from pathlib import Path


def worker_title(resource: str, role: str) -> str:
    """The process title hastd gives the worker of `resource` in `role`."""
    return f"hastd: {resource} ({role})"


def hastd_pid(pidfile: str | None) -> int | None:
    """The pid hastd wrote into its pidfile, when that process is alive."""
    if not pidfile:
        return None
    try:
        pid = int(Path(pidfile).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    import psutil  # here, not at the top: most commands never need it (~15 ms to import)

    return pid if psutil.pid_exists(pid) else None


def hastd_workers(resource: str, role: str, parent: int | None = None) -> list[int]:
    """PIDs of live `hastd: RESOURCE (ROLE)` workers on this host.

    Workers are children of the hastd parent; with `parent` (from hastd's pidfile) only
    that hastd's workers count, so another hastd on the same host cannot confuse us.
    """
    import psutil

    title = worker_title(resource, role)
    found = []
    for process in psutil.process_iter(["pid", "ppid", "cmdline"]):
        if parent is not None and process.info.get("ppid") != parent:
            continue
        # Linux keeps the padding of a rewritten argv area as empty arguments.
        text = " ".join(part for part in process.info.get("cmdline") or [] if part)
        if text == title or text.startswith(title + " "):
            try:
                if process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process.info["pid"])
            except psutil.Error:
                continue
    return found
