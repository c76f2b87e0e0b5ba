"""Files a new node directory starts with: hast.conf, carpswitch.toml, shims, state."""

from __future__ import annotations

import json
import os
import random
import shlex
import stat
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from carpswitch.config_cluster import DEFAULT_HAST_EXEC
from carpswitch.lab.cluster.ctl_conf import write_ctl_conf
from carpswitch.lab.facts import NodeFacts, ResourceFacts
from carpswitch.lab.paths import SHIM_COMMANDS, NodePaths, inside_node
from carpswitch.lab.state import (
    FileSystem,
    FileSystemState,
    HastKnobState,
    Interface,
    NetworkState,
    PoolRecord,
    PoolState,
    ResourceKnobs,
    ServiceRecord,
    ServiceState,
    StateStore,
    SysctlState,
    Vhid,
)

#: Size of each simulated local component (sparse).
DISK_SIZE = 64 * 1024 * 1024
#: Commands the controller reaches through the lab config's [commands].
CONTROLLER_COMMANDS: tuple[str, ...] = tuple(c for c in SHIM_COMMANDS if c != "hastd")


def controller_commands(facts: NodeFacts) -> tuple[str, ...]:
    """The node's commands named in its [commands]: the shims the controller knows (ping
    once it has the witness guard), and a cluster node's ssh wrapper (set-up's transport)."""
    from carpswitch.config_rules import COMMAND_NAMES

    wrappers = ("ssh",) if facts.netns is not None else ()
    return tuple(c for c in (*CONTROLLER_COMMANDS, *wrappers) if c in COMMAND_NAMES)


def carpswitch_wrapper(paths: NodePaths) -> str:
    """DIR/bin/carpswitch: the real carpswitch reading this node's carpswitch.toml."""
    return (
        "#!/bin/sh\n"
        f"# carpswitch of the lab node {paths.root}: its own carpswitch.toml\n"
        f"CARPSWITCH_CONFIG={shlex.quote(str(paths.config))}\n"
        "export CARPSWITCH_CONFIG\n"
        f'exec {shlex.quote(sys.executable)} -m carpswitch "$@"\n'
    )


def hast_event_wrapper(paths: NodePaths) -> str:
    """DIR/usr/local/sbin/carpswitch-hast-event: set-up's default hast.conf `exec` as this
    node's hastd runs it (the chroot rule), handing the event to the node's own carpswitch."""
    return (
        "#!/bin/sh\n"
        f"# hast.conf exec program of the lab node {paths.root} (sbin/carpswitch-hast-event)\n"
        f'exec {shlex.quote(str(paths.command("carpswitch")))} hast-event "$@"\n'
    )


def ssh_wrapper(netns: str) -> str:
    """DIR/bin/ssh of a cluster node: OpenSSH's client from inside the node's namespace."""
    return f'#!/bin/sh\nexec nsenter --net=/run/netns/{shlex.quote(netns)} -- /usr/bin/ssh "$@"\n'


def hast_conf_text(facts: NodeFacts, listen_port: int) -> str:
    """hast.conf for the node: its control socket, pid file, listen address, resources."""
    paths = facts.node_paths
    lines = [
        "# hast.conf of a carpswitch lab node (simulated FreeBSD)",
        f"control uds://{paths.control_socket}",
        f"pidfile {paths.hastd_pidfile}",
        f"listen {facts.address}:{facts.hast_port}"
        if facts.replication
        else f"listen 127.0.0.1:{listen_port}",
        f"timeout {facts.hast_timeout}",
        "",
    ]
    for resource in facts.resources:
        lines += [
            f"resource {resource.name} {{",
            f"\ton {facts.name} {{",
            f"\t\tlocal {paths.disk(resource.name)}",
            f"\t\tremote {facts.peer_address}",
            "\t}",
            f"\ton {facts.peer} {{",
            f"\t\tlocal /dev/hast-lab/{resource.name}",
            f"\t\tremote {facts.address}",
            "\t}",
            "}",
            "",
        ]
    return "\n".join(lines)


