"""An iSCSI client of the lab: numbered, checksummed blocks through qemu-io, and a ledger.

Every block is one 512-byte sector at offset NUMBER * 512, written once, carrying its run,
its number and a SHA-256 of the rest, so a block read back names what it holds. qemu-io
(Debian qemu-utils + qemu-block-extra: the libiscsi driver) runs in the client's network
namespace with qemu's own iSCSI `timeout` at half the call's bound, so a target that does
not answer a login or a command is reported in qemu-io's words before the bound kills it.
`write -f -s FILE` writes the block's exact bytes from a file with Force Unit Access, so
qemu-io's `wrote 512/512 bytes at offset N` means the target has it on stable storage. The
ledger keeps, for every write, whether it was acknowledged and qemu-io's own words;
`check()` reads the blocks back and names every acknowledged one that is not there. A
write that was in flight when a failure hit (failed, or its qemu-io killed at its bound)
may have landed or not: it is not checked. Every call is bounded (the runner kills it).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from carpswitch.errors import CommandError, CommandTimedOut
from carpswitch.lab.cluster.ctl_conf import IQN_PREFIX
from carpswitch.system.runner import Runner

BLOCK_SIZE = 512
#: Blocks read back per qemu-io run (1 MiB: a 4 MiB hex dump).
_READ_CHUNK = 2048
_MAGIC = b"carpswitch-lab-block"
_DIGEST = 32
_WROTE = re.compile(r"^wrote (\d+)/(\d+) bytes at offset (\d+)$")
_RESULT = re.compile(r"^(wrote \d+/\d+ bytes at offset \d+|write failed: .*)$")
_READ = re.compile(r"^read (\d+)/(\d+) bytes at offset (\d+)$")
_DUMP = re.compile(r"^([0-9a-f]{8}):  (.*)$")
_SERIAL = re.compile(r"^Unit Serial Number:\[\s*(.*?)\]$", re.MULTILINE)


class InitiatorError(Exception):
    """qemu-io or iscsi-inq did not answer as expected: the command and its words."""


@dataclass(frozen=True)
class LunAddress:
    """Where a LUN is reached: portal address, target IQN, LUN number."""

    address: str
    iqn: str
    lun: int = 1

    @property
    def url(self) -> str:
        """libiscsi's URL, as iscsi-inq takes it."""
        return f"iscsi://{self.address}/{self.iqn}/{self.lun}"

    def image_opts(self, timeout: int, initiator: str) -> str:
        """qemu's iscsi driver options: the same LUN, with a per-command `timeout` (s)."""
        return (
            f"driver=iscsi,transport=tcp,portal={self.address}:3260,target={self.iqn},"
            f"lun={self.lun},timeout={timeout},initiator-name={initiator}"
        )


@dataclass(frozen=True)
class WriteRecord:
    """One write of the ledger: which block, whether it was acknowledged, and why we think so."""

    number: int
    acknowledged: bool
    #: qemu-io's exit status for the run that carried the write (None: killed at its bound).
    exit_status: int | None
    #: qemu-io's line about this write (`wrote 512/512 bytes at offset 0`, `write failed:
    #: Input/output error`) or what happened instead.
    words: str


@dataclass(frozen=True)
class CheckResult:
    """What reading the ledger's blocks back found."""

    checked: int  # acknowledged blocks compared
    lost: tuple[str, ...]  # one line per acknowledged block not there, naming it
    unacknowledged_landed: int  # writes in flight at a failure that did land

    @property
    def ok(self) -> bool:
        """No acknowledged write is lost."""
        return not self.lost


