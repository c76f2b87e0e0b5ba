"""`carpswitch status [--json]`."""

from __future__ import annotations

import json

from carpswitch.config import load_config
from carpswitch.context import NodeContext
from carpswitch.exitcodes import ExitCode
from carpswitch.report import status_document, status_text


def run_status(config_path: str | None, as_json: bool = False) -> int:
    """Print the node as observed; exit 1 when something could not be observed."""
    context = NodeContext(load_config(config_path))
    topology, state = context.observe()
    if as_json:
        print(json.dumps(status_document(topology, state), indent=2))
    else:
        print(status_text(topology, state))
    return ExitCode.FAILED if state.problems else ExitCode.OK
