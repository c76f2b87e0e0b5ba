"""Parse and print `mount -p` lines (fstab format), byte for byte as FreeBSD prints them.

sbin/mount/mount.c putfsent(): device and mount point each padded with "\t" if shorter
than 8, another "\t" if shorter than 16, then "\t" if shorter than 24 else " "; fstype and
"\t"; the options ("rw" or "ro" first) and "\t" if shorter than 8 else " "; then
"\t%u %u\n" (dump frequency, pass number). Lengths are strlen(), i.e. bytes.
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from carpswitch.errors import ParseError
from carpswitch.model import Mount
from carpswitch.parse.lines import complete_lines

SOURCE = "mount -p"
_SEPARATOR = re.compile(r"[\t ]+")
_NUMBER = re.compile(r"[0-9]+")


def parse_mount_p(text: str) -> list[Mount]:
    """Mounted file systems in `mount -p` order.

    A table without `/` is a ParseError, not "nothing mounted": every FreeBSD system has
    its root file system mounted, and getfsstat(2) lists it first. Output that lacks it
    (empty, cut short) would tell the steps that a mounted HAST file system is not there.
    """
    lines = complete_lines(text, SOURCE)
    mounts = [_mount(line, number) for number, line in enumerate(lines, start=1)]
    if not any(m.mountpoint == "/" for m in mounts):
        raise ParseError(SOURCE, "no root file system (/): FreeBSD always lists one")
    return mounts


def format_mount_p_line(mount: Mount) -> str:
    """The line putfsent() prints for `mount`, newline included."""
    options = ",".join(mount.options)
    return (
        _padded(mount.device)
        + _padded(mount.mountpoint)
        + f"{mount.fstype}\t"
        + options
        + ("\t" if _strlen(options) < 8 else " ")
        + f"\t{mount.dump_freq} {mount.pass_number}\n"
    )


def _mount(line: str, number: int) -> Mount:
    fields = _SEPARATOR.split(line)
    if len(fields) != 6 or not all(fields):
        raise ParseError(SOURCE, f"expected 6 fields separated by tabs/spaces: {line!r}", number)
    device, mountpoint, fstype, options, dump_freq, pass_number = fields
    if not _NUMBER.fullmatch(dump_freq) or not _NUMBER.fullmatch(pass_number):
        raise ParseError(
            SOURCE, f"dump frequency and pass number must be numbers: {line!r}", number
        )
    option_list = tuple(options.split(","))
    if not all(option_list):
        raise ParseError(SOURCE, f"empty mount option in {options!r}", number)
    try:
        return Mount(
            device=device,
            mountpoint=mountpoint,
            fstype=fstype,
            options=option_list,
            dump_freq=int(dump_freq),
            pass_number=int(pass_number),
        )
    except ValidationError as exc:
        raise ParseError(SOURCE, str(exc), number) from exc


def _padded(name: str) -> str:
    length = _strlen(name)
    return (
        name
        + ("\t" if length < 8 else "")
        + ("\t" if length < 16 else "")
        + ("\t" if length < 24 else " ")
    )


def _strlen(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))
