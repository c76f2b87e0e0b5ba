"""`carpswitch setup init`: hastconf.sh's values in, a valid carpswitch.toml out."""

from __future__ import annotations

import argparse
import io
import os
import stat
import tomllib

import pytest

from carpswitch.config import parse_config
from carpswitch.setup.init import add_init_arguments, run_init, write_private_file
from carpswitch.setup.render import this_host

HASTCONF_SH = [
    "--remote-host", "hastb",
    "--remote-ip", "198.18.0.2",
    "--carp-ip", "198.18.0.100/24",
    "--remote-poolname", "tank",
    "--vol-path", "hastvol",
    "--vol-size", "10G",
    "--hastvol-name", "hastvol",
]  # fmt: skip
IMPLICIT = ["--local-host", "hasta", "--local-ip", "198.18.0.1", "--interface", "vtnet0"]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_init_arguments(parser)
    return parser.parse_args(argv)


class Run:
    def __init__(self, tmp_path, argv, *, interactive=False, answers="", name="carpswitch.toml"):
        self.path = tmp_path / name
        self.stdout, self.stderr = io.StringIO(), io.StringIO()
        self.status = run_init(
            parse(argv),
            config_file=str(self.path),
            interactive=interactive,
            stdin=io.StringIO(answers),
            stdout=self.stdout,
            stderr=self.stderr,
        )
        self.out, self.err = self.stdout.getvalue(), self.stderr.getvalue()

    def config(self):
        return parse_config(tomllib.loads(self.path.read_text()))


@pytest.fixture(autouse=True)
def hostname(monkeypatch):
    monkeypatch.setattr("socket.gethostname", lambda: "hasta.example.org")


def test_hastconf_sh_values_make_the_whole_file(tmp_path):
    run = Run(tmp_path, [*HASTCONF_SH, *IMPLICIT, "--vhid", "7", "--carp-pass", "s3cret"])
    assert (run.status, run.err) == (0, "")
    config = run.config()
    cluster = config.cluster
    assert cluster is not None
    assert (cluster.interface, cluster.vhid, cluster.address, cluster.password) == (
        "vtnet0", 7, "198.18.0.100/24", "s3cret"
    )  # fmt: skip
    assert [(h.name, h.address) for h in cluster.host] == [
        ("hasta", "198.18.0.1"),
        ("hastb", "198.18.0.2"),
    ]
    [resource] = cluster.resource
    assert (resource.name, resource.zvol, resource.size, resource.iscsi) == (
        "hastvol", "tank/hastvol", "10G", True
    )  # fmt: skip
    assert [(r.name, r.kind.value) for r in config.resource] == [("hastvol", "raw")]
    [group] = config.group
    assert (group.name, group.vhid, group.interface, group.resources, group.services) == (
        "storage", 7, "vtnet0", ["hastvol"], ["ctld"]
    )  # fmt: skip
    assert config.node.name is None  # the host name already says hasta
    assert this_host(config, "hasta.example.org").name == "hasta"
    assert stat.S_IMODE(os.stat(run.path).st_mode) == 0o600
    assert "s3cret" not in run.out  # given, so not printed
    assert run.out.startswith(f"wrote {run.path} (mode 0600)\n")


def test_defaults_local_host_vhid_and_a_generated_password(tmp_path):
    argv = [a for a in [*HASTCONF_SH, *IMPLICIT] if a not in ("--local-host", "hasta")]
    run = Run(tmp_path, argv)
    assert run.status == 0, run.err
    cluster = run.config().cluster
    assert cluster is not None
    assert (cluster.host[0].name, cluster.vhid) == ("hasta", 1)
    assert len(cluster.password) == 16 and cluster.password.isalnum()
    assert f"CARP password (generated, kept in the file): {cluster.password}\n" in run.out
    other = Run(tmp_path, argv, name="other.toml").config().cluster
    assert other is not None and other.password != cluster.password


def test_a_full_pool_path_needs_no_poolname_and_no_iscsi_means_no_ctld(tmp_path):
    argv = [*HASTCONF_SH[:6], "--vol-path", "zroot/hast/vol", *HASTCONF_SH[10:], *IMPLICIT]
    run = Run(tmp_path, [*argv, "--no-iscsi"])
    assert run.status == 0, run.err
    config = run.config()
    assert config.cluster is not None
    assert config.cluster.resource[0].zvol == "zroot/hast/vol"
    assert not config.cluster.resource[0].iscsi
    assert config.group[0].services == []


