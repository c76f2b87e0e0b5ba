"""A lab node provides set-up's default hast.conf `exec` (/usr/local/sbin/carpswitch-hast-event
inside its directory: the chroot rule), handing the event to the node's own carpswitch."""

from __future__ import annotations

import time

from carpswitch.config_cluster import DEFAULT_HAST_EXEC
from carpswitch.engine.hastevents import HastEventLog
from carpswitch.lab.hastd import hooks
from carpswitch.lab.layout import write_layout
from carpswitch.lab.paths import inside_node
from tests.unit.lab.nodefacts import node_facts


def test_the_default_exec_path_inside_the_node_journals_into_the_nodes_state_dir(tmp_path):
    facts = node_facts(tmp_path / "hasta")
    write_layout(facts, "BACKUP", 0)
    path = inside_node(facts.node_paths.root, DEFAULT_HAST_EXEC)  # what the lab's hastd runs
    assert path == str(tmp_path / "hasta/usr/local/sbin/carpswitch-hast-event")
    logged: list[str] = []
    assert hooks.fire(path, logged.append, "role", "hastvol", "init", "secondary")
    deadline = time.monotonic() + 30
    while hooks.running() and time.monotonic() < deadline:
        hooks.check(logged.append)
        time.sleep(0.02)
    assert not hooks.running() and logged == []  # exit 0
    events = HastEventLog(str(facts.node_paths.carpswitch_state_dir)).events()
    assert [(e.event, e.resource, e.args) for e in events] == [
        ("role", "hastvol", ("init", "secondary"))
    ]
