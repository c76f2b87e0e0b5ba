"""carpswitch: failover controller for two-node HAST + CARP storage on FreeBSD."""

__version__ = "0.1.0"
