"""The machine a run was measured on, for RESULTS.md."""

from __future__ import annotations

import datetime
import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path

import carpswitch


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _git(*args: str) -> str:
    result = subprocess.run(
        ["git", *args], capture_output=True, text=True, check=False, cwd=Path(__file__).parent
    )
    return result.stdout.strip()


def bytecode_compiled() -> bool:
    """Whether carpswitch's modules have compiled bytecode next to them."""
    source = carpswitch.__file__
    return source is not None and os.path.exists(importlib.util.cache_from_source(source))


def compile_bytecode() -> None:
    """Compile carpswitch's bytecode, as a real install does (a no-op when it is there).

    Start-up targets hold "with compiled bytecode"; PYTHONDONTWRITEBYTECODE (set here) would
    otherwise make every run of an editable install recompile.
    """
    package = os.path.dirname(carpswitch.__file__ or "")
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True)


def description() -> list[tuple[str, str]]:
    """(what, value) pairs: CPU, cores, RAM, kernel, Python, date, git commit, load."""
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain") else ""
    return [
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("RAM", _ram()),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("date", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("git commit", f"{_git('rev-parse', '--short', 'HEAD')}{dirty}"),
        ("load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg())),
        ("carpswitch bytecode", "compiled" if bytecode_compiled() else "not compiled"),
    ]
