"""The hook's stdlib reading of carpswitch.toml."""

import pytest

from carpswitch import config as full_config
from carpswitch.errors import ConfigError
from carpswitch.intake import settings
from carpswitch.intake.settings import read_hook_settings


def test_defaults_match_the_full_config():
    assert settings.DEFAULT_CONFIG_PATH == full_config.DEFAULT_CONFIG_PATH
    assert settings.CONFIG_ENV == full_config.CONFIG_ENV
    defaults = full_config.PathsSection()
    assert defaults.run_dir == settings.DEFAULT_RUN_DIR
    assert defaults.state_dir == settings.DEFAULT_STATE_DIR


def test_paths_come_from_the_paths_table(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[paths]\nrun_dir = "/x/run"\nstate_dir = "/x/db"\n')
    got = read_hook_settings(str(path), environ={})
    assert (got.config_path, got.run_dir, got.state_dir) == (str(path), "/x/run", "/x/db")


def test_absent_keys_take_the_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[intake]\nsettle = 2\n")
    got = read_hook_settings(str(path), environ={})
    assert got.run_dir == "/var/run/carpswitch"
    assert got.state_dir == "/var/db/carpswitch"


def test_the_environment_names_the_file_when_no_option_does(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[paths]\nrun_dir = "/env/run"\n')
    got = read_hook_settings(None, environ={"CARPSWITCH_CONFIG": str(path)})
    assert got.run_dir == "/env/run"


def test_a_relative_config_path_is_handed_on_absolute(tmp_path, monkeypatch):
    (tmp_path / "c.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    assert read_hook_settings("c.toml", environ={}).config_path == str(tmp_path / "c.toml")


def test_a_missing_explicit_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        read_hook_settings(str(tmp_path / "none.toml"), environ={})


def test_bad_toml_is_a_config_error_naming_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[paths\n")
    with pytest.raises(ConfigError) as caught:
        read_hook_settings(str(path), environ={})
    assert caught.value.path == str(path)
    assert "not valid TOML" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[paths]\nrun_dir = 3\n", "paths.run_dir"),
        ('[paths]\nstate_dir = ""\n', "paths.state_dir"),
        ("paths = 1\n", "paths"),
    ],
)
def test_a_path_that_is_not_a_string_is_a_config_error(tmp_path, text, key):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=key):
        read_hook_settings(str(path), environ={})
