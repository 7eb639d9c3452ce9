"""The GPU capacity plan: pure functions from the pools and the tenants to supply vs demand.

Supply of a slice type (an extended resource such as `nvidia.com/mig-1g.10gb`) in a pool is
nodes x GPUs per node x instances per GPU; a pool may promise up to supply x its overcommit
ratio. Demand is the sum of the tenants' quotas for that resource. A Kubernetes quota names a
resource, not a pool, so a slice type two pools supply is checked against both together.

A Katib sweep is checked against its own tenant's quota: parallel trials x devices per trial.
With the quotas within supply (overcommit 1.0), a sweep can only ever wait on its own team's
devices; above 1.0 the PriorityClasses decide who yields when a pool is full.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

from ..config.tenant import TenantConfig
from .config import GpuConfig, GpuPool
from .geometry import GPU_RESOURCE, mig_resource

TOP_TENANTS = 3


def per_gpu_supply(pool: GpuPool, strategy: str) -> dict[str, int]:
    """Resource name -> devices one GPU of the pool advertises, under the cluster's mig.strategy."""
    devices = pool.mig_devices
    if not devices:
        return {GPU_RESOURCE: 1}
    if strategy == "single":  # one profile per GPU (validated), advertised as whole `nvidia.com/gpu`s
        return {GPU_RESOURCE: sum(devices.values())}
    return {mig_resource(name): count for name, count in devices.items()}


def supplied_resources(gpu: GpuConfig) -> list[str]:
    """Every GPU resource name some pool advertises, sorted."""
    return sorted({r for pool in gpu.pools for r in per_gpu_supply(pool, gpu.strategy)})


def closed_quota_keys(gpu: GpuConfig) -> list[str]:
    """Quota keys every tenant gets, at 0 unless its file names them: a ResourceQuota does not
    limit an extended resource it does not list, so a tenant without the key could take them all."""
    return [f"requests.{name}" for name in supplied_resources(gpu)]


@dataclass(frozen=True)
class PoolSupply:
    pool: str
    index: int  # position in gpu.pools, for error paths
    model: str
    layout: str
    mode: str
    resource: str
    nodes: int
    gpus_per_node: int
    per_gpu: int
    overcommit: float

    @property
    def supply(self) -> int:
        return self.nodes * self.gpus_per_node * self.per_gpu

    @property
    def allowed(self) -> int:
        """The quota this pool may back: supply x overcommit, rounded down to whole devices."""
        return math.floor(self.supply * self.overcommit + 1e-9)

    def explain(self) -> str:
        nodes = f"{self.nodes} node{'s' if self.nodes != 1 else ''}"
        gpus = f"{self.gpus_per_node} GPU{'s' if self.gpus_per_node != 1 else ''}"
        text = f"{nodes} x {gpus} x {self.per_gpu} per GPU = {self.supply}"
        if self.overcommit != 1.0:
            text += f", x overcommit {self.overcommit:g} = {self.allowed}"
        return f"pool {self.pool} ({text})"


@dataclass(frozen=True)
class SliceType:
    resource: str
    pools: tuple[PoolSupply, ...]
    quotas: tuple[tuple[str, int], ...]  # (tenant, quota), largest first

    @property
    def supply(self) -> int:
        return sum(p.supply for p in self.pools)

    @property
    def allowed(self) -> int:
        return sum(p.allowed for p in self.pools)

    @property
    def demand(self) -> int:
        return sum(q for _, q in self.quotas)

    @property
    def headroom(self) -> int:
        return self.allowed - self.demand

    @property
    def status(self) -> str:
        if not self.pools:
            return "unsupplied" if self.demand else "ok"
        return "oversubscribed" if self.demand > self.allowed else "ok"

    def top_tenants(self, n: int = TOP_TENANTS) -> list[tuple[str, int]]:
        return list(self.quotas[:n])

    def problem(self) -> str | None:
        """The message for an oversubscribed slice type: pool(s), supply vs demand, top tenants."""
        if self.status != "oversubscribed":
            return None
        top = ", ".join(f"{t} {q}" for t, q in self.top_tenants())
        supplied = " + ".join(p.explain() for p in self.pools)
        verb = "allows" if len(self.pools) == 1 else "allow"
        return (
            f"{self.resource} is oversubscribed: tenant quotas ask for {self.demand} but {supplied} "
            f"{verb} {self.allowed} (short by {self.demand - self.allowed}); largest quotas: {top}. "
            "Add nodes, change the layout, raise the pool's overcommit, or lower those quotas"
        )


