"""Tenants: default-deny, quotas, limit ranges, GPU quotas the pools supply."""
from __future__ import annotations

from typing import Any, Iterator, Sequence

from .. import walk as w
from .common import *  # noqa: F403 - the shared constants, Finding, Res
from .common import _namespace, _objects


def _is_default_deny(props: Any) -> bool:
    """podSelector {} with policyTypes [Ingress, Egress] and no rules (an unknown rule list is not proof)."""
    spec = w.get(props, "spec")
    if not w.is_map(spec):
        return False
    selector = w.get(spec, "podSelector")
    if w.get(selector, "matchLabels") or w.get(selector, "matchExpressions"):
        return False
    if {t for t in w.each(w.get(spec, "policyTypes")) if isinstance(t, str)} != {"Ingress", "Egress"}:
        return False
    for direction in ("ingress", "egress"):
        rules = w.get(spec, direction, w.MISSING)
        if w.unknown_at(spec, direction):
            return False  # unknown during preview
        if rules not in (w.MISSING, None) and (not w.is_seq(rules) or len(rules) > 0):
            return False
    return True


MIG_RESOURCE = "nvidia.com/mig-{}"
GPU_RESOURCE = "nvidia.com/gpu"


def gpu_supply(resources: Sequence[Res]) -> set[str] | None:
    """Extended resource names the GPU pools advertise, from the rendered node layouts.

    Nodes carry `nvidia.com/mig.config=<layout>` (NodePatch); layouts are in the mig-parted
    ConfigMap (`mig-configs`); the GPU operator's `mig.strategy` (Helm values) decides the names:
    `single` -> nvidia.com/gpu; `mixed` -> nvidia.com/mig-<profile> per MIG device, nvidia.com/gpu
    for GPUs with MIG disabled. None when the render has no GPU operator (nothing to compare).
    """
    import yaml

    strategy = None
    for r in _objects(resources, "kubernetes:helm.sh/v3:Release"):
        if w.get(r.props, "chart") == "gpu-operator":
            strategy = w.dig(r.props, "values", "mig", "strategy", default="single")
    if strategy is None:
        return None
    layouts: dict[str, Any] = {}
    for r in _objects(resources, "kubernetes:core/v1:ConfigMap"):
        for key, text in w.items(w.get(r.props, "data")):
            if isinstance(text, str) and "mig-configs" in text:
                try:
                    layouts.update((yaml.safe_load(text) or {}).get("mig-configs") or {})
                except yaml.YAMLError:
                    pass
    supply: set[str] = set()
    for r in _objects(resources, "kubernetes:core/v1:NodePatch"):
        layout = w.get(w.labels_of(r.props), "nvidia.com/mig.config")
        if not isinstance(layout, str):
            continue
        if layout == "all-disabled":
            supply.add(GPU_RESOURCE)
            continue
        entries = layouts.get(layout)
        if entries is None and layout.startswith("all-"):
            entries = [{"mig-enabled": True, "mig-devices": {layout[4:]: 1}}]
        for entry in entries or []:
            if not entry.get("mig-enabled"):
                supply.add(GPU_RESOURCE)
            elif strategy == "single":
                supply.add(GPU_RESOURCE)
            else:
                supply.update(MIG_RESOURCE.format(p.replace("+", ".")) for p in (entry.get("mig-devices") or {}))
    return supply


def _quantity_is_zero(value: Any) -> bool:
    return isinstance(value, (int, float)) and value == 0 or (isinstance(value, str) and value.strip() in ("0", "0.0"))


def tenant_isolation(resources: Sequence[Res]) -> Iterator[tuple[Res, Finding]]:
    """Each tenant namespace: default-deny ingress+egress, a ResourceQuota, a LimitRange; GPU quotas
    name only resources the pools supply."""
    tenants = {}
    for r in _objects(resources, "kubernetes:core/v1:Namespace"):
        name = w.dig(r.props, "metadata", "name")
        if w.has(w.labels_of(r.props), TENANT_LABEL) and isinstance(name, str):
            tenants[name] = r
    deny = {_namespace(r) for r in _objects(resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy") if _is_default_deny(r.props)}
    quotas = {_namespace(r) for r in _objects(resources, "kubernetes:core/v1:ResourceQuota")}
    limits = {_namespace(r) for r in _objects(resources, "kubernetes:core/v1:LimitRange")}
    for ns, r in sorted(tenants.items()):
        if ns not in deny:
            yield r, Finding(f"tenant namespace {ns} has no default-deny NetworkPolicy",
                             "every tenant gets TenantNetworkPolicies (kfplatform/tenancy): restore its default-deny")
        if ns not in quotas:
            yield r, Finding(f"tenant namespace {ns} has no ResourceQuota",
                             "declare the team's quotas in tenants/<team>.yaml (the Tenant component renders them)")
        if ns not in limits:
            yield r, Finding(f"tenant namespace {ns} has no LimitRange",
                             "the Tenant component renders `tenant-container-limits`: restore it")
    supply = gpu_supply(resources)
    for r in _objects(resources, "kubernetes:core/v1:ResourceQuota"):
        if _namespace(r) not in tenants:
            continue
        for key, value in w.items(w.dig(r.props, "spec", "hard")):
            resource_name = str(key).split(".", 1)[1] if str(key).startswith(("requests.", "limits.")) else str(key)
            if not resource_name.startswith("nvidia.com/") or _quantity_is_zero(value):
                continue
            if supply is None or resource_name not in supply:
                offered = ", ".join(sorted(supply or [])) or "none"
                yield r, Finding(
                    f"ResourceQuota {w.name_of(r.props)} grants {key}={value}, which no GPU pool supplies "
                    f"(pools supply: {offered})",
                    "quote a MIG profile or nvidia.com/gpu that a pool's layout provides (docs/gpus.md), or 0",
                )
