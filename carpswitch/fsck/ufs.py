"""The UFS check policy: never mount a file system that did not pass its check.

`fsck -p` (preen) first. When preen fails, policy `full` runs `fsck -y` and mounts only if
that succeeds; `preen` and `refuse` refuse the mount (StepFailed names the device, the exit
status and fsck's words).
"""

from __future__ import annotations

from carpswitch.config import FsckPolicy
from carpswitch.engine.step import StepFailed
from carpswitch.errors import CommandFailed
from carpswitch.system import commands
from carpswitch.system.runner import CommandRunner


def describe_check(device: str, policy: FsckPolicy) -> str:
    """What `check_ufs` runs, for `plan` and the journal."""
    extra = " (then fsck -y if that fails)" if policy is FsckPolicy.FULL else ""
    return f"fsck -t ufs -p {device}{extra}"


def check_ufs(runner: CommandRunner, device: str, policy: FsckPolicy, timeout: float) -> str:
    """Check the UFS on `device` as `policy` says; return fsck's output, raise when the file
    system must not be mounted."""
    try:
        preen = runner.run(*commands.fsck_ufs(device, repair=False), timeout=timeout)
        return preen.stdout.strip()
    except CommandFailed as exc:
        if policy is not FsckPolicy.FULL:
            raise StepFailed(
                f"fsck -p failed (exit {exc.exit_status}) and fsck policy is "
                f"{policy}: not mounting {device}: {(exc.stderr or exc.stdout).strip()}"
            ) from exc
    full = runner.run(*commands.fsck_ufs(device, repair=True), timeout=timeout)
    return full.stdout.strip()
