"""`carpswitch check`: every problem with the config, hast.conf and commands, at once."""

from __future__ import annotations

from carpswitch.config import Config, load_config
from carpswitch.context import NodeContext
from carpswitch.errors import CommandError, ParseError
from carpswitch.exitcodes import ExitCode


def find_problems(context: NodeContext) -> list[str]:
    """Config vs hast.conf vs the observed CARP set-up vs the commands on disk."""
    config = context.config
    problems = _command_problems(config)
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
    return problems


def _command_problems(config: Config) -> list[str]:
    from carpswitch.system.runner import Runner

    needed = ["hastctl", "ifconfig", "sysctl", "service"]
    kinds = {r.kind for r in config.resource}
    if "ufs" in kinds:
        needed += ["fsck", "mount", "umount"]
    if "zfs" in kinds:
        needed += ["zpool", "zfs"]
    runner = Runner(config.commands)
    return [
        f"command {name}: {runner.path_of(name)} is not an executable file"
        for name in needed
        if not runner.is_runnable(name)
    ]


def run_check(config_path: str | None) -> int:
    """Print every problem; exit 0 when none, 78 (EX_CONFIG) otherwise."""
    config = load_config(config_path)
    problems = find_problems(NodeContext(config))
    for problem in problems:
        print(f"carpswitch: {problem}")
    if not problems:
        print("carpswitch: configuration OK")
    return ExitCode.CONFIG if problems else ExitCode.OK
