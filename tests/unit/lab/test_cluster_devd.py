"""The lab devd's reading of devd.conf (carpswitch.lab.cluster.devd) on the project's own
conf/devd-carp.conf and devd.conf(5)'s rules: first match by priority, anchored
case-insensitive regexes, `!` negation, shell-quoted `$var`."""

from __future__ import annotations

from pathlib import Path

from carpswitch.lab.cluster.devd import event_variables, expand, matching_rule, parse_rules

CONF = Path(__file__).resolve().parents[3] / "conf" / "devd-carp.conf"


def _action(text: str, event: str) -> str | None:
    variables = event_variables(event)
    rule = matching_rule(parse_rules(text), variables)
    return None if rule is None else expand(rule.action, variables)


def test_the_projects_rules_hand_carp_events_to_carpswitch() -> None:
    text = CONF.read_text()

    assert [r.priority for r in parse_rules(text)] == [100, 100]
    assert (
        _action(text, "!system=CARP subsystem=1@vtnet0 type=MASTER\n")
        == "/usr/local/sbin/carpswitch MASTER 1@vtnet0"
    )
    assert (
        _action(text, "!system=CARP subsystem=1@vtnet0 type=BACKUP\n")
        == "/usr/local/sbin/carpswitch BACKUP 1@vtnet0"
    )
    assert (
        _action(text, "!system=CARP subsystem=1@vtnet0 type=INIT\n")
        == "/usr/local/sbin/carpswitch backup 1@vtnet0"
    )
    assert _action(text, "!system=IFNET subsystem=vtnet0 type=LINK_UP\n") is None


def test_matches_are_anchored_and_case_insensitive() -> None:
    text = 'notify 0 { match "system" "CARP"; match "type" "MASTER"; action "yes $type"; };'

    assert _action(text, "!system=carp subsystem=1@em0 type=master\n") == "yes master"
    assert _action(text, "!system=CARPX subsystem=1@em0 type=MASTER\n") is None


def test_the_highest_priority_wins_and_ties_keep_file_order() -> None:
    text = (
        'notify 0 { match "system" "CARP"; action "low"; };\n'
        'notify 10 { match "system" "CARP"; action "first ten"; };\n'
        'notify 10 { match "system" "CARP"; action "second ten"; };\n'
        'notify 20 { match "system" "!CARP"; action "not carp"; };\n'
    )

    assert _action(text, "!system=CARP type=MASTER\n") == "first ten"
    assert _action(text, "!system=IFNET type=LINK_UP\n") == "not carp"


def test_variables_expand_shell_quoted_and_dollar_dollar_is_a_dollar() -> None:
    variables = event_variables("!system=CARP subsystem=1@em0;rm type=MASTER\n")

    assert expand("run $subsystem $$HOME $missing", variables) == "run '1@em0;rm' $HOME ''"
