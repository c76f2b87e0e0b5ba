"""File system check policies: when a UFS may be mounted and a ZFS pool may be served."""
