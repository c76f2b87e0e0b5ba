"""service NAME status (rc.subr) with its exit status."""

import pytest

from carpswitch.errors import ParseError
from carpswitch.parse.service import parse_service_status

NO_SCRIPT = (
    "ctld does not exist in /etc/rc.d or the local startup\n"
    "directories (/usr/local/etc/rc.d), or is not executable\n"
)
NOT_ENABLED = (
    "Cannot 'status' ctld. Set ctld_enable to YES in /etc/rc.conf or use 'onestatus' instead"
    " of 'status'.\n"
)


def test_running_service_reports_its_pid():
    status = parse_service_status("hastd", "hastd is running as pid 812.\n", 0)
    assert (status.name, status.running, status.pids) == ("hastd", True, (812,))


def test_running_service_may_report_several_pids():
    status = parse_service_status("nfsd", "nfsd is running as pid 1201 1202 1203.\n", 0)
    assert status.pids == (1201, 1202, 1203)


def test_stopped_service_exits_1():
    status = parse_service_status("ctld", "ctld is not running.\n", 1)
    assert (status.running, status.pids) == (False, ())


def test_stopped_text_wins_over_exit_0_of_a_custom_status_command():
    assert parse_service_status("ctld", "ctld is not running.\n", 0).running is False


def test_rc_name_may_differ_from_the_script_name():
    status = parse_service_status("mysql-server", "mysql is running as pid 77.\n", 0)
    assert (status.name, status.running) == ("mysql-server", True)


def test_other_lines_around_the_status_line_are_ignored():
    text = "Checking configuration.\nhastd is running as pid 5.\n"
    assert parse_service_status("hastd", text, 0).pids == (5,)


def test_missing_rc_script_raises_a_parse_error_that_says_so():
    with pytest.raises(ParseError) as caught:
        parse_service_status("ctld", NO_SCRIPT, 1)
    assert caught.value.source == "service ctld onestatus"
    assert "does not exist" in caught.value.reason


def test_service_not_enabled_in_old_rc_subr_raises_a_parse_error_that_says_so():
    with pytest.raises(ParseError) as caught:
        parse_service_status("ctld", NOT_ENABLED, 0)
    assert "ctld_enable is not YES" in caught.value.reason


@pytest.mark.parametrize(
    ("text", "exit_status", "reason"),
    [
        ("", 1, "expected one"),
        ("garbage\n", 0, "expected one"),
        ("hastd is running as pid 812\n", 0, "expected one"),
        ("hastd is running as pid 81", 0, "expected one"),
        ("hastd is running as pid .\n", 0, "expected one"),
        ("hastd is running as pid 1,2.\n", 0, "expected one"),
        ("hastd is running as pid 1  2.\n", 0, "expected one"),
        ("hastd is not running\n", 1, "expected one"),
        ("hastd is not running.\nhastd is running as pid 1.\n", 0, "expected one"),
        ("hastd is running as pid 812.\n", 1, "exited with status 1"),
    ],
)
def test_unrecognised_status_output_raises_parse_error_naming_the_command(
    text, exit_status, reason
):
    with pytest.raises(ParseError) as caught:
        parse_service_status("hastd", text, exit_status)
    assert caught.value.source == "service hastd onestatus"
    assert "service hastd onestatus" in str(caught.value)
    assert reason in caught.value.reason


def test_refusal_names_the_scripts_rcvar_and_the_refused_directive():
    # rc.d/nfsd: rcvar="nfs_server_enable", so the rcvar is not NAME_enable
    text = (
        "Cannot 'status' nfsd. Set nfs_server_enable to YES in /etc/rc.conf or use "
        "'onestatus' instead of 'status'.\n"
    )
    with pytest.raises(ParseError) as caught:
        parse_service_status("nfsd", text, 0)
    assert caught.value.reason == (
        "nfs_server_enable is not YES: rc.subr refuses 'status' (use the 'one' prefix)"
    )
