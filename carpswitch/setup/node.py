"""The per-node part of set-up: observe this node, plan what differs, apply the plan.

`plan_node` compares render_node's files with the disk and observes the node (is the zvol
there, has the provider HAST metadata, does hastd run, which role has each resource) to
list the commands, in the order they must run: `zfs create` of a missing zvol, the files,
`hastctl create` where there is no metadata, hastd started (or reloaded, SIGHUP: rc.d/hastd
has `extra_commands="reload"`; a restart would set every resource to init, a primary too),
`hastctl role secondary` where a resource is init. A read that fails is an error, never a
reason to act; the two commands that could hurt (create over metadata, a role change of a
primary) are checked again right before they run. A second plan after apply is empty.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from carpswitch.config import ClusterResource, Config
from carpswitch.errors import CommandError, CommandFailed, one_line
from carpswitch.model import HastRole
from carpswitch.parse.hastctl import parse_hastctl_status
from carpswitch.parse.service import parse_service_status
from carpswitch.setup.files import FileChange, SetupError, changes, write_file
from carpswitch.setup.render import cluster_of, render_node
from carpswitch.system.runner import CommandRunner

#: How long hastd may take, once started, to answer on its control socket.
HASTD_UP_WAIT = 10.0


@dataclass(frozen=True)
class Command:
    """One command of a plan, with the reason it is needed."""

    argv: tuple[str, ...]
    why: str

    @property
    def line(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True)
class NodePlan:
    """What set-up would change on one node: files (with diffs) and commands, in order."""

    host: str
    files: tuple[FileChange, ...]
    commands: tuple[Command, ...]

    @property
    def empty(self) -> bool:
        return not self.files and not self.commands


class Metadata:
    """What `hastctl dump NAME` says about a resource's provider."""

    PRESENT = "present"
    ABSENT = "absent"  # no valid metadata: hastctl create writes it
    UNKNOWN = "unknown"  # hast.conf does not name it yet: asked again after the files


def zvol_exists(runner: CommandRunner, dataset: str, timeout: float) -> bool:
    """`zfs list -H -o name DATASET`: exit 1 "dataset does not exist" is the only "no"."""
    try:
        result = runner.run("zfs", "list", "-H", "-o", "name", dataset, timeout=timeout)
    except CommandFailed as exc:
        if exc.exit_status == 1 and "dataset does not exist" in exc.stderr:
            return False
        raise SetupError(f"cannot tell whether zvol {dataset} exists: {exc}") from exc
    except CommandError as exc:
        raise SetupError(f"cannot tell whether zvol {dataset} exists: {exc}") from exc
    return result.stdout.strip() == dataset


def hast_metadata(runner: CommandRunner, name: str, timeout: float) -> str:
    """PRESENT, ABSENT (metadata.c: "Metadata read from P is invalid") or UNKNOWN."""
    try:
        runner.run("hastctl", "dump", name, timeout=timeout)
    except CommandFailed as exc:
        if "is invalid" in exc.stderr and "Metadata read from" in exc.stderr:
            return Metadata.ABSENT
        if "Unknown resource" in exc.stderr or "Unable to open configuration" in exc.stderr:
            return Metadata.UNKNOWN
        raise SetupError(f"cannot read HAST metadata of {name}: {one_line(str(exc))}") from exc
    except CommandError as exc:
        raise SetupError(f"cannot read HAST metadata of {name}: {one_line(str(exc))}") from exc
    return Metadata.PRESENT


def hastd_running(runner: CommandRunner, timeout: float) -> bool:
    """`service hastd onestatus` (rc.subr): running, not running, or a SetupError."""
    try:
        result = runner.run("service", "hastd", "onestatus", timeout=timeout, ok_codes=(0, 1))
        return parse_service_status("hastd", result.stdout, result.exit_status).running
    except Exception as exc:  # CommandError or ParseError: never read as "not running"
        raise SetupError(f"cannot tell whether hastd runs: {one_line(str(exc))}") from exc


def hast_roles(runner: CommandRunner, timeout: float) -> dict[str, HastRole | None]:
    """Role of each resource the running hastd knows (`hastctl status`)."""
    try:
        result = runner.run("hastctl", "status", timeout=timeout)
        return {r.name: r.role for r in parse_hastctl_status(result.stdout)}
    except Exception as exc:
        raise SetupError(f"cannot read HAST roles: {one_line(str(exc))}") from exc


