"""argv builders whose FreeBSD reasons are easy to lose (issue 8, items 16 and 19)."""

from carpswitch.system import commands


def test_service_status_uses_onestatus_because_ha_services_are_not_enabled():
    # rc.subr of 13.x/14.0: plain `status` of a service whose rcvar is not YES prints
    # "Cannot 'status' ..." and exits 0.
    assert commands.service_status("ctld") == ("service", "ctld", "onestatus")


def test_zpool_import_keeps_the_pool_out_of_zpool_cache():
    assert commands.zpool_import("tank", "/dev/hast") == (
        "zpool",
        "import",
        "-o",
        "cachefile=none",
        "-f",
        "-N",
        "-d",
        "/dev/hast",
        "tank",
    )
