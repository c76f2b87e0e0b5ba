"""Helpers for the intake node tests (no tests here): hook calls, daemon runs, quiet waits.

Every process these start carries the lab node's marker in its environment, so the
`make_lab_node` teardown (LabNode.stop) ends whatever a failing test left behind.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from carpswitch.engine.journal import Journal
from carpswitch.intake.describe import lock_holder
from carpswitch.intake.inbox import Inbox
from carpswitch.lab.node import LabNode
from carpswitch.lab.paths import NODE_MARKER_ENV
from carpswitch.model import TransitionRecord

WORKER_MODULE = "carpswitch.intake.worker"


class IntakeNode:
    """A lab node with an intake config (short settle/timer) and ways to poke it."""

    def __init__(
        self,
        node: LabNode,
        settle: float = 0.3,
        flap_limit: float = 60.0,
        timer: float = 30.0,
        devd_socket: Path | None = None,
        role_timeout: float | None = None,
    ) -> None:
        self.node = node
        text = node.config_path.read_text()
        assert "[intake]" not in text and "[timeouts]" not in text
        if devd_socket is not None:
            text = text.replace("[paths]\n", f'[paths]\ndevd_socket = "{devd_socket}"\n', 1)
        text += f"\n[intake]\nsettle = {settle}\nflap_limit = {flap_limit}\ntimer = {timer}\n"
        if role_timeout is not None:
            text += f"\n[timeouts]\nrole = {role_timeout}\n"
        self.config = node.path / "intake.toml"
        self.config.write_text(text)
        self.run_dir = str(node.paths.carpswitch_run_dir)
        self.state_dir = str(node.paths.carpswitch_state_dir)
        self.env = {**os.environ, NODE_MARKER_ENV: str(node.path)}

    def carpswitch(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """`carpswitch -c intake.toml ARGS` as devd or an admin would run it."""
        return subprocess.run(
            [sys.executable, "-m", "carpswitch", "-c", str(self.config), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def hook(self, state: str, subsystem: str = "1@vtnet0") -> None:
        """What devd runs; it must exit 0 at once."""
        result = self.carpswitch(state, subsystem, timeout=30.0)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")

    def carp_event(self, state: str) -> None:
        """CARP changes state and devd runs the hook for it."""
        self.node.set_carp(state)
        self.hook(state)

    def workers(self) -> list[psutil.Process]:
        """Live worker processes of this node."""
        found = []
        for process in self.node.processes():
            try:
                if WORKER_MODULE in process.cmdline():
                    found.append(process)
            except psutil.Error:
                continue
        return found

    def quiet(self) -> bool:
        """No worker runs, none holds the intake lock and no event waits."""
        return (
            not self.workers()
            and lock_holder(self.run_dir) is None
            and Inbox(self.run_dir).pending() == 0
        )

    def wait_quiet(self, timeout: float = 90.0, stable: float = 0.5) -> None:
        """Wait until `quiet()` has held for `stable` seconds."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if self.quiet():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= stable:
                    return
            else:
                quiet_since = None
            time.sleep(0.05)
        raise AssertionError(f"intake still busy after {timeout} s: workers {self.workers()}")

    def journal(self) -> list[TransitionRecord]:
        """Every transition, oldest first."""
        return Journal(self.state_dir).records()

    def role(self) -> str:
        """HAST role of the node's resource `tank`."""
        return self.node.role("tank")

    @contextmanager
    def daemon(self) -> Iterator[subprocess.Popen[str]]:
        """`carpswitch daemon` running for the block; stopped (SIGTERM, then SIGKILL) after."""
        log = (self.node.path / "daemon.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "carpswitch", "-vv", "-c", str(self.config), "daemon"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            log.close()

    def daemon_log(self) -> str:
        """What the daemon logged (for assertion messages)."""
        path = self.node.path / "daemon.log"
        return path.read_text() if path.exists() else ""


def assert_never_overlapping(records: list[TransitionRecord]) -> None:
    """Each transition ended before the next one started (journal timestamps)."""
    for earlier, later in itertools.pairwise(records):
        assert earlier.ended_at is not None, earlier
        assert earlier.ended_at <= later.started_at, (earlier.id, later.id)


def wait_until(predicate: object, timeout: float = 30.0) -> bool:
    """Poll a callable every 20 ms until it is true or `timeout` passes."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True