def lab_config_text(facts: NodeFacts) -> str:
    """carpswitch.toml pointing the controller at this node's shims and paths."""
    paths = facts.node_paths

    def q(text: str) -> str:
        return json.dumps(text)

    lines = [
        "# carpswitch configuration of a lab node (simulated FreeBSD)",
        "[node]",
        f"name = {q(facts.name)}",
        # the guards ask the peer's view and serve their own on the hosts' addresses (an
        # empty node is left as it was: set-up renders its guards)
        *(
            [f"peer = {q(facts.peer_address)}", f"view_listen = {q(facts.address)}"]
            if facts.guards and facts.resources
            else []
        ),
        "",
        "[paths]",
        f"dev_hast = {q(str(paths.dev_hast))}",
        f"hast_conf = {q(str(paths.hast_conf))}",
        f"state_dir = {q(str(paths.carpswitch_state_dir))}",
        f"run_dir = {q(str(paths.carpswitch_run_dir))}",
        f"devd_conf = {q(str(paths.devd_conf))}",
        f"rc_conf_d = {q(str(paths.rc_conf_d))}",
        f"loader_conf_d = {q(str(paths.loader_conf_d))}",
        f"ctl_conf = {q(str(paths.ctl_conf))}",
        # a cluster node has a devd of its own (carpswitch.lab.cluster.devd)
        *(
            [f"devd_socket = {q(str(paths.var_run / 'devd.seqpacket.pipe'))}"]
            if facts.netns
            else []
        ),
        "",
        "[commands]",
        *(f"{name} = {q(str(paths.command(name)))}" for name in controller_commands(facts)),
        "",
    ]
    if facts.metrics_dir is not None:
        lines += ["[metrics]", f"dir = {q(facts.metrics_dir)}", ""]
    if facts.guards and facts.resources:  # shared: an empty node gets it from set-up
        lines += guards_section(facts.witnesses)
    for resource in facts.resources:
        lines += ["[[resource]]", f"name = {q(resource.name)}", f"kind = {q(resource.kind)}"]
        if resource.mountpoint is not None:
            lines.append(f"mountpoint = {q(resource.mountpoint)}")
        if resource.pool is not None:
            lines.append(f"pool = {q(resource.pool)}")
        lines.append("")
    if not facts.resources:  # an empty node: only the node-local sections (set-up adds the rest)
        return "\n".join(lines)
    lines += [
        "[[group]]",
        'name = "storage"',
        f"vhid = {facts.vhid}",
        f"interface = {q(facts.interface)}",
        f"resources = [{', '.join(q(r.name) for r in facts.resources)}]",
        f"services = [{', '.join(q(s) for s in facts.services)}]",
        "",
    ]
    return "\n".join(lines)


#: The lab's [guards] beyond the witnesses: short periods, so that tests see them act.
#: watchdog 8 s: longer than daemon(8)'s -R 5 restart of a killed daemon and its start-up,
#: so only a host whose daemon stays dead or frozen is reset.
LAB_GUARDS = {
    "self_fence": "true",
    "peer_view": "true",
    "interval": "1.0",
    "witness_grace": "3.0",
    "watchdog": "8",
}


def guards_section(witnesses: Sequence[str]) -> list[str]:
    """[guards] as the lab recommends it: fence on a lost witness, ask the peer."""
    return [
        "[guards]",
        f"witnesses = [{', '.join(json.dumps(w) for w in witnesses)}]",
        *(f"{key} = {value}" for key, value in LAB_GUARDS.items()),
        "",
    ]


def _cluster_paths(facts: NodeFacts) -> list[str]:
    """A cluster node has a devd of its own (carpswitch.lab.cluster.devd) and its socket."""
    if facts.netns is None:
        return []
    socket = facts.node_paths.var_run / "devd.seqpacket.pipe"
    return [f"devd_socket = {json.dumps(str(socket))}"]


def shim_script(command: str, paths: NodePaths) -> str:
    """The executable DIR/bin/<command>: note the start time, hand over to lab.shim."""
    return (
        f"#!{sys.executable}\n"
        f"# {command} of the carpswitch lab node {paths.root} (simulated FreeBSD)\n"
        "import time\n"
        "started = (time.time(), time.monotonic())\n"
        "import sys\n"
        "from carpswitch.lab.shim import main\n"
        f"sys.exit(main({command!r}, {str(paths.root)!r}, started=started))\n"
    )


