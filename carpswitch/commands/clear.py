"""`carpswitch clear`: forget failed promotions, lift the hold, take back our demotion.

It also repairs an unreadable failure book: the book is set aside (loading does that) and
replaced by an empty one. What an unreadable book had added to the demotion is unknown,
so nothing is taken back for it; `status` shows the kernel's value.
"""

from __future__ import annotations

import logging

from carpswitch.config import load_config
from carpswitch.context import NodeContext
from carpswitch.engine.demotion import current_boottime, take_back
from carpswitch.engine.failures import FailureBook
from carpswitch.engine.lock import ActorLock
from carpswitch.exitcodes import ExitCode

log = logging.getLogger(__name__)


def run_clear(config_path: str | None) -> int:
    """Take back what carpswitch added to net.inet.carp.demotion, then reset the book."""
    config = load_config(config_path)
    context = NodeContext(config)
    book = FailureBook(config.paths.state_dir)
    timeout = config.timeouts.observe
    with ActorLock(config.paths.run_dir):
        state = book.load()
        if state.note:
            print(f"carpswitch: {state.note}; replaced by an empty failure book")
        boottime = current_boottime(context.runner, timeout)
        added = state.demotion_of_boot(boottime)
        if added:
            print(
                f"carpswitch: CARP demotion: {take_back(context.observer, added, timeout).message}"
            )
        elif state.demotion_added:
            why = "kern.boottime cannot be read" if boottime is None else "added in another boot"
            print(f"carpswitch: CARP demotion {state.demotion_added} not taken back: {why}")
        book.clear()
    log.warning("cleared by admin: %d recorded failures, hold lifted", len(state.failures))
    print(f"carpswitch: cleared {len(state.failures)} failed promotions; hold lifted")
    return ExitCode.OK
