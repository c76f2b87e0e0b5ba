"""The command words and the epilog, shared by the fast entry point (carpswitch.cli) and
the argparse parser (carpswitch.cli_parser); standard library only, no imports at all."""

HOOK_WORDS = ("master", "backup")

COMMANDS: dict[str, str] = {
    "master": "devd hook: CARP vhid became MASTER (argument: VHID@IFACE or IFACE)",
    "backup": "devd hook: CARP vhid became BACKUP (argument: VHID@IFACE or IFACE)",
    "promote": "make this node primary for GROUPs now: HAST role, check, mount, services",
    "demote": "make this node secondary for GROUPs now: services, unmount, HAST role",
    "status": "show CARP, HAST, mounts, pools and services as carpswitch sees them",
    "plan": "print the steps a MASTER or BACKUP transition would run; runs nothing",
    "check": "validate carpswitch.toml against hast.conf and this node; list every problem",
    "history": "show past transitions with per-step timings and outcome",
    "clear": "forget failed promotions, lift the hold and take back carpswitch's demotion",
    "reconcile": "act once on what CARP says now (what the rc.d script does at boot)",
    "daemon": "run as the rc.d service: take devd events, reconcile on a timer",
    "pause": "maintenance: observe only, never act (survives reboots) until resume",
    "resume": "end maintenance and act on what CARP says now",
    "setup": "configure both nodes from one carpswitch.toml: init, plan, apply, check",
    "hast-event": "hast.conf exec hook: journal hastd's event; split-brain marks the resource",
    "split-brain": "split-brain: status of both nodes, resolve (keep one side's data), clear marks",
    "lab": "simulated FreeBSD node, for tests and for trying carpswitch by hand",
}

EPILOG = """\
devd runs `carpswitch master|backup VHID@IFACE` on CARP events (conf/devd-carp.conf).
Config: -c PATH, else $CARPSWITCH_CONFIG, else /usr/local/etc/carpswitch.toml; without a
config file carpswitch works from hast.conf alone (every resource raw, one group per vhid).
Exit status: 0 ok, 1 failed, 64 usage, 69 peer unreachable (split-brain), 70 internal
error, 71 system error, 75 busy, 78 config error.
See carpswitch(8).
"""

SETUP_EPILOG = """\
examples (on the node that is to be the preferred master):
  carpswitch setup init --remote-host hastb --remote-ip 198.18.0.2 \\
      --carp-ip 198.18.0.100/24 --remote-poolname tank --vol-path hastvol \\
      --vol-size 10G --hastvol-name hastvol --local-ip 198.18.0.1 --interface vtnet0
  carpswitch setup plan        # both nodes: unified diffs and commands; changes nothing
  carpswitch setup apply       # this node, then the peer over ssh (key-based only)
  carpswitch setup check       # what differs between the two nodes
The peer is reached with `ssh -o BatchMode=yes -o StrictHostKeyChecking=yes`: its host
key must be in known_hosts and root's key accepted. Re-running apply changes nothing.
Exit status: 0 done (check: identical), 1 failed (check: the nodes differ), 64 usage,
78 config error.
"""

SPLIT_BRAIN_EPILOG = """\
HAST never heals a split-brain itself: both nodes wrote while apart, and one side's writes
must go. The acknowledged data is on the side that was primary last: the one whose
journal has the later successful promotion of the resource's group (keep the clocks in
sync). resolve refuses to discard that side, or to choose when neither journal tells,
unless --force.
examples:
  carpswitch split-brain status            # both nodes, and what to run
  carpswitch split-brain resolve tank --keep-this    # the peer: init, create, secondary
  carpswitch split-brain resolve tank --discard-this # this node, then the peer's mark
  carpswitch split-brain clear tank        # after a fix by hand (hastctl(8) create)
Exit status: 0 done (status: nothing in split-brain), 1 refused, stopped or (status) a
resource in split-brain, 64 usage, 69 peer unreachable, 75 busy, 78 config error.
"""
