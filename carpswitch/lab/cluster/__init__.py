"""The two-node lab: hosts in network namespaces, ucarp as CARP, devd, faults.

Modules: `command` (ip/nft/nsenter runs), `net` (namespaces, bridge, cable cuts),
`kernel` (what FreeBSD's kernel does on a CARP state change, for ucarp's scripts),
`devd` (the host's devd), `ucarp` (the CARP speaker, demotion), `detach` (daemon(3)-like
starts), `host` (boot order, host faults), `registry` (records in /run/carpswitch-lab),
`teardown` (remove what a record names), `cluster` (`Cluster`), `status`, `cli`.

`iscsi` (with `ctl_conf`, `tgt`) plays ctld with Debian's tgt in a host's namespace;
`initiator` is the client: qemu-io writing ledgered blocks through the CARP address.
"""
