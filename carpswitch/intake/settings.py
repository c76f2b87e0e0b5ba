"""What the devd hook needs from carpswitch.toml, read and checked with the standard library.

The hook must not import pydantic (carpswitch.config), yet it must not hand an event to a
worker that will refuse the config: nobody would see that worker's error, and the event
would wait forever. So it runs the same rules as carpswitch.config (config_rules, a pure
function of the parsed TOML) over the whole file, and fails itself when they find a
problem. Then it takes run_dir, state_dir and the configured vhids from the TOML.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from carpswitch.config_rules import config_problems
from carpswitch.errors import ConfigError
from carpswitch.intake.vhids import EVERY_VHID, ConfiguredVhids
from carpswitch.strictmodes import check_private_dir
from carpswitch.tomlfile import read_toml

# The same values as carpswitch.config (a unit test keeps them equal).
DEFAULT_CONFIG_PATH = "/usr/local/etc/carpswitch.toml"
CONFIG_ENV = "CARPSWITCH_CONFIG"
DEFAULT_RUN_DIR = "/var/run/carpswitch"
DEFAULT_STATE_DIR = "/var/db/carpswitch"


class HookSettings(NamedTuple):
    """Where the hook records events and finds the daemon, and the config to hand on."""

    config_path: str | None  # None: the default file does not exist (hast.conf alone)
    run_dir: str
    state_dir: str
    vhids: ConfiguredVhids = EVERY_VHID


def config_path(explicit: str | None, environ: Mapping[str, str] | None = None) -> str:
    """Which config file to read: -c PATH, else $CARPSWITCH_CONFIG, else the default.

    An explicit empty path stays empty (and is refused): `-c ''` is not the default file.
    """
    env = os.environ if environ is None else environ
    if explicit is not None:
        return explicit
    return env.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH


def read_hook_settings(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> HookSettings:
    """run_dir, state_dir and the groups' vhids of a config that passes every rule.

    Raises ConfigError for a missing explicit file, a file that is not a regular UTF-8
    TOML file, or any problem `carpswitch check` would report about the values, and
    UnsafePath (a ConfigError) for a config, run_dir or state_dir another user can change.
    """
    path = config_path(explicit, environ)
    data = read_toml(path, missing_ok=path == DEFAULT_CONFIG_PATH)
    if data is None:
        settings = HookSettings(None, DEFAULT_RUN_DIR, DEFAULT_STATE_DIR)
    else:
        problems = config_problems(data)
        if problems:
            raise ConfigError(path, problems)
        paths = data.get("paths", {})
        settings = HookSettings(
            os.path.abspath(path),
            str(paths.get("run_dir", DEFAULT_RUN_DIR)),
            str(paths.get("state_dir", DEFAULT_STATE_DIR)),
            ConfiguredVhids.of_groups(data.get("group", [])),
        )
    check_private_dir(settings.run_dir)
    check_private_dir(settings.state_dir)
    return settings
