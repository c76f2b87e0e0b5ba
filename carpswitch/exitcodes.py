"""Exit statuses of carpswitch, from sysexits(3) where one fits."""

from enum import IntEnum


class ExitCode(IntEnum):
    """What `carpswitch` returns to its caller (devd, rc.d, an admin's shell)."""

    OK = 0
    FAILED = 1  # a transition failed (and was rolled back) or a check found problems
    USAGE = 64  # EX_USAGE: bad command line
    DATAERR = 65  # EX_DATAERR: bad input data
    NOINPUT = 66  # EX_NOINPUT: an input file is missing
    UNAVAILABLE = 69  # EX_UNAVAILABLE: a needed service or command is unavailable
    SOFTWARE = 70  # EX_SOFTWARE: internal error
    OSERR = 71  # EX_OSERR: an operating-system error
    IOERR = 74  # EX_IOERR
    TEMPFAIL = 75  # EX_TEMPFAIL: try again later (e.g. another worker holds the lock)
    CONFIG = 78  # EX_CONFIG: configuration error
