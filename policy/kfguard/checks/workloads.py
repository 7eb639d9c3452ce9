"""Workloads: requests and limits; non-root in restricted namespaces."""
from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

from .. import walk as w
from .common import *  # noqa: F403 - the shared constants, Finding, Res


REQUIRED_RESOURCES = (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))


def _missing_resources(resources: Any) -> list[str]:
    missing = []
    for section, key in REQUIRED_RESOURCES:
        if w.unknown_at(resources, section) or w.unknown_at(w.get(resources, section), key):
            continue  # unknown during preview: not provably missing
        if not w.has(w.get(resources, section), key):
            missing.append(f"{section}.{key}")
    return missing


def missing_requests_limits(resource_type: str, props: Any) -> list[Finding]:
    """Platform workloads set requests (cpu, memory) and a memory limit on every container.

    CPU limits are not required: they throttle latency-sensitive servers (ProxySQL, Galera) while
    the node has idle CPU; memory is the resource whose overcommit kills neighbours.
    """
    hint = "set resources.requests.cpu, resources.requests.memory and resources.limits.memory"
    found = []
    spec = pod_spec(resource_type, props)
    if spec is not None:
        for list_key in ("initContainers", "containers"):
            for index, container in w.elements(w.get(spec, list_key)):
                if w.unknown_at(container, "resources"):
                    continue  # unknown during preview
                missing = _missing_resources(w.get(container, "resources"))
                if missing:
                    found.append(Finding(
                        f"{w.name_of(props)}: {list_key}[{index}] ({w.get(container, 'name')}) has no "
                        f"{', '.join(missing)}", hint))
    elif resource_type == "kubernetes:k8s.mariadb.com/v1alpha1:MariaDB":
        missing = _missing_resources(w.dig(props, "spec", "resources"))
        if missing:
            found.append(Finding(f"MariaDB {w.name_of(props)}: spec.resources has no {', '.join(missing)}", hint))
    elif resource_type == "kubernetes:minio.min.io/v2:Tenant":
        for index, pool in w.elements(w.dig(props, "spec", "pools")):
            missing = _missing_resources(w.get(pool, "resources"))
            if missing:
                found.append(Finding(
                    f"MinIO Tenant {w.name_of(props)}: spec.pools[{index}].resources has no {', '.join(missing)}", hint))
    return found


def _runs_as_root(spec: Any) -> list[str]:
    pod_ctx = w.get(spec, "securityContext")
    pod_non_root = w.get(pod_ctx, "runAsNonRoot") is True and w.get(pod_ctx, "runAsUser") != 0
    problems = []
    for list_key in ("initContainers", "containers"):
        for index, container in w.elements(w.get(spec, list_key)):
            ctx = w.get(container, "securityContext")
            non_root = w.get(ctx, "runAsNonRoot")
            user = w.get(ctx, "runAsUser")
            if user == 0 or non_root is False or (non_root is None and not pod_non_root):
                problems.append(f"{list_key}[{index}] ({w.get(container, 'name')})")
    return problems


def root_workloads(resources: Sequence[Res], restricted: Mapping[str, str]) -> Iterator[tuple[Res, Finding]]:
    """Workloads in namespaces labelled restricted (label -> value pairs) run as non-root."""
    namespaces = set()
    for r in resources:
        if r.type == "kubernetes:core/v1:Namespace":
            labels = w.labels_of(r.props)
            if any(w.get(labels, k) == v for k, v in restricted.items()):
                name = w.dig(r.props, "metadata", "name")
                if isinstance(name, str):
                    namespaces.add(name)
    for r in resources:
        spec = pod_spec(r.type, r.props)
        if spec is None or w.dig(r.props, "metadata", "namespace") not in namespaces:
            continue
        problems = _runs_as_root(spec)
        if problems:
            yield r, Finding(
                f"{w.name_of(r.props)} runs in a restricted namespace but {', '.join(problems)} may run as root",
                "set securityContext.runAsNonRoot: true (pod or every container) and a non-zero runAsUser",
            )
