"""Event intake: the devd hook, the worker and the daemon that turn CARP events into reconciles.

The hook side (settings, inbox, lockfile, wire, spawn, hook) imports only the standard
library and carpswitch.errors, so `carpswitch master|backup ARG` starts in a few
milliseconds; the acting side (coalesce, act, worker, daemon) imports the controller.
"""
