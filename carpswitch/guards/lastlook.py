"""What the guards' last look found, as carpswitch.guards.look left it for `status`.

Its own module: `status` only reads the file, and importing the look (the witness pings'
thread pool, the peer's client) cost it ~5% of its start.
"""

from __future__ import annotations

import json
import os

from carpswitch.statefiles import read_state_file

GUARDS_NAME = "guards.json"


def last_look(run_dir: str) -> dict[str, object] | None:
    """What the last look found (run_dir/guards.json), for `status`; None if none."""
    try:
        data = json.loads(read_state_file(os.path.join(run_dir, GUARDS_NAME)))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
