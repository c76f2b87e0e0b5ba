"""Which UFS file system a device path holds (shared by mount, umount and fsck)."""

from __future__ import annotations

import os
from pathlib import Path

from carpswitch.lab.context import ShimContext


def fs_key(ctx: ShimContext, device: str) -> str:
    """The file-system key of `device`: the resource whose component it reaches, or its path.

    /dev/hast/NAME is (in the lab) a symlink to the resource's local component, so the
    file system follows the data, not the device name.
    """
    path = Path(os.path.abspath(device))
    if path.parent == ctx.paths.dev_hast and ctx.facts.resource(path.name) is not None:
        return path.name  # a replicating node's provider is a FUSE file, not a symlink
    target = os.path.realpath(device)
    for resource in ctx.facts.resources:
        if os.path.realpath(ctx.paths.disk(resource.name)) == target:
            return resource.name
    return str(Path(device))


def hast_resource_of(ctx: ShimContext, device: str) -> str | None:
    """The resource whose provider `device` is (/dev/hast/NAME of this node), if it is one."""
    if Path(os.path.abspath(device)).parent != ctx.paths.dev_hast:
        return None
    key = fs_key(ctx, device)
    return key if ctx.facts.resource(key) is not None else None
