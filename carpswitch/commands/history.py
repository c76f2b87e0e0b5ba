"""`carpswitch history [--json] [-n N]`: past transitions with per-step timings."""

from __future__ import annotations

import sys

from carpswitch.commands.transition import format_step
from carpswitch.config import load_config
from carpswitch.engine.journal import Journal
from carpswitch.exitcodes import ExitCode


def run_history(config_path: str | None, count: int, as_json: bool) -> int:
    """Print the last `count` transitions, oldest first; `count` < 1 is a usage error (64)."""
    if count < 1:
        print(f"carpswitch: history: -n must be at least 1, not {count}", file=sys.stderr)
        return ExitCode.USAGE
    config = load_config(config_path)
    records = Journal(config.paths.state_dir).records()[-count:]
    for record in records:
        if as_json:
            print(record.model_dump_json())
            continue
        duration = (
            f"{(record.ended_at - record.started_at).total_seconds():.2f}s"
            if record.ended_at
            else "running"
        )
        started = record.started_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{started}  {record.kind} {record.group}: {record.outcome} in {duration}")
        print(f"  id {record.id}, trigger: {record.trigger}")
        for result in record.steps:
            print(format_step(result))
        for result in record.undo:
            print(format_step(result, undo=True))
    if not records and not as_json:
        print("no transitions journaled yet")
    return ExitCode.OK
