"""The ZFS pool health policy: a pool is served only when ONLINE or DEGRADED.

DEGRADED still serves every block (a mirror lost one side); FAULTED, UNAVAIL and the rest
do not, and a pool listed UNAVAIL is a leftover that must be exported before an import.
"""

from __future__ import annotations

from collections.abc import Sequence

from carpswitch.engine.step import StepFailed
from carpswitch.model import Pool, PoolHealth

USABLE_HEALTH = (PoolHealth.ONLINE, PoolHealth.DEGRADED)


def pool_health(pools: Sequence[Pool], name: str) -> PoolHealth | None:
    """Health of the imported pool `name`; None when it is not imported."""
    return next((p.health for p in pools if p.name == name), None)


def judge_pool(pools: Sequence[Pool], name: str) -> str:
    """`pool NAME HEALTH` when the pool may be served; StepFailed saying why not."""
    health = pool_health(pools, name)
    if health is None:
        raise StepFailed(f"pool {name} is not imported")
    if health not in USABLE_HEALTH:
        raise StepFailed(f"pool {name} is {health}")
    return f"pool {name} {health}"
