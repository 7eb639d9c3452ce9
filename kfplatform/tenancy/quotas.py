"""A tenant's ResourceQuota and LimitRange (and the Profile's quota, from the same numbers)."""
from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from ..config.stack import ContainerLimits
from ..config.tenant import TenantConfig
from ..k8s import child, meta

QUOTA_NAME = "tenant-quota"
LIMIT_RANGE_NAME = "tenant-container-limits"


def quota_hard(tenant: TenantConfig) -> dict[str, str]:
    """The `hard` map of every quota a tenant has: one source, so the Profile and ResourceQuota agree."""
    return {key: str(value) for key, value in sorted(tenant.quota.items())}


def tenant_quota(
    tenant: TenantConfig, namespace: str, parent: pulumi.Resource, depends_on: list[pulumi.Resource]
) -> k8s.core.v1.ResourceQuota:
    """The tenant's ResourceQuota: the same `hard` map as its Profile's resourceQuotaSpec."""
    return k8s.core.v1.ResourceQuota(
        f"{tenant.name}-quota",
        metadata=meta(QUOTA_NAME, namespace, component="tenant-quota"),
        spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=quota_hard(tenant)),
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
                    default_request=as_str(limits.default_request),
                    default=as_str(limits.default),
                    max=as_str(limits.max),
                )
            ]
        ),
        opts=child(parent, depends_on=depends_on),
    )