def write_layout(
    facts: NodeFacts, carp_state: str, listen_port: int, disabled_services: Sequence[str] = ()
) -> None:
    """Create the directories, files, shims and initial state of a new node."""
    paths = facts.node_paths
    for directory in paths.directories():
        directory.mkdir(parents=True, exist_ok=True)
    for pool in facts.local_pools:
        (paths.dev_zvol / pool).mkdir(exist_ok=True)
    if facts.metrics_dir is not None:
        os.makedirs(facts.metrics_dir, exist_ok=True)
    for resource in facts.resources:
        with paths.disk(resource.name).open("wb") as disk:
            disk.truncate(DISK_SIZE)
        if resource.mountpoint is not None:
            os.makedirs(resource.mountpoint, exist_ok=True)
    paths.hast_conf.write_text(hast_conf_text(facts, listen_port))
    paths.config.write_text(lab_config_text(facts))
    write_ctl_conf(facts)
    scripts = {command: shim_script(command, paths) for command in SHIM_COMMANDS}
    scripts["carpswitch"] = carpswitch_wrapper(paths)
    if facts.netns is not None:
        scripts["ssh"] = ssh_wrapper(facts.netns)
    executables = {paths.command(command): text for command, text in scripts.items()}
    hook = inside_node(paths.root, DEFAULT_HAST_EXEC)
    executables[Path(hook)] = hast_event_wrapper(paths)
    for script, text in executables.items():
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(text)
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    _write_initial_state(facts, carp_state, disabled_services)


def _write_initial_state(
    facts: NodeFacts, carp_state: str, disabled_services: Sequence[str]
) -> None:
    store = StateStore(facts.node_paths)
    with store.locked():
        store.write(_network(facts, carp_state))
        store.write(boot_sysctls(facts))
        store.write(_filesystems(facts.resources))
        store.write(_pools(facts))
        store.write(
            ServiceState(
                services={
                    s: ServiceRecord(enabled=s not in disabled_services) for s in facts.services
                }
            )
        )
        store.write(
            HastKnobState(
                resources={
                    r.name: ResourceKnobs(resuid=random.getrandbits(63)) for r in facts.resources
                }
            )
        )


def _network(facts: NodeFacts, carp_state: str) -> NetworkState:
    last_octet = int(facts.address.rsplit(".", 1)[1])
    vhid = Vhid(
        vhid=facts.vhid,
        state=carp_state,
        advskew=0 if facts.name < facts.peer else 100,
        address=facts.vip,
    )
    interface = Interface(
        name=facts.interface,
        ether=f"58:9c:fc:00:00:{last_octet:02x}",
        address=facts.address,
        broadcast=facts.address.rsplit(".", 1)[0] + ".255",
        vhids=[vhid] if facts.resources else [],  # an empty node: CARP comes with set-up
    )
    return NetworkState(interfaces=[interface])


def boot_sysctls(facts: NodeFacts, previous: SysctlState | None = None) -> SysctlState:
    """Sysctls as a fresh boot sets them, with a kern.boottime later than `previous`'s."""
    now = time.time_ns() // 1000
    if previous is not None:
        now = max(now, previous.boottime_sec * 1_000_000 + previous.boottime_usec + 1)
    return SysctlState(
        boottime_sec=now // 1_000_000,
        boottime_usec=now % 1_000_000,
        values={
            "kern.hostname": facts.name,
            "kern.hostuuid": facts.hostuuid,
            "kern.hostid": facts.hostid,
            "net.inet.carp.allow": 1,
            "net.inet.carp.preempt": 0,
            "net.inet.carp.log": 1,
            "net.inet.carp.demotion": 0,
            "net.inet.carp.ifdown_demotion_factor": 240,
            "net.inet.carp.senderr_demotion_factor": 240,
            "net.inet.carp.dscp": 56,
        },
    )


def _filesystems(resources: Sequence[ResourceFacts]) -> FileSystemState:
    return FileSystemState(
        filesystems={
            r.name: FileSystem(last_mountpoint=r.mountpoint) for r in resources if r.kind == "ufs"
        }
    )


def _pools(facts: NodeFacts) -> PoolState:
    providers: dict[str, list[str]] = {}
    for resource in facts.resources:
        if resource.kind == "zfs" and resource.pool is not None:
            providers.setdefault(resource.pool, []).append(resource.name)
    return PoolState(
        pools=[
            PoolRecord(
                name=pool,
                guid=random.getrandbits(63),
                providers=names,
                last_hostid=facts.peer_hostid,
                last_hostname=facts.peer,
                last_accessed=time.time() - 3600,
            )
            for pool, names in providers.items()
        ]
    )
