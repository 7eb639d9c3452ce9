"""HA floors: replicas with PDBs, Galera quorum, MinIO servers and parity per failure domain."""
from __future__ import annotations

import re
from typing import Any, Iterator, Mapping, Sequence

from .. import walk as w
from .common import *  # noqa: F403 - the shared constants, Finding, Res
from .common import _namespace, _objects


def _replicas_of(resources: Sequence[Res], namespace: str, name: str) -> tuple[int | None, Res | None, bool]:
    """Replica floor of a workload: an HPA's minReplicas on it, or our own Deployment's replicas.

    (replicas or None, the resource holding them, whether a holder's count is unknown in preview).
    """
    best, holder, unknown = None, None, False
    holders = [(r, "minReplicas") for r in _objects(resources, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
               if _namespace(r) == namespace and w.dig(r.props, "spec", "scaleTargetRef", "name") == name]
    holders += [(r, "replicas") for t in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")
                for r in _objects(resources, t)
                if _namespace(r) == namespace and w.dig(r.props, "metadata", "name") == name]
    for r, key in holders:
        spec = w.get(r.props, "spec")
        if w.unknown_at(spec, key):
            unknown, holder = True, holder or r
            continue
        value = w.get(spec, key, 1)  # the API default for both fields is 1
        if isinstance(value, (int, float)):
            best, holder = max(best or 0, int(value)), r
    return best, holder, unknown


def _pdb_for(resources: Sequence[Res], namespace: str, name: str) -> Res | None:
    template_labels: dict = {}
    for r in _objects(resources, "kubernetes:apps/v1:Deployment") + _objects(resources, "kubernetes:apps/v1:StatefulSet"):
        if _namespace(r) == namespace and w.dig(r.props, "metadata", "name") == name:
            template_labels = w.plain(w.dig(r.props, "spec", "template", "metadata", "labels", default={})) or {}
    for r in _objects(resources, "kubernetes:policy/v1:PodDisruptionBudget"):
        if _namespace(r) != namespace:
            continue
        if w.get(w.labels_of(r.props), HA_TARGET_LABEL) == name or w.dig(r.props, "metadata", "name") == name:
            return r
        selector = w.plain(w.dig(r.props, "spec", "selector", "matchLabels", default={})) or {}
        if template_labels and selector and all(template_labels.get(k) == v for k, v in selector.items()):
            return r
    return None


def ha_floors(resources: Sequence[Res], floors: Mapping[str, int], galera_min: int, minio_min_servers: int,
              failure_domain: Mapping[str, Any]) -> Iterator[tuple[Res | None, Finding]]:
    for target, floor in sorted(floors.items()):
        namespace, _, name = target.partition("/")
        replicas, holder, unknown = _replicas_of(resources, namespace, name)
        if replicas is None and unknown:
            pass  # computed during preview: checked on the next preview, when it is known
        elif replicas is None:
            yield None, Finding(
                f"{target}: no HorizontalPodAutoscaler or Deployment holds it at >= {int(floor)} replicas",
                "ControlPlaneHA (kfplatform/kubeflow/ha.py) renders an HPA per HA target; restore it")
        elif replicas < floor:
            yield holder, Finding(f"{target} runs {replicas} replica(s), below the floor of {int(floor)}",
                                  f"raise its replicas / HPA minReplicas to >= {int(floor)} in the stack file")
        pdb = _pdb_for(resources, namespace, name)
        if pdb is None:
            yield holder, Finding(f"{target} has no PodDisruptionBudget",
                                  "add a PDB (maxUnavailable: 1) with the replicas: drains then keep it serving")
        elif replicas is not None and isinstance(w.dig(pdb.props, "spec", "minAvailable"), (int, float)) \
                and w.dig(pdb.props, "spec", "minAvailable") >= replicas:
            yield pdb, Finding(f"{target}: PDB minAvailable >= replicas blocks every node drain",
                               "use maxUnavailable: 1")
    for r in _objects(resources, "kubernetes:k8s.mariadb.com/v1alpha1:MariaDB"):
        if w.dig(r.props, "spec", "galera", "enabled") is not True:
            yield r, Finding(f"MariaDB {w.name_of(r.props)} is not a Galera cluster",
                             "set spec.galera.enabled: true (the data tier's GaleraCluster does)")
            continue
        replicas = w.dig(r.props, "spec", "replicas")
        if isinstance(replicas, (int, float)) and (replicas < galera_min or int(replicas) % 2 == 0):
            yield r, Finding(
                f"Galera {w.name_of(r.props)} has {int(replicas)} nodes: it needs an odd number >= {galera_min} "
                "to keep quorum through a node loss",
                f"set data.galera.replicas to an odd number >= {galera_min}")
    for r in _objects(resources, "kubernetes:minio.min.io/v2:Tenant"):
        parity = _minio_parity(resources, r)
        for index, pool in w.elements(w.dig(r.props, "spec", "pools")):
            servers, volumes = w.get(pool, "servers"), w.get(pool, "volumesPerServer")
            if not isinstance(servers, (int, float)) or not isinstance(volumes, (int, float)):
                continue
            servers, volumes = int(servers), int(volumes)
            pool_name = w.get(pool, "name") or index
            if servers < minio_min_servers:
                yield r, Finding(f"MinIO pool {pool_name}: {servers} servers, below {minio_min_servers}",
                                 f"a distributed pool has >= {minio_min_servers} servers (docs/data-tier.md)")
            if parity is None:
                yield r, Finding(f"MinIO tenant {w.name_of(r.props)}: no MINIO_STORAGE_CLASS_STANDARD parity found "
                                 "in its configuration Secret",
                                 "set data.objectStore.parity (rendered into the Tenant's config.env)")
                continue
            if parity == "unknown":
                continue
            lost, domain = _servers_lost(servers, failure_domain)
            tolerated = servers_tolerated(servers, volumes, parity)
            if lost > tolerated:
                yield r, Finding(
                    f"MinIO pool {pool_name}: losing one {domain} takes {lost} of {servers} servers; EC:{parity} "
                    f"on {servers}x{volumes} drives keeps writes through {tolerated}",
                    "raise parity or spread more servers over the failure domain (kfplatform/data/checks.py)")


def _servers_lost(servers: int, failure_domain: Mapping[str, Any]) -> tuple[int, str]:
    kind = str(failure_domain.get("kind", "node"))
    if kind == "zone":
        zones = int(failure_domain.get("zones", 1))
        return -(-servers // max(1, zones)), "zone"
    return 1, "node"


def _minio_parity(resources: Sequence[Res], tenant: Res) -> int | str | None:
    secret = w.dig(tenant.props, "spec", "configuration", "name")
    namespace = _namespace(tenant)
    pattern = re.compile(r'MINIO_STORAGE_CLASS_STANDARD="?EC:(\d+)')
    for r in resources:
        if _namespace(r) != namespace:
            continue
        if r.type == "kubernetes:external-secrets.io/v1:ExternalSecret" and w.dig(r.props, "spec", "target", "name") == secret:
            data = w.dig(r.props, "spec", "target", "template", "data")
        elif r.type == "kubernetes:core/v1:Secret" and w.dig(r.props, "metadata", "name") == secret:
            data = w.get(r.props, "stringData")
        else:
            continue
        if w.unknown_at(data, "config.env"):
            return "unknown"
        match = pattern.search(str(w.get(data, "config.env") or ""))
        if match:
            return int(match.group(1))
    return None


# MinIO erasure arithmetic: the pack runs in its own virtualenv without `kfplatform`, so this is a
# copy of kfplatform/data/erasure.py (tests/policy assert both agree on every small geometry).
def erasure_set_size(servers: int, volumes_per_server: int) -> int | None:
    total = servers * volumes_per_server
    candidates = [size for size in range(2, 17) if total % size == 0]
    symmetric = [size for size in candidates if size % servers == 0 or servers % size == 0]
    chosen = symmetric or candidates
    return max(chosen) if chosen else None


def servers_tolerated(servers: int, volumes_per_server: int, parity: int) -> int:
    set_size = erasure_set_size(servers, volumes_per_server)
    if set_size is None or servers <= 1:
        return 0
    data = set_size - parity
    quorum = data + 1 if data == parity else data
    per_server = max(1, set_size // servers) if set_size >= servers else 1
    return max(0, (set_size - quorum) // per_server)
