"""Pure parsers: FreeBSD command output (and hast.conf) -> models.

Each module parses one command's output. Keep this file free of imports. The devd event
parser lives with the hook in carpswitch.devd (it must not pay for pydantic).
"""
