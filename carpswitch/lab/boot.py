"""What a reboot leaves of a lab node: the disks and rc.conf stay, the kernel starts over.

Called by `LabNode.reboot()` after every process of the node has been stopped (hastd
first, so a UFS still mounted on a provider becomes dirty, as after a crash):

* kernel state: no mounts; a fresh sysctl set with a new kern.boottime; every interface
  up, every configured vhid (one with an address, as rc.conf would make it) in the
  requested state, vhids made at run time gone; net.inet.carp.demotion back to 0;
  watchdog(4) disarmed (a machine reset clears it; rc's watchdogd is not enabled);
* ZFS opens the pools listed in zpool.cache - without /dev/hast, so they are UNAVAIL
  (OpenZFS spa_config_load at boot); other pools are not imported;
* rc.d/cleanvar deletes the files and sockets under /var/run (pid files, hastd's control
  socket, carpswitch's run_dir content) and keeps the directories;
* on disk: HAST metadata, UFS file systems (clean or dirty), carpswitch's state_dir, which
  services are enabled, the fault plan.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from carpswitch.lab.facts import NodeFacts
from carpswitch.lab.layout import boot_sysctls
from carpswitch.lab.state import (
    HastKnobState,
    MountState,
    NetworkState,
    PoolState,
    ResourceKnobs,
    ServiceState,
    StateStore,
    SysctlState,
    WatchdogState,
)


def boot_state(store: StateStore, facts: NodeFacts, carp_state: str) -> None:
    """Replace the node's kernel state by what it is right after a boot."""
    with store.locked():
        store.write(MountState())
        store.write(boot_sysctls(facts, store.read(SysctlState)))
        store.write(_network(store.read(NetworkState), carp_state))
        store.write(_pools(store.read(PoolState)))
        store.write(_hast_metadata(store.read(HastKnobState)))
        services = store.read(ServiceState)
        for record in services.services.values():
            record.reloads = 0
        store.write(services)
        store.write(WatchdogState())  # a reset clears watchdog(4): disarmed


def clean_var_run(var_run: Path) -> None:
    """rc.d/cleanvar: `find -x /var/run ( -type f -or -type s ) -delete`."""
    for directory, _, names in os.walk(var_run):
        for name in names:
            path = Path(directory) / name
            with contextlib.suppress(FileNotFoundError):
                mode = path.lstat().st_mode
                if stat.S_ISREG(mode) or stat.S_ISSOCK(mode):
                    path.unlink()


def _network(network: NetworkState, carp_state: str) -> NetworkState:
    for interface in network.interfaces:
        interface.up = True
        interface.vhids = [v for v in interface.vhids if v.address is not None]
        for vhid in interface.vhids:
            vhid.state = carp_state  # checked by the caller
            vhid.suppressed = False
    return network


def _pools(pools: PoolState) -> PoolState:
    for pool in pools.pools:
        pool.imported = pool.cachefile
        pool.unavail_from_cache = pool.cachefile
        pool.busy = False
        pool.suspended = False
    return pools


def _hast_metadata(knobs: HastKnobState) -> HastKnobState:
    """Keep what `hastctl dump` reads from disk; forget what only a worker knew."""
    return HastKnobState(
        resources={
            name: ResourceKnobs(
                dirty=k.dirty,  # the activemap is on disk
                resuid=k.resuid,
                localcnt=k.localcnt,
                remotecnt=k.remotecnt,
                prevrole=k.prevrole,
                diskmap=k.diskmap,  # so are its extents (a replicating node's)
                needsync=k.needsync,
            )
            for name, k in knobs.resources.items()
        }
    )
