"""Joining carpswitch.toml and hast.conf into this node's resources and groups."""

from carpswitch.config import ResourceKind, parse_config
from carpswitch.model import CarpState, CarpVhid, TransitionKind
from carpswitch.parse.hastconf import parse_hast_conf
from carpswitch.topology import build_topology

HAST_CONF = """\
resource tank {
	on hasta {
		local /dev/ada1
		remote 198.18.0.2
	}
	on hastb {
		local /dev/ada1
		remote 198.18.0.1
	}
}
resource data {
	name datap
	on hasta {
		local /dev/ada2
		remote 198.18.0.2
	}
	on hastb {
		local /dev/ada2
		remote 198.18.0.1
	}
}
"""


def vhid(number, interface="vtnet0", state=CarpState.MASTER):
    return CarpVhid(interface=interface, vhid=number, state=state, advbase=1, advskew=0)


def test_without_config_every_resource_is_raw_and_each_vhid_is_a_group():
    topology = build_topology(parse_config({}), parse_hast_conf(HAST_CONF), ["hasta"], [vhid(1)])
    assert set(topology.resources) == {"tank", "data"}
    assert all(r.kind is ResourceKind.RAW for r in topology.resources.values())
    assert [(g.name, g.vhid, g.interface, g.resources, g.derived) for g in topology.groups] == [
        ("vhid1", 1, "vtnet0", ("tank", "data"), True)
    ]
    assert topology.problems == ()


def test_provider_name_gives_the_device_path():
    config = parse_config({"paths": {"dev_hast": "/lab/dev/hast"}})
    topology = build_topology(config, parse_hast_conf(HAST_CONF), ["hasta"])
    assert topology.resources["data"].device == "/lab/dev/hast/datap"
    assert topology.resources["tank"].device == "/lab/dev/hast/tank"
    assert topology.resources["tank"].remote_address == "198.18.0.2"


def test_config_kinds_and_groups_apply():
    config = parse_config(
        {
            "resource": [{"name": "tank", "kind": "zfs", "pool": "tank"}],
            "group": [
                {"name": "storage", "vhid": 3, "resources": ["tank", "data"], "services": ["ctld"]}
            ],
        }
    )
    topology = build_topology(config, parse_hast_conf(HAST_CONF), ["hasta"], [vhid(1)])
    assert topology.resources["tank"].kind is ResourceKind.ZFS
    assert topology.resources["data"].kind is ResourceKind.RAW
    assert [g.name for g in topology.groups] == ["storage"]
    storage = topology.group("storage")
    assert storage is not None and storage.services == ("ctld",)
    assert topology.problems == ()


def test_mismatches_are_listed_not_raised():
    config = parse_config(
        {
            "resource": [{"name": "ghost"}],
            "group": [{"name": "g", "vhid": 1, "resources": ["tank", "missing"]}],
        }
    )
    topology = build_topology(config, parse_hast_conf(HAST_CONF), ["hasta"])
    problems = "\n".join(topology.problems)
    assert "resource 'ghost' is in the config but not in /etc/hast.conf" in problems
    assert "group 'g': resource 'missing' is not in /etc/hast.conf" in problems
    assert "resource 'data' is in no group" in problems


def test_a_node_without_on_block_reports_hastds_message():
    topology = build_topology(parse_config({}), parse_hast_conf(HAST_CONF), ["hastc"])
    assert topology.resources == {}
    assert "No resource tank configuration for this node" in topology.problems[0]


def test_several_vhids_without_groups_is_a_problem():
    topology = build_topology(
        parse_config({}), parse_hast_conf(HAST_CONF), ["hasta"], [vhid(1), vhid(2)]
    )
    assert len(topology.groups) == 2
    assert any("several CARP vhids" in p for p in topology.problems)


def test_groups_for_an_event_match_vhid_and_interface():
    config = parse_config(
        {
            "group": [
                {"name": "a", "vhid": 1, "interface": "vtnet0", "resources": ["tank"]},
                {"name": "b", "vhid": 2, "resources": ["data"]},
            ]
        }
    )
    topology = build_topology(config, parse_hast_conf(HAST_CONF), ["hasta"])
    assert [g.name for g in topology.groups_for(1, "vtnet0")] == ["a"]
    assert [g.name for g in topology.groups_for(1, "em0")] == []
    assert [g.name for g in topology.groups_for(2, "em0")] == ["b"]
    assert [g.name for g in topology.groups_for(None, "vtnet0")] == ["a", "b"]


def test_a_resource_missing_from_hast_conf_is_a_problem_of_its_group_only():
    config = parse_config(
        {
            "group": [
                {"name": "storage", "vhid": 1, "resources": ["tank", "ghost"]},
                {"name": "block", "vhid": 2, "resources": ["data"]},
            ]
        }
    )
    topology = build_topology(config, parse_hast_conf(HAST_CONF), ["hasta"], [vhid(1), vhid(2)])
    storage, block = topology.groups
    assert topology.problems_of(storage) == (
        "resource 'ghost' is not in /etc/hast.conf for this node",
    )
    assert topology.problems_of(block) == ()
    # incomplete, not ambiguous: the known resource may still be demoted (review F8)
    assert topology.problems_of(storage, TransitionKind.DEMOTE) == ()
    assert topology.ambiguous == {}


def test_an_unparsable_hast_conf_is_every_groups_problem_and_nothing_else():
    config = parse_config(
        {
            "resource": [{"name": "tank"}],
            "group": [{"name": "storage", "vhid": 1, "resources": ["tank"]}],
        }
    )
    problem = "cannot parse /etc/hast.conf (line 3): Unable to parse configuration file"
    topology = build_topology(config, parse_hast_conf(""), ["hasta"], [vhid(1)], problem)
    assert topology.problems == (problem,)  # not "tank is not in hast.conf"
    assert topology.problems_of(topology.groups[0]) == (problem,)
    assert topology.problems_of(topology.groups[0], TransitionKind.DEMOTE) == (problem,)


def test_several_vhids_without_groups_make_every_derived_group_ambiguous():
    topology = build_topology(
        parse_config({}), parse_hast_conf(HAST_CONF), ["hasta"], [vhid(1), vhid(2)]
    )
    expected = (
        "several CARP vhids (1@vtnet0, 2@vtnet0) and no [[group]] in the config: "
        "say which vhid carries which resources",
    )
    assert [topology.problems_of(g) for g in topology.groups] == [expected, expected]
    demote = TransitionKind.DEMOTE
    assert [topology.problems_of(g, demote) for g in topology.groups] == [expected, expected]
    assert topology.problems == expected  # listed once


def test_the_same_vhid_on_two_interfaces_needs_the_groups_interface():
    groups = [{"name": "storage", "vhid": 1, "resources": ["tank", "data"]}]
    seen = [vhid(1), vhid(1, "vtnet1", CarpState.BACKUP)]
    topology = build_topology(
        parse_config({"group": groups}), parse_hast_conf(HAST_CONF), ["hasta"], seen
    )
    problem = "CARP vhid 1 is on vtnet0 and vtnet1: say which with interface = NAME"
    assert topology.problems_of(topology.groups[0]) == (problem,)
    assert topology.problems_of(topology.groups[0], TransitionKind.DEMOTE) == (problem,)
    assert f"group 'storage': {problem}" in topology.problems
    groups[0]["interface"] = "vtnet0"
    named = build_topology(
        parse_config({"group": groups}), parse_hast_conf(HAST_CONF), ["hasta"], seen
    )
    assert named.group_problems == named.ambiguous == {}
