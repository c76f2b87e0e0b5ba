"""What `carpswitch status` says about event intake: paused, who acts, what keeps failing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from carpswitch.config import Config
from carpswitch.engine.pause import PauseFlag
from carpswitch.intake.condition import describe_condition
from carpswitch.intake.inbox import Inbox
from carpswitch.intake.lockfile import INTAKE_LOCK_NAME
from carpswitch.intake.wire import intake_socket_path


@dataclass(frozen=True)
class LockHolder:
    """Who holds the intake lock: a pid and `worker` or `daemon`."""

    pid: int
    role: str


def lock_holder(run_dir: str) -> LockHolder | None:
    """The live process the intake lock file names, or None (free, or its holder died).

    Reads the file only; a holder that died (killed, or a zombie) is not named.
    """
    try:
        text = (Path(run_dir) / INTAKE_LOCK_NAME).read_bytes()[:64].decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None
    pid_text, _space, role = text.strip().partition(" ")
    if not pid_text.isdigit() or not _alive(int(pid_text)):
        return None
    return LockHolder(int(pid_text), role or "?")


def _alive(pid: int) -> bool:
    import psutil  # here, not at the top: most commands never need it (~15 ms to import)

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def describe_intake(config: Config) -> list[str]:
    """A few human lines; reads files only (never takes a lock, runs no command)."""
    run_dir = config.paths.run_dir
    lines = []
    reason = PauseFlag(config.paths.state_dir).reason()
    if reason is not None:
        lines.append(f"paused: {reason or 'yes'} (observing only; `carpswitch resume`)")
    else:
        lines.append("automatic transitions: on")
    holder = lock_holder(run_dir)
    if holder is not None and holder.role == "daemon":
        lines.append(f"daemon: running (pid {holder.pid})")
    elif holder is not None:
        lines.append(f"daemon: not running; {holder.role} acting (pid {holder.pid})")
    elif os.path.exists(intake_socket_path(run_dir)):
        lines.append("daemon: not running (stale socket; the hook starts workers)")
    else:
        lines.append("daemon: not running (the devd hook starts a worker per burst)")
    waiting = Inbox(run_dir).pending()
    if waiting:
        lines.append(f"events waiting: {waiting}")
    failing = describe_condition(run_dir, retrying=holder is not None)
    if failing is not None:
        lines.append(failing)
    return lines
