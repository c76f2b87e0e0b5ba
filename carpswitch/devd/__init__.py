"""What devd runs and what listens to devd: the hook (`carpswitch master|backup ARG`), the
devd event parser (events), the devd socket listener of the daemon (listener). The rule
itself is conf/devd-carp.conf.

The hook and the parser import only the standard library (and carpswitch.errors), so the
hook starts in a few milliseconds; keep this file free of imports.
"""
