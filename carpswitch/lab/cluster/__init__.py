"""The two-node lab: network namespaces, replicating HAST, CARP and iSCSI on real parts."""
