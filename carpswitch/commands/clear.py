"""`carpswitch clear`: forget failed promotions, lift the hold, take back our demotion."""

from __future__ import annotations

import logging

from carpswitch.config import load_config
from carpswitch.context import NodeContext
from carpswitch.engine.failures import FailureBook
from carpswitch.engine.lock import ActorLock
from carpswitch.exitcodes import ExitCode
from carpswitch.system import commands

log = logging.getLogger(__name__)


def run_clear(config_path: str | None) -> int:
    """Take back what carpswitch added to net.inet.carp.demotion, then reset the book."""
    config = load_config(config_path)
    context = NodeContext(config)
    book = FailureBook(config.paths.state_dir)
    with ActorLock(config.paths.run_dir):
        state = book.load()
        if state.demotion_added:
            argv = commands.sysctl_set(commands.DEMOTION_SYSCTL, -state.demotion_added)
            context.runner.run(*argv, timeout=config.timeouts.observe)
            print(f"carpswitch: took back CARP demotion {state.demotion_added}")
        book.clear()
    log.warning("cleared by admin: %d recorded failures, hold lifted", len(state.failures))
    print(f"carpswitch: cleared {len(state.failures)} failed promotions; hold lifted")
    return ExitCode.OK
