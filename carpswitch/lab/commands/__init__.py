"""The simulated FreeBSD commands, one module each; `run(ctx, args) -> exit status`."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from carpswitch.lab.context import ShimContext

CommandFunction = Callable[[ShimContext, list[str]], int]


class CommandExit(Exception):
    """A command ends here with `code`: errx(3) with `message`, and/or its usage()."""

    def __init__(self, code: int, message: str | None = None, *, usage: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.usage = usage


#: Shim name -> module under carpswitch.lab.commands (imported on demand: shims start fast).
COMMAND_MODULES: dict[str, str] = {
    "hastctl": "hastctl",
    "hastd": "hastd",
    "ifconfig": "ifconfig",
    "sysctl": "sysctl",
    "mount": "mount",
    "umount": "umount",
    "fsck": "fsck",
    "zpool": "zpool",
    "zfs": "zfs",
    "service": "service",
    "ping": "ping",
    "watchdog": "watchdog",
}


def command_function(name: str) -> CommandFunction:
    """The `run` function of the simulated command `name` (KeyError if there is none)."""
    module = importlib.import_module(f"carpswitch.lab.commands.{COMMAND_MODULES[name]}")
    function: CommandFunction = module.run
    return function
