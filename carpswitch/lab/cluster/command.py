"""Run the Linux tools the two-node lab is built with (ip, nft, nsenter, ucarp).

The lab's own plumbing, not a FreeBSD command: argv only, a timeout on every call, a
ClusterError naming the command when it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

#: No lab command waits on anything slow; a hung one is a broken machine.
TIMEOUT = 20.0
_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
#: What the two-node lab runs, and the Debian package each comes from.
TOOLS = {
    "ip": "iproute2",
    "nft": "nftables",
    "nsenter": "util-linux",
    "umount": "mount",
    "ucarp": "ucarp",
    "ping": "iputils-ping",  # the lab's ping(8) (commands/ping.py)
}


class ClusterError(Exception):
    """The two-node lab cannot do what was asked."""


def run(argv: Sequence[str], *, check: bool = True, stdin: str | None = None) -> str:
    """Run `argv` and return its stdout; raise ClusterError on failure when `check`."""
    try:
        done = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            env={"PATH": _PATH, "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClusterError(f"{' '.join(argv)}: {exc}") from exc
    if check and done.returncode != 0:
        why = done.stderr.strip() or done.stdout.strip()
        raise ClusterError(f"{' '.join(argv)}: exit {done.returncode}: {why}")
    return done.stdout


def missing_requirement() -> str | None:
    """Why the two-node lab cannot run here (root, tools), or None."""
    if os.geteuid() != 0:
        return "the two-node lab needs root (network namespaces)"
    missing = [tool for tool in TOOLS if shutil.which(tool, path=_PATH) is None]
    if missing:
        packages = " ".join(sorted({TOOLS[tool] for tool in missing}))
        return f"missing {', '.join(missing)} (Debian: apt-get install {packages})"
    return None


def netns_path(netns: str) -> str:
    """Where iproute2 keeps a named network namespace (what nsenter --net takes)."""
    return f"/run/netns/{netns}"


def in_netns(netns: str, argv: Sequence[str]) -> list[str]:
    """`argv` run in network namespace `netns` only.

    nsenter --net rather than `ip netns exec`: the latter also gives the process a mount
    namespace of its own, and it would not see the FUSE devices hastd serves.
    """
    return ["nsenter", f"--net={netns_path(netns)}", "--", *argv]