def test_a_bare_carp_address_is_one_host(tmp_path):
    argv = [*HASTCONF_SH, *IMPLICIT]
    argv[argv.index("--carp-ip") + 1] = "198.18.0.100"
    cluster = Run(tmp_path, argv).config().cluster
    assert cluster is not None and cluster.address == "198.18.0.100/32"


def test_another_local_host_name_goes_into_node_name(tmp_path):
    argv = [*HASTCONF_SH, *IMPLICIT]
    argv[argv.index("--local-host") + 1] = "nodea"
    config = Run(tmp_path, argv).config()
    assert config.node.name == "nodea"
    assert this_host(config, "hasta.example.org").name == "nodea"


def test_hast_exec_and_timeout_are_written_only_when_given(tmp_path):
    plain = Run(tmp_path, [*HASTCONF_SH, *IMPLICIT], name="plain.toml")
    assert (plain.status, plain.err) == (0, "")
    text = plain.path.read_text()
    assert "hast_exec" not in text and "hast_timeout" not in text  # the defaults
    cluster = plain.config().cluster
    assert cluster is not None
    assert (cluster.hast_exec, cluster.hast_timeout) == (
        "/usr/local/sbin/carpswitch-hast-event",
        None,
    )

    chosen = Run(tmp_path, [*HASTCONF_SH, *IMPLICIT, "--hast-exec", "", "--hast-timeout", "5"])
    assert (chosen.status, chosen.err) == (0, "")
    assert 'hast_exec = ""\nhast_timeout = 5\n' in chosen.path.read_text()
    cluster = chosen.config().cluster
    assert cluster is not None
    assert (cluster.hast_exec, cluster.hast_timeout) == ("", 5)


def test_missing_values_are_listed_one_line_each_and_nothing_is_written(tmp_path):
    run = Run(tmp_path, ["--remote-host", "hastb", "--vol-path", "tank/v"])
    assert run.status == 64
    assert run.err.splitlines()[1:] == [
        "  --local-ip (this node's address)",
        "  --remote-ip (the peer's address)",
        "  --carp-ip (the CARP address, ADDR[/LEN])",
        "  --interface (the CARP interface)",
        "  --hastvol-name (the HAST resource's name)",
        "  --vol-size (the zvol's size, e.g. 10G)",
    ]
    assert not run.path.exists()


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--carp-ip", "198.18.0.300/24", "--carp-ip: cluster.address: expected a unicast"),
        ("--vhid", "0", "--vhid: cluster.vhid: expected an integer from 1 to 255, not 0"),
        ("--vhid", "256", "--vhid: cluster.vhid: expected an integer from 1 to 255, not 256"),
        ("--vhid", "one", '--vhid: cluster.vhid: expected an integer from 1 to 255, not "one"'),
        ("--vol-size", "10Q", "--vol-size: cluster.resource[0].size: expected a size"),
        ("--hastvol-name", "on", "--hastvol-name: cluster.resource[0].name: expected a HAST"),
        ("--remote-ip", "198.18.0.1", 'cluster.host: address "198.18.0.1" is given more than'),
        ("--carp-pass", "x" * 21, "--carp-pass: cluster.password: expected a CARP password"),
        ("--hast-timeout", "0", "--hast-timeout: cluster.hast_timeout: expected an integer from"),
        ("--hast-timeout", "3601", "--hast-timeout: cluster.hast_timeout: expected an integer"),
        ("--hast-timeout", "5s", "--hast-timeout: cluster.hast_timeout: expected an int"),
        ("--hast-exec", "hast-hook", "--hast-exec: cluster.hast_exec: expected a program's"),
        ("--hast-exec", "/opt/a hook", "--hast-exec: cluster.hast_exec: expected a program's"),
    ],
)
def test_bad_values_fail_naming_their_option_and_nothing_is_written(
    tmp_path, option, value, problem
):
    argv = [*HASTCONF_SH, *IMPLICIT]
    if option in argv:
        argv[argv.index(option) + 1] = value
    else:
        argv += [option, value]
    run = Run(tmp_path, argv)
    assert run.status == 64
    lines = run.err.splitlines()
    assert any(line.startswith(f"carpswitch setup init: {problem}") for line in lines), lines
    assert len(lines) == 1, lines  # said once, though [[group]] repeats --vhid
    assert not run.path.exists()


