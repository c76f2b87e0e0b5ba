"""The steps of a transition, one module per kind: HAST role and waits (hast), UFS (ufs),
ZFS (zfs), rc.d services (services), CARP give-away and demotion (carp), the admin's hooks
(hooks), the promotion's last look (verify). The executor (carpswitch.engine) runs them
without knowing any of them."""
