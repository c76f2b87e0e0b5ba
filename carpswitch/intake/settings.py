"""The few settings the devd hook needs, read with the standard library only.

The hook must not import pydantic (carpswitch.config), so it reads `[paths]` run_dir and
state_dir from the TOML itself and leaves full validation to the worker it starts.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from typing import NamedTuple

from carpswitch.errors import ConfigError
from carpswitch.strictmodes import check_config_file, check_private_dir

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


def config_path(explicit: str | None, environ: Mapping[str, str] | None = None) -> str:
    """Which config file to read: -c PATH, else $CARPSWITCH_CONFIG, else the default."""
    env = os.environ if environ is None else environ
    return explicit or env.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH


def read_hook_settings(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> HookSettings:
    """run_dir and state_dir from the config's `[paths]`, defaults where absent.

    Raises ConfigError for a missing explicit file, bad TOML or a non-string path, and
    UnsafePath (a ConfigError) for a config, run_dir or state_dir another user can change.
    """
    path = config_path(explicit, environ)
    try:
        check_config_file(path)
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        if path == DEFAULT_CONFIG_PATH:
            check_private_dir(DEFAULT_RUN_DIR)
            check_private_dir(DEFAULT_STATE_DIR)
            return HookSettings(None, DEFAULT_RUN_DIR, DEFAULT_STATE_DIR)
        raise ConfigError(path, ["no such file"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from exc
    except OSError as exc:
        raise ConfigError(path, [f"cannot read: {exc.strerror}"]) from exc
    paths = data.get("paths", {})
    if not isinstance(paths, dict):
        raise ConfigError(path, ["paths: expected a table"])
    run_dir = _path_value(paths, "run_dir", DEFAULT_RUN_DIR, path)
    state_dir = _path_value(paths, "state_dir", DEFAULT_STATE_DIR, path)
    check_private_dir(run_dir)
    check_private_dir(state_dir)
    return HookSettings(os.path.abspath(path), run_dir, state_dir)


def _path_value(paths: Mapping[str, object], key: str, default: str, path: str) -> str:
    value = paths.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(path, [f"paths.{key}: expected a non-empty string"])
    return value
