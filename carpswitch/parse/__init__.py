"""Pure parsers: FreeBSD command output (and hast.conf) -> models.

Each module parses one command's output. Keep this file free of imports: the devd hook
imports carpswitch.parse.devd and must not pay for pydantic.
"""
