"""A tenant's ResourceQuota and LimitRange (and the Profile's quota, from the same numbers)."""
from __future__ import annotations

from typing import Iterable

import pulumi
import pulumi_kubernetes as k8s

from ..config.stack import ContainerLimits
from ..config.tenant import TenantConfig
from ..k8s import child, meta

QUOTA_NAME = "tenant-quota"
LIMIT_RANGE_NAME = "tenant-container-limits"


def quota_hard(tenant: TenantConfig, closed: Iterable[str] = ()) -> dict[str, str]:
    """The `hard` map of every quota a tenant has: one source, so the Profile and ResourceQuota agree.

    `closed`: keys the tenant gets at 0 unless its file names them. A ResourceQuota does not limit
    an extended resource it does not list (GPUs, MIG slices), so every tenant lists them all.
    """
    hard = {key: "0" for key in closed}
    hard.update({key: str(value) for key, value in tenant.quota.items()})
    return dict(sorted(hard.items()))


def tenant_quota(
    tenant: TenantConfig,
    namespace: str,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
    closed: Iterable[str] = (),
) -> k8s.core.v1.ResourceQuota:
    """The tenant's ResourceQuota: the same `hard` map as its Profile's resourceQuotaSpec."""
    return k8s.core.v1.ResourceQuota(
        f"{tenant.name}-quota",
        metadata=meta(QUOTA_NAME, namespace, component="tenant-quota"),
        spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=quota_hard(tenant, closed)),
        opts=child(parent, depends_on=depends_on),
    )


def tenant_limit_range(
    tenant: TenantConfig, limits: ContainerLimits, namespace: str, parent: pulumi.Resource, depends_on: list[pulumi.Resource]
) -> k8s.core.v1.LimitRange:
    """Container defaults and ceilings: the tenant's own, else the stack's."""
    limits = tenant.container_limits or limits
    def as_str(values: dict) -> dict[str, str]:
        return {str(k): str(v) for k, v in values.items()}

    return k8s.core.v1.LimitRange(
        f"{tenant.name}-limits",
        metadata=meta(LIMIT_RANGE_NAME, namespace, component="tenant-quota"),
        spec=k8s.core.v1.LimitRangeSpecArgs(
            limits=[
                k8s.core.v1.LimitRangeItemArgs(
                    type="Container",
                    min=as_str(limits.min) or None,
                    default_request=as_str(limits.default_request),
                    default=as_str(limits.default),
                    max=as_str(limits.max),
                )
            ]
        ),
        opts=child(parent, depends_on=depends_on),
    )