def test_in_a_terminal_it_asks_for_each_missing_value_with_its_default(tmp_path):
    answers = "\n198.18.0.1\n198.18.0.2\n198.18.0.100/24\nvtnet0\n\n\nhastvol\ntank/hastvol\n1G\n"
    run = Run(tmp_path, ["--remote-host", "hastb"], interactive=True, answers=answers)
    assert run.status == 0, run.err
    prompts = run.out.split("wrote ")[0].split(": ")[:-1]
    assert prompts == [
        "this node's name in hast.conf (--local-host) [hasta]",
        "this node's address (--local-ip)",
        "the peer's address (--remote-ip)",
        "the CARP address, ADDR[/LEN] (--carp-ip)",
        "the CARP interface (--interface)",
        "the CARP vhid, 1 to 255 (--vhid) [1]",
        "the CARP password (--carp-pass) [generated]",
        "the HAST resource's name (--hastvol-name)",
        "the zvol, VOL or POOL/VOL (--vol-path)",
        "the zvol's size, e.g. 10G (--vol-size)",
    ]
    cluster = run.config().cluster
    assert cluster is not None
    assert (cluster.host[0].name, cluster.host[1].name, cluster.resource[0].size) == (
        "hasta", "hastb", "1G"
    )  # fmt: skip


def test_end_of_input_while_asking_writes_nothing(tmp_path):
    run = Run(tmp_path, [], interactive=True, answers="hasta\n")
    assert run.status == 64
    assert "end of input" in run.err
    assert not run.path.exists()


def test_an_existing_file_is_kept_without_force(tmp_path):
    first = Run(tmp_path, [*HASTCONF_SH, *IMPLICIT])
    before = first.path.read_text()
    again = Run(tmp_path, [*HASTCONF_SH, *IMPLICIT, "--vhid", "9"])
    assert again.status == 78
    assert "exists with shared sections (cluster, group, resource): --force replaces them" in (
        again.err
    )
    assert first.path.read_text() == before
    forced = Run(tmp_path, [*HASTCONF_SH, *IMPLICIT, "--vhid", "9", "--force"])
    assert forced.status == 0, forced.err
    cluster = forced.config().cluster
    assert cluster is not None and cluster.vhid == 9


def test_node_local_sections_of_an_existing_file_are_kept(tmp_path):
    path = tmp_path / "carpswitch.toml"
    path.write_text(
        '[node]\nname = "hasta"\n[paths]\nrc_conf_d = "/lab/a/etc/rc.conf.d"\n'
        '[commands]\nzfs = "/lab/a/bin/zfs"\n'
    )
    argv = [a for a in [*HASTCONF_SH, *IMPLICIT] if a not in ("--local-host", "hasta")]
    run = Run(tmp_path, argv)
    assert run.status == 0, run.err
    config = run.config()
    assert config.node.name == "hasta"
    assert config.paths.rc_conf_d == "/lab/a/etc/rc.conf.d"
    assert config.commands == {"zfs": "/lab/a/bin/zfs"}
    assert config.cluster is not None


def test_an_unreadable_existing_file_needs_force(tmp_path):
    path = tmp_path / "carpswitch.toml"
    path.write_text("this is not toml [")
    run = Run(tmp_path, [*HASTCONF_SH, *IMPLICIT])
    assert run.status == 78
    assert path.read_text() == "this is not toml ["
    assert Run(tmp_path, [*HASTCONF_SH, *IMPLICIT, "--force"]).status == 0


def test_an_unwritable_directory_is_an_io_error(tmp_path):
    run = Run(tmp_path, [*HASTCONF_SH, *IMPLICIT], name="missing/carpswitch.toml")
    assert run.status == 74
    assert "cannot write" in run.err


def test_the_write_is_atomic_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "f.toml"
    path.write_text("old")
    real_fsync = os.fsync
    calls = []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        write_private_file(str(path), "new")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.toml"]
    write_private_file(str(path), "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_the_options_module_imports_no_pydantic():
    import subprocess
    import sys

    code = (
        "import sys, argparse, carpswitch.setup.init as i; i.add_init_arguments("
        "argparse.ArgumentParser()); print(sorted(m for m in sys.modules if 'pydantic' in m))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
