"""parse_hast_conf accepts exactly hastd's grammar and reports errors with hastd's text."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from carpswitch.errors import ParseError
from carpswitch.parse.hastconf import (
    Checksum,
    Compression,
    HastConf,
    HastNodeSection,
    HastResourceNode,
    HastResourceSection,
    Replication,
    parse_hast_conf,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "hastconf"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def syntax_error_in(source: str, text: str) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_hast_conf(text, source)
    return caught.value


def syntax_error(text: str) -> ParseError:
    return syntax_error_in("hast.conf", text)


HANDBOOK = HastConf(
    resources=(
        HastResourceSection(
            name="test",
            on=(
                HastResourceNode(node="hasta", local_path="/dev/ad6", remote_address="172.16.0.2"),
                HastResourceNode(node="hastb", local_path="/dev/ad6", remote_address="172.16.0.1"),
            ),
        ),
    )
)


def test_handbook_example_parses_to_one_resource_with_two_node_blocks():
    assert parse_hast_conf(fixture("handbook.conf")) == HANDBOOK


def test_empty_and_comment_only_files_are_empty_configurations():
    assert parse_hast_conf("") == HastConf()
    assert parse_hast_conf("# nothing here\n\n   \n") == HastConf()


def test_hast_conf_5_example_keeps_node_sections_and_resource_level_local():
    conf = parse_hast_conf(fixture("hast_conf_5_example.conf"))
    assert conf.listen == ("tcp://0.0.0.0",)
    assert conf.nodes == (
        HastNodeSection(node="hasta", listen=("tcp://2001:db8::1/64",)),
        HastNodeSection(node="hastb", listen=("tcp://2001:db8::2/64",)),
    )
    shared, tank = conf.resources
    assert shared.local_path == "/dev/da0"
    assert [node.remote_address for node in shared.on] == ["tcp://10.0.0.2", "tcp://10.0.0.1"]
    assert tank.local_path is None
    assert tank.on[0] == HastResourceNode(
        node="hasta",
        local_path="/dev/mirror/tanka",
        source_address="tcp://10.0.0.1",
        remote_address="tcp://10.0.0.2",
    )


def test_share_examples_style_config_has_a_global_exec_hook():
    conf = parse_hast_conf(fixture("ucarp_example.conf"))
    assert conf.exec_path == "/usr/local/sbin/hast-hook.sh"
    assert conf.resources[0].local_path == "/dev/ada1"
    assert [node.node for node in conf.resources[0].on] == ["hasta", "hastb"]


def test_every_keyword_in_every_section_lands_in_its_field():
    conf = parse_hast_conf(fixture("every_keyword.conf"))
    assert conf == HastConf(
        control="uds:///var/run/hastctl-global",
        pidfile="/var/run/hastd-global.pid",
        listen=("0.0.0.0:8457", "tcp6://[::]:8457"),
        replication=Replication.FULLSYNC,
        checksum=Checksum.CRC32,
        compression=Compression.LZF,
        timeout=10,
        exec_path="/usr/local/sbin/hast-hook",
        metaflush=False,
        nodes=(
            HastNodeSection(
                node="hasta",
                control="unix:///var/run/hastctl-a",
                pidfile="/var/run/hastd-a.pid",
                listen=("10.0.0.1",),
            ),
            HastNodeSection(
                node="hastb.example.org", listen=("10.0.0.2", "tcp6://[2001:db8::2]:8457")
            ),
            HastNodeSection(node="hostid3735928559"),
        ),
        resources=(
            HastResourceSection(
                name="shared",
                replication=Replication.ASYNC,
                checksum=Checksum.SHA256,
                compression=Compression.NONE,
                timeout=30,
                exec_path="/usr/local/sbin/shared-hook",
                metaflush=True,
                provider_name="shared-provider",
                local_path="/dev/da0",
                on=(
                    HastResourceNode(
                        node="hasta",
                        provider_name="shared-a",
                        local_path="/dev/da1",
                        metaflush=False,
                        remote_address="tcp4://10.0.0.2:8457",
                        source_address="tcp4://10.0.0.1",
                    ),
                    HastResourceNode(node="hastb.example.org", remote_address="none"),
                ),
            ),
            HastResourceSection(
                name="tank",
                on=(
                    HastResourceNode(
                        node="hasta", local_path="/dev/mirror/tanka", remote_address="10.0.0.2"
                    ),
                    HastResourceNode(
                        node="hastb.example.org",
                        local_path="/dev/mirror/tankb",
                        remote_address="10.0.0.1",
                    ),
                ),
            ),
        ),
    )


@pytest.mark.parametrize("mode", list(Replication))
def test_every_replication_mode_is_accepted(mode):
    assert parse_hast_conf(f"replication {mode}").replication is mode


@pytest.mark.parametrize("algorithm", list(Checksum))
def test_every_checksum_algorithm_is_accepted(algorithm):
    assert parse_hast_conf(f"checksum {algorithm}").checksum is algorithm


@pytest.mark.parametrize("algorithm", list(Compression))
def test_every_compression_algorithm_is_accepted(algorithm):
    assert parse_hast_conf(f"compression {algorithm}").compression is algorithm


def test_metaflush_on_and_off_are_booleans():
    assert parse_hast_conf("metaflush on").metaflush is True
    assert parse_hast_conf("metaflush off").metaflush is False


def test_remote_none_is_the_only_keyword_accepted_as_an_address():
    conf = parse_hast_conf("resource r { on a { remote none } }")
    assert conf.resources[0].on[0].remote_address == "none"
    assert syntax_error("resource r { on a { source none } }").reason.endswith(
        "near 'none': syntax error"
    )


def test_a_repeated_statement_overrides_but_listen_adds_up():
    conf = parse_hast_conf("timeout 5\ntimeout 7\nlisten a\nlisten b\ncontrol /x\ncontrol /y")
    assert conf.timeout == 7
    assert conf.control == "/y"
    assert conf.listen == ("a", "b")


def test_global_statements_after_sections_still_belong_to_the_global_section():
    conf = parse_hast_conf("resource r { on a { remote none } }\nchecksum sha256\n")
    assert conf.checksum is Checksum.SHA256


def test_timeout_keeps_the_written_number_with_leading_zeros_dropped():
    assert parse_hast_conf("timeout 020").timeout == 20
    assert parse_hast_conf("timeout 0").timeout == 0


def test_semicolons_quotes_and_carriage_returns_are_skipped_like_flex_does():
    text = fixture("handbook.conf").replace("\n", ";\r\n").replace("/dev/ad6", '"/dev/ad6"')
    assert parse_hast_conf(text) == HANDBOOK


def test_unknown_keyword_is_a_syntax_error_with_hastds_message():
    error = syntax_error("# ports are not configurable\nport 8457\n")
    assert error.source == "hast.conf"
    assert error.reason == (
        "Unable to parse configuration file at line 1 near 'port': syntax error"
    )
    assert error.line == 2


def test_error_names_the_file_it_was_given():
    assert syntax_error_in("/etc/hast.conf", "resource {").source == "/etc/hast.conf"


def test_missing_closing_brace_is_reported_at_the_end_of_the_file():
    text = "resource r {\n\ton a {\n\t\tlocal /x\n\t\tremote none\n\t}\n"
    error = syntax_error(text)
    assert error.reason == "Unable to parse configuration file at line 5 near '': syntax error"
    assert error.line == 6


def test_missing_opening_brace_is_a_syntax_error_at_the_first_statement():
    error = syntax_error("resource r\n\ton a { remote none }\n}")
    assert error.reason == "Unable to parse configuration file at line 1 near 'on': syntax error"


def test_stray_closing_brace_at_top_level_is_a_syntax_error():
    assert "near '}'" in syntax_error("}").reason


@pytest.mark.parametrize(
    ("text", "near"),
    [
        ("timeout twenty", "twenty"),
        ("timeout 20s", "20s"),
        ("metaflush yes", "yes"),
        ("replication sync", "sync"),
        ("checksum md5", "md5"),
        ("checksum hole", "hole"),
        ("compression crc32", "crc32"),
        ("listen 8457", "8457"),
        ("exec none", "none"),
        ("control on", "on"),
        ("resource 0 { }", "0"),
        ("resource name { }", "name"),
        ("on 42 { }", "42"),
    ],
)
def test_value_of_the_wrong_type_is_a_syntax_error_near_the_value(text, near):
    assert syntax_error(text).reason.endswith(f"near '{near}': syntax error")


@pytest.mark.parametrize(
    ("text", "near"),
    [
        ("remote 10.0.0.2", "remote"),
        ("name test", "name"),
        ("local /dev/ad6", "local"),
        ("on a { replication async }", "replication"),
        ("on a { on b { } }", "on"),
        ("resource r { listen 0.0.0.0 }", "listen"),
        ("resource r { control /x }", "control"),
        ("resource r { remote x }", "remote"),
        ("resource r { on a { timeout 5 } }", "timeout"),
        ("resource r { on a { exec /x } }", "exec"),
        ("resource r { resource s { } }", "resource"),
    ],
)
def test_statement_outside_its_section_is_a_syntax_error(text, near):
    assert syntax_error(text).reason.endswith(f"near '{near}': syntax error")


def test_trailing_comment_without_newline_is_read_as_words_like_hastd_does():
    error = syntax_error("timeout 5\n# end of file")
    assert error.reason == "Unable to parse configuration file at line 1 near 'end': syntax error"
    assert parse_hast_conf("timeout 5\n#").timeout == 5


def test_parsed_models_are_frozen():
    conf = parse_hast_conf(fixture("handbook.conf"))
    with pytest.raises(ValidationError):
        conf.timeout = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    "fields",
    [
        {"control": "two words"},
        {"pidfile": "none"},
        {"listen": ("8457",)},
        {"exec_path": ""},
        {"timeout": -1},
        {"unknown": "x"},
    ],
)
def test_models_refuse_values_hast_conf_cannot_hold(fields):
    with pytest.raises(ValidationError):
        HastConf.model_validate(fields)


def test_remote_accepts_none_but_other_fields_do_not():
    assert HastResourceNode(node="a", remote_address="none").remote_address == "none"
    with pytest.raises(ValidationError):
        HastResourceNode(node="a", source_address="none")