@dataclass(frozen=True)
class SweepCheck:
    tenant: str
    resource: str
    parallel: int
    per_trial: int
    quota: int

    @property
    def need(self) -> int:
        return self.parallel * self.per_trial

    @property
    def fits(self) -> bool:
        return self.need <= self.quota

    def problem(self) -> str | None:
        if self.fits:
            return None
        fitting = self.quota // self.per_trial
        return (
            f"a Katib sweep of {self.parallel} parallel trials x {self.per_trial} {self.resource} needs "
            f"{self.need}, but the tenant's quota requests.{self.resource} is {self.quota}: lower "
            f"katib.maxParallelTrials to {fitting} or raise the quota (within the pools' capacity)"
            if fitting
            else f"a Katib sweep asks for {self.resource} ({self.need} at {self.parallel} parallel trials) "
            f"but the tenant's quota requests.{self.resource} is {self.quota}"
        )


@dataclass(frozen=True)
class CapacityPlan:
    strategy: str
    enforce: bool
    slices: tuple[SliceType, ...]
    sweeps: tuple[SweepCheck, ...]
    pools: tuple[PoolSupply, ...] = field(default=())

    def slice(self, resource: str) -> SliceType:
        for line in self.slices:
            if line.resource == resource:
                return line
        raise KeyError(resource)

    def to_json(self) -> dict:
        """The plan as data: what `capacity.json` holds and the `gpuCapacity` stack output exports."""
        return {
            "migStrategy": self.strategy,
            "capacityCheck": "enforce" if self.enforce else "report",
            "pools": [
                {
                    "pool": p.pool,
                    "model": p.model,
                    "layout": p.layout,
                    "mode": p.mode,
                    "resource": p.resource,
                    "nodes": p.nodes,
                    "gpusPerNode": p.gpus_per_node,
                    "perGpu": p.per_gpu,
                    "supply": p.supply,
                    "overcommit": p.overcommit,
                    "allowed": p.allowed,
                }
                for p in self.pools
            ],
            "sliceTypes": [
                {
                    "resource": s.resource,
                    "pools": [p.pool for p in s.pools],
                    "supply": s.supply,
                    "allowed": s.allowed,
                    "demand": s.demand,
                    "headroom": s.headroom,
                    "status": s.status,
                    "quotas": [{"tenant": t, "quota": q} for t, q in s.quotas],
                }
                for s in self.slices
            ],
            "katibSweeps": [
                {
                    "tenant": k.tenant,
                    "resource": k.resource,
                    "maxParallelTrials": k.parallel,
                    "perTrial": k.per_trial,
                    "need": k.need,
                    "quota": k.quota,
                    "fits": k.fits,
                }
                for k in self.sweeps
            ],
            "problems": self.problems(),
        }

    def problems(self) -> list[str]:
        """Every way the plan does not hold (enforced or not: the report lists them either way)."""
        found = [p for s in self.slices if (p := s.problem())]
        found += [
            f"{s.resource}: no pool supplies it under mig.strategy {self.strategy}, but tenants hold quota for "
            f"{s.demand} ({', '.join(f'{t} {q}' for t, q in s.top_tenants())})"
            for s in self.slices
            if s.status == "unsupplied"
        ]
        found += [f"{k.tenant}: {p}" for k in self.sweeps if (p := k.problem())]
        return found


def plan(gpu: GpuConfig, tenants: Iterable[TenantConfig]) -> CapacityPlan:
    """The capacity plan of the pools in `gpu` against the tenants' GPU quotas and Katib sweeps."""
    tenants = list(tenants)
    strategy = gpu.strategy
    pools: list[PoolSupply] = []
    for index, pool in enumerate(gpu.pools):
        for resource, per_gpu in sorted(per_gpu_supply(pool, strategy).items()):
            pools.append(
                PoolSupply(
                    pool=pool.name,
                    index=index,
                    model=pool.model,
                    layout=pool.layout_name,
                    mode=pool.mode,
                    resource=resource,
                    nodes=pool.nodes.node_count,
                    gpus_per_node=pool.gpus_per_node,
                    per_gpu=per_gpu,
                    overcommit=pool.overcommit,
                )
            )
    quotas = {t.name: t.gpu_quota() for t in tenants}
    resources = sorted({p.resource for p in pools} | {r for q in quotas.values() for r, n in q.items() if n})
    slices = []
    for resource in resources:
        demand = sorted(
            ((name, q[resource]) for name, q in quotas.items() if q.get(resource, 0) > 0),
            key=lambda item: (-item[1], item[0]),
        )
        slices.append(SliceType(resource, tuple(p for p in pools if p.resource == resource), tuple(demand)))
    sweeps = []
    for tenant in tenants:
        if tenant.katib is None:
            continue
        for resource, per_trial in sorted(tenant.katib.resources_per_trial.items()):
            sweeps.append(
                SweepCheck(
                    tenant=tenant.name,
                    resource=resource,
                    parallel=tenant.katib.max_parallel_trials,
                    per_trial=per_trial,
                    quota=quotas[tenant.name].get(resource, 0),
                )
            )
    return CapacityPlan(strategy, gpu.enforce_capacity, tuple(slices), tuple(sweeps), tuple(pools))
