"""Tenant: everything one team gets, from one `tenants/<team>.yaml`."""
from __future__ import annotations

from typing import Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..config.loader import TenantFile
from ..config.network import NetworkConfig
from ..config.stack import TenancyConfig
from ..k8s import child, custom_resource, meta
from .network import TenantNetworkPolicies
from .quotas import quota_hard, tenant_limit_range, tenant_quota
from .rbac import tenant_contributors

TENANT_LABEL = "kfplatform.io/tenant"


class Tenant(pulumi.ComponentResource):
    """A team's namespace, Kubeflow Profile, quotas, contributors and network policies."""

    def __init__(
        self,
        name: str,
        tenant_file: TenantFile,
        tenancy: TenancyConfig,
        network: NetworkConfig,
        protect_namespace: bool,
        opts: pulumi.ResourceOptions | None = None,
        closed_quota: tuple[str, ...] = (),
    ):
        super().__init__("kfplatform:tenancy:Tenant", name, None, opts)
        tenant = tenant_file.config
        pss = tenancy.pod_security
        ns_labels = {
            TENANT_LABEL: tenant.name,
            "pod-security.kubernetes.io/enforce": pss.enforce,
            "pod-security.kubernetes.io/audit": pss.audit,
            "pod-security.kubernetes.io/warn": pss.warn,
        }
        if tenant.cost_center:
            ns_labels["kfplatform.io/cost-center"] = tenant.cost_center
        # The Profile controller adopts an existing namespace only when its `owner` annotation
        # names the Profile's owner; otherwise it refuses with "namespace already exist".
        self.namespace = k8s.core.v1.Namespace(
            f"{tenant.name}-namespace",
            metadata=meta(tenant.name, component="tenant", extra_labels=ns_labels, annotations={"owner": tenant.owner}),
            opts=child(self, protect=protect_namespace),
        )
        self.profile = custom_resource(
            f"{tenant.name}-profile",
            api_version="kubeflow.org/v1",
            kind="Profile",
            metadata=meta(tenant.name, component="tenant", extra_labels={TENANT_LABEL: tenant.name}),
            spec={
                "owner": {"kind": "User", "name": tenant.owner},
                "resourceQuotaSpec": {"hard": quota_hard(tenant, closed_quota)},
            },
            opts=child(self, depends_on=[self.namespace]),
        )
        in_namespace = [self.namespace]
        self.quota = tenant_quota(tenant, tenant.name, self, in_namespace, closed_quota)
        self.limit_range = tenant_limit_range(tenant, tenancy.container_limits, tenant.name, self, in_namespace)
        self.contributors = tenant_contributors(tenant, tenancy, self, in_namespace)
        self.network = TenantNetworkPolicies(
            f"{tenant.name}-network", tenant, network, self.namespace, opts=pulumi.ResourceOptions(parent=self)
        )
        self.register_outputs({"namespace": tenant.name})


class Tenants(pulumi.ComponentResource):
    """All tenant teams. Other areas use `namespaces` to put per-tenant objects in place."""

    def __init__(
        self,
        name: str,
        tenants: tuple[TenantFile, ...],
        tenancy: TenancyConfig,
        network: NetworkConfig,
        protect_namespaces: bool,
        opts: pulumi.ResourceOptions | None = None,
        closed_quota: Sequence[str] = (),
    ):
        """`closed_quota`: quota keys every tenant gets at 0 unless it names them (GPU resources)."""
        super().__init__("kfplatform:tenancy:Tenants", name, None, opts)
        self.tenants = {
            t.config.name: Tenant(
                t.config.name, t, tenancy, network, protect_namespaces, opts=pulumi.ResourceOptions(parent=self),
                closed_quota=tuple(closed_quota),
            )
            for t in tenants
        }
        self.namespaces = {name: tenant.namespace for name, tenant in self.tenants.items()}
        self.register_outputs({"namespaces": sorted(self.namespaces)})
