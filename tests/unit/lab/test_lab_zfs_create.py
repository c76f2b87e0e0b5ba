"""The zfs shim's volume subset: create -V, list -H -o name, get -Hp -o value volsize."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from carpswitch.lab.commands import zfs
from carpswitch.lab.context import ShimContext
from tests.unit.lab.nodefacts import node_facts, run_shim


def _ctx(root: Path, pools: tuple[str, ...] = ("tank",)) -> ShimContext:
    facts = node_facts(root, pools)
    for pool in pools:
        (facts.node_paths.dev_zvol / pool).mkdir(parents=True)
    return ShimContext(facts, out=io.StringIO(), err=io.StringIO())


def _run(ctx: ShimContext, *args: str) -> tuple[int, str, str]:
    return run_shim(zfs.run, ctx, *args)


@pytest.mark.parametrize(
    ("text", "size"),
    [("10G", 10 << 30), ("512M", 512 << 20), ("1.5T", 3 << 39), ("4096", 4096), ("1KB", 1024)],
)
def test_parse_size_reads_zfs_sizes(text: str, size: int) -> None:
    assert zfs.parse_size(text) == size


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("10X", "invalid numeric suffix 'X'"),
        ("G", "bad numeric value 'G'"),
        ("", "bad numeric value ''"),
    ],
)
def test_parse_size_gives_libzfs_reasons(text: str, reason: str) -> None:
    with pytest.raises(zfs.SizeError, match=reason):
        zfs.parse_size(text)


def test_create_makes_a_sparse_volume_that_list_and_get_see(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path / "n")
    assert _run(ctx, "list", "-H", "-o", "name", "tank/v") == (
        1,
        "",
        "cannot open 'tank/v': dataset does not exist\n",
    )
    assert _run(ctx, "create", "-V", "10G", "tank/v") == (0, "", "")
    volume = ctx.paths.zvol("tank/v")
    assert volume.stat().st_size == 10 << 30
    assert volume.stat().st_blocks == 0  # sparse
    assert _run(ctx, "list", "-H", "-o", "name", "tank/v") == (0, "tank/v\n", "")
    assert _run(ctx, "get", "-Hp", "-o", "value", "volsize", "tank/v") == (0, "10737418240\n", "")
    assert _run(ctx, "get", "-Hp", "-o", "value", "volsize", "tank") == (0, "-\n", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "-V", "1G", "zroot/v"), "cannot create 'zroot/v': no such pool 'zroot'\n"),
        (
            ("create", "-s", "-V", "1Q", "tank/v"),
            "bad volume size '1Q': invalid numeric suffix 'Q'\n",
        ),
        (("create", "-V", "1G", "tank/a/v"), "cannot create 'tank/a/v': parent does not exist\n"),
        (
            ("get", "-Hp", "-o", "value", "volsize", "tank/w"),
            "cannot open 'tank/w': dataset does not exist\n",
        ),
    ],
)
def test_failures_print_zfs_texts_and_exit_1(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    ctx = _ctx(tmp_path / "n")
    assert _run(ctx, *args) == (1, "", message)
    assert list(ctx.paths.dev_zvol.rglob("*")) == [ctx.paths.dev_zvol / "tank"]  # nothing made


def test_create_refuses_an_existing_volume_and_keeps_it(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path / "n")
    assert _run(ctx, "create", "-V", "1M", "tank/v")[0] == 0
    ctx.paths.zvol("tank/v").write_bytes(b"data")
    assert _run(ctx, "create", "-V", "2M", "tank/v") == (
        1,
        "",
        "cannot create 'tank/v': dataset already exists\n",
    )
    assert ctx.paths.zvol("tank/v").read_bytes() == b"data"


def test_create_without_size_is_a_usage_error(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path / "n")
    status, _, err = _run(ctx, "create", "tank/v")
    assert status == zfs.EX_USAGE and err.startswith("usage:")
