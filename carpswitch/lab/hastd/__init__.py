"""The simulated hastd: a daemon holding the control socket and one worker per active role.

`resources` is the state machine (roles, workers, peers; no I/O), `workers` forks the
worker processes, `control` answers hastctl requests, `daemon` ties them to the socket,
signals and timers, and `protocol` is what hastctl and the daemon say to each other.
"""
