"""Tenant: everything one team gets, from one `tenants/<team>.yaml`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..config.platform_config import TenantFile
from ..config.network import NetworkConfig
from ..config.stack import TenancyConfig
from ..k8s import child, custom_resource, meta
from .network import TenantNetworkPolicies
from .quotas import quota_hard, tenant_limit_range, tenant_quota
from .rbac import tenant_contributors

TENANT_LABEL = "kfplatform.io/tenant"


@dataclass(frozen=True)
class TenantNamespacesArgs:
    """The teams whose namespaces are made, and how: labels, protection."""

    tenants: Sequence[TenantFile]
    tenancy: TenancyConfig
    protect: bool
    extra_labels: Mapping[str, Mapping[str, str]] | None = None


class TenantNamespaces(pulumi.ComponentResource):
    """Each team's namespace: made first, since every other area puts per-tenant objects in it.

    Protected in prod: deleting a namespace deletes the team's volumes, notebooks and runs.
    """

    def __init__(self, name: str, args: TenantNamespacesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kfplatform:tenancy:TenantNamespaces", name, None, opts)
        tenants, tenancy, protect = args.tenants, args.tenancy, args.protect
        extra_labels = args.extra_labels
        pss = tenancy.pod_security
        self.namespaces: dict[str, k8s.core.v1.Namespace] = {}
        for tenant in (t.config for t in tenants):
            labels = {
                TENANT_LABEL: tenant.name,
                "pod-security.kubernetes.io/enforce": pss.enforce,
                "pod-security.kubernetes.io/audit": pss.audit,
                "pod-security.kubernetes.io/warn": pss.warn,
            }
            if tenant.cost_center:
                labels["kfplatform.io/cost-center"] = tenant.cost_center
            # Other areas' per-tenant labels (e.g. compliance level: kfplatform/compliance).
            labels.update((extra_labels or {}).get(tenant.name, {}))
            # The Profile controller adopts an existing namespace only when its `owner` annotation
            # names the Profile's owner; otherwise it refuses with "namespace already exist".
            self.namespaces[tenant.name] = k8s.core.v1.Namespace(
                f"{tenant.name}-namespace",
                metadata=meta(tenant.name, component="tenant", extra_labels=labels, annotations={"owner": tenant.owner}),
                opts=child(self, protect=protect),
            )
        self.register_outputs({"namespaces": sorted(self.namespaces)})


class Tenant(pulumi.ComponentResource):
    """A team's Kubeflow Profile, quotas, contributors and network policies, in its namespace.

    `crd_installers`: kind -> the resource that installs that kind's CRD (Kubeflow's Applications);
    the Profile and the AuthorizationPolicies wait for theirs.
    """

    def __init__(
        self,
        name: str,
        tenant_file: TenantFile,
        namespace: k8s.core.v1.Namespace,
        tenancy: TenancyConfig,
        network: NetworkConfig,
        crd_installers: Mapping[str, pulumi.Resource],
        closed_quota: tuple[str, ...] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:tenancy:Tenant", name, None, opts)
        tenant = tenant_file.config
        self.namespace = namespace
        in_namespace = [namespace]

        def with_crd(kind: str) -> list[pulumi.Resource]:
            return [namespace, *([crd_installers[kind]] if kind in crd_installers else [])]

        self.profile = custom_resource(
            f"{tenant.name}-profile",
            api_version="kubeflow.org/v1",
            kind="Profile",
            metadata=meta(tenant.name, component="tenant", extra_labels={TENANT_LABEL: tenant.name}),
            spec={
                "owner": {"kind": "User", "name": tenant.owner},
                "resourceQuotaSpec": {"hard": quota_hard(tenant, closed_quota)},
            },
            opts=child(self, depends_on=with_crd("Profile")),
        )
        self.quota = tenant_quota(tenant, tenant.name, self, in_namespace, closed_quota)
        self.limit_range = tenant_limit_range(tenant, tenancy.container_limits, tenant.name, self, in_namespace)
        self.contributors = tenant_contributors(tenant, tenancy, self, in_namespace, with_crd("AuthorizationPolicy"))
        self.network = TenantNetworkPolicies(
            f"{tenant.name}-network", tenant, network, namespace, opts=pulumi.ResourceOptions(parent=self)
        )
        self.register_outputs({"namespace": tenant.name})


@dataclass(frozen=True)
class TenantsArgs:
    """The teams, their namespaces (made by TenantNamespaces) and the stack's tenancy and network settings."""

    tenants: Sequence[TenantFile]
    namespaces: Mapping[str, k8s.core.v1.Namespace]
    tenancy: TenancyConfig
    network: NetworkConfig
    crd_installers: Mapping[str, pulumi.Resource] | None = None
    closed_quota: Sequence[str] = ()  # quota keys every tenant gets at 0 unless it names them (GPU resources)


class Tenants(pulumi.ComponentResource):
    """All tenant teams, in the namespaces TenantNamespaces made."""

    def __init__(self, name: str, args: TenantsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kfplatform:tenancy:Tenants", name, None, opts)
        tenants, namespaces, tenancy = args.tenants, args.namespaces, args.tenancy
        network, crd_installers, closed_quota = args.network, args.crd_installers, args.closed_quota
        self.tenants = {
            t.config.name: Tenant(
                t.config.name, t, namespaces[t.config.name], tenancy, network, crd_installers or {},
                closed_quota=tuple(closed_quota), opts=pulumi.ResourceOptions(parent=self),
            )
            for t in tenants
        }
        self.register_outputs({"tenants": sorted(self.tenants)})
