"""What carpswitch's commands import at start: pydantic finds no plugin, looks for none."""

import subprocess
import sys
import textwrap

#: Validates a config and reports, as the last line, the modules of interest it imported.
VALIDATE = textwrap.dedent(
    """
    import sys
    {first}
    from carpswitch.config import parse_config
    assert parse_config({{"node": {{"name": "hasta"}}}}).node.name == "hasta"
    print(sorted(m for m in ("importlib.metadata", "spy_plugin") if m in sys.modules))
    """
)


def _plugin_dir(tmp_path):
    """A distribution on sys.path offering a pydantic plugin, as a real one would."""
    dist = tmp_path / "spy_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: spy-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pydantic]\nspy = spy_plugin:plugin\n")
    (tmp_path / "spy_plugin.py").write_text(
        "class Spy:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        "        return None, None, None\n"
        "plugin = Spy()\n"
    )
    return tmp_path


def _imported(tmp_path, first=""):
    result = subprocess.run(
        [sys.executable, "-c", VALIDATE.format(first=first)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(_plugin_dir(tmp_path)), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


def test_pydantic_loads_no_plugin_and_never_imports_importlib_metadata(tmp_path):
    assert _imported(tmp_path) == "[]"


def test_without_carpswitch_first_pydantic_would_load_the_plugin(tmp_path):
    """The control: pydantic imported before carpswitch keeps its own loader, which scans
    the entry points (and imports the plugin)."""
    first = "from pydantic import BaseModel\nclass Probe(BaseModel):\n    x: int = 0"
    assert _imported(tmp_path, first) == "['importlib.metadata', 'spy_plugin']"
