"""bench/baseline/carp-hast-switch runs the Handbook's steps, in its order, with its sleeps.

The script runs under sh with stub commands first on PATH; each stub logs its argv (sleep
too, without sleeping), so the test reads the exact sequence the Handbook prescribes.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "bench" / "baseline" / "carp-hast-switch"

STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
"""
#: pgrep finds the old primary's session twice, then it is gone.
PGREP = """#!/bin/sh
echo "pgrep $*" >> "{log}"
n=$(cat "{dir}/pgrep.count" 2>/dev/null || echo 0)
echo $((n + 1)) > "{dir}/pgrep.count"
[ "$n" -lt 2 ]
"""
#: `mount` lists r1 as mounted (and r2 not).
MOUNT = """#!/bin/sh
echo "mount $*" >> "{log}"
[ $# -eq 0 ] && echo "{dev}/r1 on {mnt}/r1 (ufs, local)"
exit 0
"""


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    stubs, dev, mnt = tmp_path / "bin", tmp_path / "dev", tmp_path / "mnt"
    for directory in (stubs, dev, mnt):
        directory.mkdir()
    log = tmp_path / "log"
    texts = dict.fromkeys(("hastctl", "fsck", "umount", "logger", "sleep"), STUB)
    texts.update(pgrep=PGREP, mount=MOUNT)
    for name, text in texts.items():
        path = stubs / name
        path.write_text(text.format(log=log, dir=tmp_path, dev=dev, mnt=mnt))
        path.chmod(0o755)
    return {"bin": stubs, "dev": dev, "mnt": mnt, "log": log}


def run(world: dict[str, Path], verb: str) -> list[str]:
    env = {
        **os.environ,
        "PATH": f"{world['bin']}:{os.environ['PATH']}",
        "HANDBOOK_RESOURCES": "r1 r2",
        "HANDBOOK_DEV_HAST": str(world["dev"]),
        "HANDBOOK_MOUNT_ROOT": str(world["mnt"]),
        "HANDBOOK_PROVIDER_TEST": "-e",
    }
    result = subprocess.run(["sh", str(SCRIPT), verb], env=env, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return world["log"].read_text().splitlines()


def test_master_waits_for_secondaries_switches_roles_then_checks_and_mounts(world):
    for name in ("r1", "r2"):
        (world["dev"] / name).touch()
    dev, mnt = world["dev"], world["mnt"]
    steps = [line for line in run(world, "master") if not line.startswith("logger")]
    assert steps == [
        "sleep 3",
        r"pgrep -lf hastd: r1 \(secondary\)",
        "sleep 1",
        r"pgrep -lf hastd: r1 \(secondary\)",
        "sleep 1",
        r"pgrep -lf hastd: r1 \(secondary\)",
        "hastctl role primary r1",
        r"pgrep -lf hastd: r2 \(secondary\)",
        "hastctl role primary r2",
        f"fsck -p -y -t ufs {dev}/r1",
        f"mount {dev}/r1 {mnt}/r1",
        f"fsck -p -y -t ufs {dev}/r2",
        f"mount {dev}/r2 {mnt}/r2",
    ]
    assert (mnt / "r1").is_dir() and (mnt / "r2").is_dir()  # mkdir -p


def test_master_polls_for_a_late_provider_every_half_second(world):
    (world["dev"] / "r1").touch()
    (world["bin"] / "hastctl").write_text(
        f'#!/bin/sh\necho "hastctl $*" >> "{world["log"]}"\n'
        f'[ "$4" = r2 ] || exit 0\n: > "{world["dev"]}/r2.later"\n'
    )
    (world["bin"] / "sleep").write_text(  # the provider appears during the second poll
        f'#!/bin/sh\necho "sleep $*" >> "{world["log"]}"\n'
        f'[ "$1" = 0.5 ] && grep -c "sleep 0.5" "{world["log"]}" | grep -q 2 '
        f'&& : > "{world["dev"]}/r2"\nexit 0\n'
    )
    steps = run(world, "master")
    assert steps.count("sleep 0.5") == 2
    assert steps.index("sleep 0.5") > steps.index("hastctl role primary r2")


def test_slave_unmounts_what_is_mounted_sleeps_then_switches_each_to_secondary(world):
    mnt = world["mnt"]
    steps = [line for line in run(world, "slave") if not line.startswith("logger")]
    assert steps == [
        "mount ",
        f"umount -f {mnt}/r1",
        "sleep 3",
        "hastctl role secondary r1",
        "mount ",
        "sleep 3",
        "hastctl role secondary r2",
    ]


def test_a_failed_role_change_stops_the_script(world):
    (world["bin"] / "hastctl").write_text("#!/bin/sh\nexit 1\n")
    env = {**os.environ, "PATH": f"{world['bin']}:{os.environ['PATH']}", "HANDBOOK_DELAY": "0"}
    result = subprocess.run(["sh", str(SCRIPT), "master"], env=env, capture_output=True)
    assert result.returncode == 1
    assert "fsck" not in world["log"].read_text()
