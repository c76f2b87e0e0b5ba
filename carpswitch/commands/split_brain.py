"""`carpswitch split-brain clear RESOURCE...|--all`: drop split-brain marks by hand.

The admin says the split-brain is over (resolved by hand, see hastctl(8) `create`); the
guided `split-brain resolve` (commands/split_brain_resolve.py) drops the marks through
SplitBrainMarks.clear as well. Under the actor lock, so that no reconcile decides between
two marks being read. A marks directory that cannot be read may have named any
resource: only `--all` takes it away (set aside under a stamped name, for a look).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from carpswitch.config import load_config
from carpswitch.engine.lock import ActorLock
from carpswitch.engine.splitbrain import SplitBrainMarks
from carpswitch.exitcodes import ExitCode
from carpswitch.statefiles import set_aside

log = logging.getLogger(__name__)


def run_split_brain_clear(
    config_path: str | None, resources: Sequence[str], every: bool = False
) -> int:
    """Drop the named marks (all with `every`); exit 1 when a named one was not marked."""
    config = load_config(config_path)
    marks = SplitBrainMarks(config.paths.state_dir)
    with ActorLock(config.paths.run_dir):
        seen = marks.read()
        if seen.unreadable is not None:
            if not every:
                print(
                    f"carpswitch: split-brain marks unreadable ({seen.unreadable}): they may "
                    "name any resource; look, then `carpswitch split-brain clear --all`"
                )
                return ExitCode.FAILED
            aside = set_aside(marks.directory)
            log.warning("split-brain marks unreadable, set aside as %s by admin", aside)
            print(f"carpswitch: unreadable split-brain marks set aside as {aside}")
            return ExitCode.OK
        names = sorted(seen.resources) if every else list(dict.fromkeys(resources))
        status = ExitCode.OK
        for name in names:
            if marks.clear(name):
                log.warning("split-brain mark on %s cleared by admin", name)
                print(f"carpswitch: split-brain mark on {name} cleared")
            else:
                print(f"carpswitch: {name} has no split-brain mark")
                status = ExitCode.FAILED
        if every and not names:
            print("carpswitch: no split-brain mark")
    return status