def block_bytes(run: str, number: int) -> bytes:
    """The 512 bytes of block `number` of `run`: header, filler, SHA-256 of both."""
    header = b"%s run=%s block=%d\n" % (_MAGIC, run.encode(), number)
    seed = hashlib.sha256(header).digest()
    filler = (seed * (BLOCK_SIZE // len(seed) + 1))[: BLOCK_SIZE - _DIGEST - len(header)]
    body = header + filler
    return body + hashlib.sha256(body).digest()


def describe_block(data: bytes) -> str:
    """What a block read back holds, in words (for a lost write's message)."""
    if not data.strip(b"\0"):
        return "zeros"
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if not data.startswith(_MAGIC):
        return "data that is not a carpswitch block"
    if hashlib.sha256(body).digest() != digest:
        return "a carpswitch block with a wrong checksum"
    return body.split(b"\n", 1)[0].decode("ascii", "replace")


def write_results(stdout: str, count: int) -> list[str | None]:
    """qemu-io's result line for each of `count` write commands, in order (None: none)."""
    lines = [line for line in stdout.splitlines() if _RESULT.match(line)]
    return [*lines[:count], *([None] * (count - len(lines)))]


def parse_dump(stdout: str, offset: int, length: int) -> bytes:
    """The bytes of qemu-io's `read -v OFFSET LENGTH` (its hex dump, then `read N/N ...`)."""
    if not any(
        (m := _READ.match(line)) and m[1] == m[2] == str(length) for line in stdout.splitlines()
    ):
        raise InitiatorError(f"qemu-io did not read {length} bytes at offset {offset}: {stdout!r}")
    data = bytearray()
    for line in stdout.splitlines():
        found = _DUMP.match(line)
        if found is None:
            continue
        at = int(found[1], 16)
        if at != offset + len(data):
            raise InitiatorError(f"qemu-io's dump jumps to {at:#x} after {offset + len(data):#x}")
        count = min(16, length - len(data))
        data += bytes.fromhex(" ".join(found[2].split()[:count]))
    if len(data) != length:
        raise InitiatorError(f"qemu-io dumped {len(data)} bytes, not {length}")
    return bytes(data)


def parse_serial(stdout: str) -> str:
    """`iscsi-inq -e 1 -c 128`: the Unit Serial Number (tgt pads it with spaces)."""
    found = _SERIAL.search(stdout)
    if found is None:
        raise InitiatorError(f"iscsi-inq printed no unit serial number: {stdout!r}")
    return found[1]


@dataclass
class Initiator:
    """A client in network namespace `netns` (None: this one) writing to `target`."""

    target: LunAddress
    netns: str | None = None
    #: Bound of one qemu-io or iscsi-inq run (login + commands).
    timeout: float = 10.0
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    ledger: list[WriteRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._runner = Runner(default_timeout=self.timeout)

    def _argv(self, command: str, *args: str) -> list[str]:
        argv = [_which("stdbuf"), "-oL", _which(command), *args]  # lines out as they happen
        if self.netns is None:
            return argv
        return [_which("nsenter"), f"--net=/run/netns/{self.netns}", *argv]

    def _run(
        self, command: str, *args: str, timeout: float | None = None
    ) -> tuple[int | None, str]:
        """(exit status or None if killed at the bound, stdout + stderr)."""
        argv = self._argv(command, *args)
        try:
            result = self._runner.run(argv[0], *argv[1:], timeout=timeout, ok_codes=range(256))
        except CommandTimedOut as exc:
            return None, exc.stdout + exc.stderr
        except CommandError as exc:
            raise InitiatorError(str(exc)) from exc
        return result.exit_status, result.stdout + result.stderr

    def _qemu_io(
        self, commands: list[str], *, read_only: bool = False, timeout: float | None = None
    ) -> tuple[int | None, str]:
        """qemu-io with the LUN: qemu's own iSCSI timeout, half the bound, answers first."""
        bound = self.timeout if timeout is None else timeout
        initiator = f"{IQN_PREFIX}:initiator-{self.run}"
        opts = self.target.image_opts(max(1, int(bound / 2)), initiator)
        flags = ["-r"] if read_only else []
        return self._run("qemu-io", "--image-opts", *flags, *commands, opts, timeout=bound)

    def write(self, count: int = 1) -> list[WriteRecord]:
        """Write the next `count` blocks in one qemu-io run; ledger and return their records."""
        first = len(self.ledger)
        numbers = range(first, first + count)
        with tempfile.TemporaryDirectory(prefix="csw-initiator-") as scratch:
            commands = []
            for number in numbers:
                source = Path(scratch) / f"block-{number}"
                source.write_bytes(block_bytes(self.run, number))
                commands += ["-c", f"write -f -s {source} {number * BLOCK_SIZE} {BLOCK_SIZE}"]
            status, words = self._qemu_io(commands)
        records = []
        for number, line in zip(numbers, write_results(words, count), strict=True):
            expected = f"wrote {BLOCK_SIZE}/{BLOCK_SIZE} bytes at offset {number * BLOCK_SIZE}"
            if line is None:
                line = _no_result(status, words, self.timeout)
            records.append(WriteRecord(number, line == expected, status, line))
        self.ledger += records
        return records

    def read_blocks(self, first: int, count: int) -> bytes:
        """`count` blocks from block `first`, read through the LUN (InitiatorError if not)."""
        offset, length = first * BLOCK_SIZE, count * BLOCK_SIZE
        bound = self.timeout + length / (256 * 1024)  # the hex dump is ~4x the data
        command = f"read -v {offset} {length}"
        status, words = self._qemu_io(["-c", command], read_only=True, timeout=bound)
        if status != 0:
            raise InitiatorError(f"qemu-io {command}: {_no_result(status, words, bound)}")
        return parse_dump(words, offset, length)

    def check(self) -> CheckResult:
        """Read every ledgered block back: each acknowledged one must hold what was written."""
        if not self.ledger:
            return CheckResult(0, (), 0)
        total = len(self.ledger)
        data = b"".join(
            self.read_blocks(first, min(_READ_CHUNK, total - first))
            for first in range(0, total, _READ_CHUNK)
        )
        lost: list[str] = []
        landed = 0
        for record in self.ledger:
            start = record.number * BLOCK_SIZE
            block = data[start : start + BLOCK_SIZE]
            there = block == block_bytes(self.run, record.number)
            if record.acknowledged and not there:
                lost.append(
                    f"block {record.number} (offset {start}): acknowledged "
                    f"({record.words!r}) but holds {describe_block(block)}"
                )
            landed += not record.acknowledged and there
        checked = sum(record.acknowledged for record in self.ledger)
        return CheckResult(checked, tuple(lost), landed)

    def probe(self, timeout: float = 2.0) -> bool:
        """Does the LUN answer now (a one-sector read within `timeout`)?"""
        try:
            command = ["-c", f"read 0 {BLOCK_SIZE}"]
            status, words = self._qemu_io(command, read_only=True, timeout=timeout)
        except InitiatorError:
            return False
        return status == 0 and f"read {BLOCK_SIZE}/{BLOCK_SIZE} bytes at offset 0" in words

    def wait_until_answers(self, bound: float, probe_timeout: float = 1.0) -> float | None:
        """Seconds until the LUN answered a probe, None if not within `bound`: a recovery time."""
        started = time.monotonic()
        while True:
            if self.probe(timeout=probe_timeout):
                return time.monotonic() - started
            if time.monotonic() - started >= bound:
                return None
            time.sleep(0.05)

    def serial(self) -> str:
        """The LUN's unit serial number (VPD page 0x80, read with iscsi-inq)."""
        status, words = self._run("iscsi-inq", "-e", "1", "-c", "128", self.target.url)
        if status != 0:
            raise InitiatorError(f"iscsi-inq: {_no_result(status, words, self.timeout)}")
        return parse_serial(words)


def _no_result(status: int | None, words: str, bound: float) -> str:
    if status is None:
        return f"no answer within {bound:g} s (killed)"
    last = [line for line in words.splitlines() if line.strip()][-1:] or ["no output"]
    return f"exit status {status}: {last[0]}"


def _which(name: str) -> str:
    path = shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise InitiatorError(f"{name} not found (Debian qemu-utils, libiscsi-bin, coreutils)")
    return path
