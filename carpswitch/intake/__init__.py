"""Event intake: what turns the devd hook's CARP events into reconciles.

The hook side (settings, inbox, lockfile, wire, spawn; the hook itself is
carpswitch.devd.hook) imports only the standard library and carpswitch.errors, so
`carpswitch master|backup ARG` starts in a few milliseconds; the acting side (coalesce,
act, worker, daemon) imports the controller.
"""