def plan_node(config: Config, host: str, config_file: str, runner: CommandRunner) -> NodePlan:
    """Compare what set-up renders for `host` with this node; nothing is changed."""
    cluster = cluster_of(config)
    observe = config.timeouts.observe
    files = changes(render_node(config, host, config_file))
    first: list[Command] = []
    created: set[str] = set()
    for resource in cluster.resource:
        if resource.zvol is not None and not zvol_exists(runner, resource.zvol, observe):
            argv = ("zfs", "create", "-V", str(resource.size), resource.zvol)
            first.append(Command(argv, f"the provider of {resource.name} is missing"))
            created.add(resource.name)
    after: list[Command] = []
    running = hastd_running(runner, observe)
    for resource in cluster.resource:
        state = Metadata.ABSENT if resource.name in created else None
        if state is None:
            state = hast_metadata(runner, resource.name, observe)
        if state == Metadata.ABSENT:
            after.append(Command(("hastctl", "create", resource.name), "no HAST metadata yet"))
        elif state == Metadata.UNKNOWN:
            why = "new in hast.conf (only if hastctl dump then finds no metadata)"
            after.append(Command(("hastctl", "create", resource.name), why))
    hast_conf_changes = any(change.file.path == config.paths.hast_conf for change in files)
    roles: dict[str, HastRole | None] = {}
    if not running:
        after.append(Command(("service", "hastd", "onestart"), "hastd is not running"))
    else:
        roles = hast_roles(runner, observe)
        if hast_conf_changes:
            why = "hast.conf changed: hastd re-reads it on SIGHUP"
            after.append(Command(("service", "hastd", "onereload"), why))
    for resource in cluster.resource:
        role = roles.get(resource.name)
        if role is None or role == HastRole.INIT:
            why = "set-up leaves every resource secondary; carpswitch promotes the CARP master"
            after.append(Command(("hastctl", "role", "secondary", resource.name), why))
    return NodePlan(host, files, tuple(first) + tuple(after))


def apply_node(config: Config, plan: NodePlan, runner: CommandRunner) -> list[str]:
    """Run `plan`: its first commands (zvols), the files, the rest; what was done, by line."""
    done: list[str] = []
    zvols = [c for c in plan.commands if c.argv[:2] == ("zfs", "create")]
    rest = [c for c in plan.commands if c.argv[:2] != ("zfs", "create")]
    for command in zvols:
        _run(config, runner, command)
        done.append(command.line)
    for change in plan.files:
        write_file(change.file, change.old_text)
        done.append(f"wrote {change.file.path}")
    for command in rest:
        if _still_needed(config, runner, command):
            _run(config, runner, command)
            done.append(command.line)
    return done


def _still_needed(config: Config, runner: CommandRunner, command: Command) -> bool:
    """Create only over absent metadata; set a role only on an init resource."""
    observe = config.timeouts.observe
    if command.argv[:2] == ("hastctl", "create"):
        return hast_metadata(runner, command.argv[2], observe) == Metadata.ABSENT
    if command.argv[:3] == ("hastctl", "role", "secondary"):
        return _wait_for_role(runner, command.argv[3], observe) == HastRole.INIT
    return True


def _wait_for_role(runner: CommandRunner, name: str, timeout: float) -> HastRole | None:
    """The resource's role once hastd knows it: a start, and a reload (SIGHUP), are
    asynchronous, so a `role` right after them would find no such resource (error 1)."""
    deadline = time.monotonic() + HASTD_UP_WAIT
    while True:
        try:
            role = hast_roles(runner, timeout).get(name)
        except SetupError:
            if time.monotonic() >= deadline:
                raise
            role = None
        if role is not None:
            return role
        if time.monotonic() >= deadline:
            raise SetupError(
                f"hastd does not know resource {name} {HASTD_UP_WAIT:g} s after it was told"
            )
        time.sleep(0.1)


def _run(config: Config, runner: CommandRunner, command: Command) -> None:
    timeouts = config.timeouts
    limit = timeouts.service if command.argv[0] == "service" else timeouts.role
    if command.argv[0] == "zfs":
        limit = timeouts.import_
    try:
        runner.run(*command.argv, timeout=limit)
    except CommandError as exc:
        raise SetupError(one_line(str(exc))) from exc


def resource_of(config: Config, name: str) -> ClusterResource | None:
    """The `[[cluster.resource]]` called `name`."""
    return next((r for r in cluster_of(config).resource if r.name == name), None)
