"""man/carpswitch.8 says what the code does: commands, exit statuses, files, rc.conf knobs.

`mandoc -Tlint -Wwarning` (run by scripts/test) checks the mdoc itself; these check that
the page keeps up with the command line, the exit codes and rc.d/carpswitch.
"""

from __future__ import annotations

import re
from pathlib import Path

from carpswitch.cli_words import COMMANDS, EPILOG, HOOK_WORDS

ROOT = Path(__file__).parents[2]
PAGE = (ROOT / "man" / "carpswitch.8").read_text()
RC_SCRIPT = (ROOT / "rc.d" / "carpswitch").read_text()

#: mdoc(7)'s conventional order of the standard sections (mandoc warns when it is broken).
MDOC_ORDER = [
    "NAME",
    "LIBRARY",
    "SYNOPSIS",
    "DESCRIPTION",
    "CONTEXT",
    "IMPLEMENTATION NOTES",
    "RETURN VALUES",
    "ENVIRONMENT",
    "FILES",
    "EXIT STATUS",
    "EXAMPLES",
    "DIAGNOSTICS",
    "COMPATIBILITY",
    "ERRORS",
    "SEE ALSO",
    "STANDARDS",
    "HISTORY",
    "AUTHORS",
    "CAVEATS",
    "BUGS",
    "SECURITY CONSIDERATIONS",
]


def section(name: str) -> str:
    """The text of `.Sh NAME` up to the next `.Sh`."""
    match = re.search(rf"^\.Sh {name}\n(.*?)(?=^\.Sh |\Z)", PAGE, re.M | re.S)
    assert match, f"no section {name}"
    return match.group(1)


def test_sections_are_standard_and_in_conventional_order():
    sections = re.findall(r"^\.Sh (.+)$", PAGE, re.M)
    assert all(s in MDOC_ORDER for s in sections), sections
    assert sections == sorted(sections, key=MDOC_ORDER.index)
    for required in ["NAME", "SYNOPSIS", "DESCRIPTION", "ENVIRONMENT", "FILES", "EXIT STATUS"]:
        assert required in sections
    assert {"EXAMPLES", "DIAGNOSTICS", "SEE ALSO"} <= set(sections)


def test_every_command_that_works_is_in_the_synopsis_and_described():
    synopsis, description = section("SYNOPSIS"), section("DESCRIPTION")
    for name in COMMANDS:
        listed = re.search(rf"^\.Cm (.*\| )?{name}\b", synopsis, re.M) is not None
        described = re.search(rf"^\.It Cm (.*\| )?{name}\b", description, re.M) is not None
        assert listed and described, name


def test_global_options_and_demote_force_are_documented():
    synopsis, description = section("SYNOPSIS"), section("DESCRIPTION")
    assert ".Fl -version" in synopsis and ".It Fl -version" in description
    assert ".Op Fl v" in synopsis and ".It Fl v" in description
    assert ".It Fl c Ar config" in description
    assert ".It Cm demote Oo Fl -force Oc" in description


def test_exit_statuses_match_the_help_text_and_include_71():
    documented = set(re.findall(r"^\.It (\d+)$", section("EXIT STATUS"), re.M))
    in_help = set(re.findall(r"\b(\d+) [a-z]", EPILOG.split("Exit status:")[1]))
    assert documented == in_help
    assert "71" in documented


def test_environment_names_carpswitch_config():
    assert ".It Ev CARPSWITCH_CONFIG" in section("ENVIRONMENT")


def test_files_name_the_pidfiles_the_rc_script_uses():
    files = section("FILES")
    for variable in ("pidfile", "carpswitch_child_pidfile"):
        path = re.search(rf'^{variable}="(/var/run/\$\{{name\}}[^"]*)"$', RC_SCRIPT, re.M)
        assert path, variable
        assert f".It Pa {path.group(1).replace('${name}', 'carpswitch')}" in files


def test_every_rc_conf_variable_of_the_rc_script_is_documented():
    variables = set(re.findall(r"^: \$\{(carpswitch_\w+):=", RC_SCRIPT, re.M))
    variables.add("carpswitch_flags")  # rc.subr reads ${name}_flags
    assert variables >= {"carpswitch_shutdown_timeout", "carpswitch_shutdown_demote"}
    for variable in variables:
        assert f".It Va {variable}" in PAGE, variable


def test_see_also_names_the_freebsd_pages_and_is_sorted():
    refs = re.findall(r"^\.Xr (\S+) (\d)", section("SEE ALSO"), re.M)
    wanted = {
        ("hastd", "8"),
        ("hastctl", "8"),
        ("hast.conf", "5"),
        ("carp", "4"),
        ("devd", "8"),
        ("devd.conf", "5"),
        ("ctld", "8"),
        ("daemon", "8"),
        ("rc.conf", "5"),
        ("sysexits", "3"),
    }
    assert wanted <= set(refs)
    assert refs == sorted(refs, key=lambda ref: (ref[1], ref[0]))


def test_the_hook_words_are_the_first_synopsis_form():
    first = section("SYNOPSIS").split(".Nm\n")[1]
    assert f".Cm {' | '.join(HOOK_WORDS)}" in first
