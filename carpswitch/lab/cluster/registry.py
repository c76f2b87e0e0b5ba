"""Records of the clusters `lab up` made: /run/carpswitch-lab/ID.json.

A record is written before anything of its cluster exists and names everything the
cluster may come to own (namespaces, directory), so that `lab down` can remove all of
it from the record alone, after a `lab up` that crashed at any point. It goes last.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from carpswitch.lab.cluster.command import ClusterError
from carpswitch.lab.cluster.net import check_id

REGISTRY = Path("/run/carpswitch-lab")


@dataclass(frozen=True)
class ClusterRecord:
    """What one cluster is made of."""

    id: str
    directory: str
    #: the directory did not exist before `lab up` (then `down` removes all of it)
    made_directory: bool
    namespaces: tuple[str, ...]
    #: host name -> node directory
    hosts: dict[str, str]
    resources: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    #: carpswitch.toml with [guards] (witness: the client), see Cluster.create
    guards: bool = False
    #: carpswitch.toml with [metrics] dir = NODE/var/metrics
    metrics: bool = False

    @property
    def path(self) -> Path:
        return record_path(self.id)


def record_path(cluster_id: str, registry: Path | None = None) -> Path:
    return (registry or REGISTRY) / f"{check_id(cluster_id)}.json"


def save(record: ClusterRecord) -> None:
    """Write the record durably (temporary file, fsync, rename)."""
    temporary = record.path.with_name(f".{record.path.name}.{os.getpid()}.tmp")
    for attempt in range(3):  # another cluster's `forget` may remove the empty registry
        record.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with temporary.open("w") as out:
                json.dump(asdict(record), out, indent=1)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, record.path)
            return
        except FileNotFoundError:
            if attempt == 2:
                raise


def load(cluster_id: str) -> ClusterRecord:
    """The record of `cluster_id` (ClusterError if there is none or it is unreadable)."""
    path = record_path(cluster_id)
    try:
        data = json.loads(path.read_text())
        return ClusterRecord(
            id=data["id"],
            directory=data["directory"],
            made_directory=bool(data["made_directory"]),
            namespaces=tuple(data["namespaces"]),
            hosts=dict(data["hosts"]),
            resources=tuple(data.get("resources", ())),
            services=tuple(data.get("services", ())),
            guards=bool(data.get("guards", False)),
            metrics=bool(data.get("metrics", False)),
        )
    except FileNotFoundError:
        raise ClusterError(f"no lab cluster {cluster_id} ({path} does not exist)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ClusterError(f"{path}: unreadable cluster record: {exc}") from exc


def forget(cluster_id: str) -> None:
    """Remove the record (nothing if it is gone already), and the registry once empty."""
    record_path(cluster_id).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: other clusters are up
        REGISTRY.rmdir()


def cluster_ids() -> list[str]:
    """Ids of every recorded cluster."""
    if not REGISTRY.is_dir():
        return []
    return sorted(p.stem for p in REGISTRY.glob("*.json"))


def only_cluster() -> str:
    """The id of the one recorded cluster (ClusterError if there are none or several)."""
    ids = cluster_ids()
    if len(ids) != 1:
        raise ClusterError(
            "no lab cluster is up" if not ids else f"several clusters, name one: {' '.join(ids)}"
        )
    return ids[0]
