"""`carpswitch check`: every problem with the config, hast.conf and commands, at once.

Beyond what the config rules say about each value, `check` looks for what would break
only at run time: commands and hooks that are not executable, services with no rc.d
script, and a release wait shorter than the peer's worst-case demotion.
"""

from __future__ import annotations

import math

from carpswitch.config import Config, load_config
from carpswitch.context import NodeContext
from carpswitch.engine.budget import plan_budget
from carpswitch.engine.plan import plan_demote
from carpswitch.errors import CommandError, ParseError
from carpswitch.exitcodes import ExitCode
from carpswitch.system.runner import Runner
from carpswitch.topology import Topology


def find_problems(context: NodeContext) -> list[str]:
    """Config vs hast.conf vs the observed CARP set-up vs the commands on disk."""
    config = context.config
    runner = Runner(config.commands)
    problems = _command_problems(config, runner) + _hook_problems(config, runner)
    carp = []
    try:
        carp = context.observer.carp(context.carp_interfaces())
    except (CommandError, ParseError) as exc:
        problems.append(f"cannot read CARP state: {exc}")
    topology = context.topology(carp)
    problems += topology.problems
    for group in topology.groups:
        if not any(v.vhid == group.vhid and group.interface in (None, v.interface) for v in carp):
            where = f" on {group.interface}" if group.interface else ""
            problems.append(
                f"group {group.name!r}: CARP vhid {group.vhid}{where} is not configured"
            )
    if not topology.groups:
        problems.append("no group: configure a CARP vhid or a [[group]]")
    if runner.is_runnable("service"):
        problems += _service_problems(context, topology)
    return problems + _release_problems(config, topology)


def _command_problems(config: Config, runner: Runner) -> list[str]:
    needed = ["hastctl", "ifconfig", "sysctl", "service"]
    kinds = {r.kind for r in config.resource}
    if "ufs" in kinds:
        needed += ["fsck", "mount", "umount"]
    if "zfs" in kinds:
        needed += ["zpool", "zfs"]
    return [
        f"command {name}: {runner.path_of(name)} is not an executable file"
        for name in needed
        if not runner.is_runnable(name)
    ]


def _hook_problems(config: Config, runner: Runner) -> list[str]:
    """A hook that cannot run fails every promotion (pre_promote) or every report."""
    hooks = {"pre_promote": config.hooks.pre_promote, "notify": config.hooks.notify}
    return [
        f"hooks.{key}: {path} is not an executable file"
        for key, path in hooks.items()
        if path is not None and not runner.is_runnable(path)
    ]


def _service_problems(context: NodeContext, topology: Topology) -> list[str]:
    """Each group's services as rc.d answers for them (`does not exist` for a typo)."""
    problems = []
    for group in topology.groups:
        for name in group.services:
            try:
                context.observer.service(name)
            except (CommandError, ParseError) as exc:
                problems.append(f"group {group.name!r}: service {name}: {exc}")
    return problems


def _release_problems(config: Config, topology: Topology) -> list[str]:
    """The release wait must outlast the peer's demotion of the same group, at worst."""
    release = config.timeouts.release
    problems = []
    for group in topology.groups:
        budget = plan_budget(plan_demote(topology, group), config.timeouts)
        if release >= budget.total:
            continue
        parts = [f"services {budget.before:g} s"] if budget.before else []
        if budget.slowest_resource is not None:
            parts.append(f"resource {budget.slowest_resource} {budget.slowest_chain:g} s")
        problems.append(
            f"timeouts.release: {release:g} s is shorter than the peer's worst-case demotion "
            f"of group {group.name!r} ({budget.total:g} s: {', '.join(parts)}); "
            f"raise it to at least {math.ceil(budget.total)}"
        )
    return problems


def run_check(config_path: str | None) -> int:
    """Print every problem; exit 0 when none, 78 (EX_CONFIG) otherwise."""
    config = load_config(config_path)
    problems = find_problems(NodeContext(config))
    for problem in problems:
        print(f"carpswitch: {problem}")
    if not problems:
        print("carpswitch: configuration OK")
    return ExitCode.CONFIG if problems else ExitCode.OK
