"""What the devd hook needs from carpswitch.toml, read and checked with the standard library.

The hook must not import pydantic (carpswitch.config), yet it must not hand an event to a
worker that will refuse the config: nobody would see that worker's error, and the event
would wait forever. So it runs the same rules as carpswitch.config (config_rules, a pure
function of the parsed TOML) over the whole file, and fails itself when they find a
problem. Then it takes run_dir, state_dir and the configured vhids from the TOML.

That validation is done once per version of the file: its result is kept in run_dir,
keyed by the file's identity (carpswitch.intake.summary), and the TOML is decoded and
checked again only when the file (or the rules) changed. The StrictModes checks of the
config, run_dir and state_dir run at every call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from carpswitch.errors import ConfigError
from carpswitch.intake.summary import (
    Summary,
    identity_of,
    load_summary,
    named_run_dir,
    save_summary,
)
from carpswitch.intake.vhids import EVERY_VHID, ConfiguredVhids
from carpswitch.strictmodes import check_private_dir
from carpswitch.tomlfile import parse_toml, read_config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from carpswitch.records import NamedTuple  # typing costs the hook ~14 ms

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
    #: The summary of a config this call validated, to keep for the next (`keep_validated`).
    validated: Summary | None = None


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
    found = read_config(path, missing_ok=path == DEFAULT_CONFIG_PATH)
    if found is None:
        settings = HookSettings(None, DEFAULT_RUN_DIR, DEFAULT_STATE_DIR)
    else:
        raw, status = found
        config = os.path.abspath(path)
        summary = load_summary(named_run_dir(raw, DEFAULT_RUN_DIR), config, status)
        validated = None
        if summary is None:
            summary = validated = _validate(raw, path, config, status)
        settings = HookSettings(
            config, summary.run_dir, summary.state_dir, summary.vhids, validated
        )
    check_private_dir(settings.run_dir)
    check_private_dir(settings.state_dir)
    return settings


def keep_validated(settings: HookSettings) -> None:
    """Keep the summary of a config just validated in its run_dir, once that exists."""
    if settings.validated is not None:
        save_summary(settings.validated)


def _validate(raw: bytes, path: str, config: str, status: os.stat_result) -> Summary:
    """Decode and check the whole config (the worker's rules); raise ConfigError."""
    from carpswitch.config_rules import config_problems  # re and all: only when it changed

    data = parse_toml(raw, path)
    problems = config_problems(data)
    if problems:
        raise ConfigError(path, problems)
    paths = data.get("paths", {})
    return Summary(
        config,
        identity_of(status),
        str(paths.get("run_dir", DEFAULT_RUN_DIR)),
        str(paths.get("state_dir", DEFAULT_STATE_DIR)),
        ConfiguredVhids.of_groups(data.get("group", [])),
    )
