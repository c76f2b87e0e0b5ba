"""/dev/hast/NAME's lifetime with its primary worker (primary.c init_ggate and cleanup).

A stand-alone node's provider is a symlink to the local component; a replicating node's
is served through FUSE (carpswitch.lab.hastd.provider). Either way it appears a moment
after the worker starts, I/O on it waits for init_remote, and it is destroyed with force
when the worker ends: a file system still mounted on it becomes dirty.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from carpswitch.lab.hastd import provider as fuse_provider
from carpswitch.lab.hastd.resources import ResourceConfig
from carpswitch.lab.paths import NodePaths
from carpswitch.lab.state import (
    FileSystem,
    FileSystemState,
    HastKnobState,
    MountState,
    ResourceKnobs,
    StateStore,
)

#: Time between fork and /dev/hast/<name> appearing (metadata read + init_ggate).
PROVIDER_DELAY = 0.1


def create_symlink_provider(paths: NodePaths, resource: ResourceConfig) -> None:
    """init_ggate of a stand-alone node: /dev/hast/NAME, a symlink to the component."""
    time.sleep(PROVIDER_DELAY)
    provider = paths.provider(resource.provider_name)
    temporary = provider.with_name(f".{provider.name}.{os.getpid()}")
    temporary.symlink_to(resource.local_path)
    start_io_wait(paths, resource, lambda: os.replace(temporary, provider))


def start_io_wait(
    paths: NodePaths, resource: ResourceConfig, created: Callable[[], None] = lambda: None
) -> None:
    """init_remote starts once the device exists: the wait for the peer starts now."""
    store = StateStore(paths)
    with store.update(HastKnobState) as knobs:
        current = knobs.knobs(resource.name)
        if current.io_wait_worker in (None, os.getpid()) and current.io_wait_seconds > 0:
            current.io_wait_worker = os.getpid()  # hastd may not have written it yet
            current.io_waits_until = time.time() + current.io_wait_seconds
            knobs.resources[resource.name] = current
        created()  # "Device hast/NAME created." (or "recovered.")


def serve_io_now(store: StateStore, name: str) -> None:
    """init_remote is over (peer answered or timed out): I/O on the provider is served."""
    with store.update(HastKnobState) as knobs:
        current = knobs.resources.setdefault(name, ResourceKnobs())
        current.io_wait_seconds = 0.0
        current.io_waits_until = None


def destroy_provider(paths: NodePaths, resource: ResourceConfig, fuse: bool) -> None:
    provider = paths.provider(resource.provider_name)
    if fuse:
        fuse_provider.remove(provider)
        _mark_mounted_fs_dirty(paths, resource.name, provider)
        return
    try:
        target = os.readlink(provider)
    except OSError:
        return
    if target != resource.local_path:
        return
    with contextlib.suppress(FileNotFoundError):
        provider.unlink()
    _mark_mounted_fs_dirty(paths, resource.name, provider)


def _mark_mounted_fs_dirty(paths: NodePaths, name: str, provider: Path) -> None:
    store = StateStore(paths)
    with store.locked():
        mounts = store.read(MountState)
        if not any(Path(m.device) == provider for m in mounts.mounts):
            return
        with store.update(FileSystemState) as filesystems:
            fs = filesystems.filesystems.setdefault(name, FileSystem())
            if fs.condition == "clean":
                fs.condition = "dirty"
