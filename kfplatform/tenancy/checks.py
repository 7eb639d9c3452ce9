"""Cross-checks of the tenants against the stack: what one file alone cannot tell.

- egress: every CIDR an allow-list opens (the stack's `network.egress`, a team's `egressProxy`) is
  checked against the cluster's ranges and the share limits (config/egress.py); a team's proxy may
  not be a platform namespace (its egress would pass the platform's fixed allow-list) nor another
  team's;
- identities: an IdP group with the stack's `oidcGroupsPrefix` never names a `system:*` group;
- quantities: a container's ceiling (`max`, else its default limit) fits the namespace's quota;
- names: every object name the tenancy components derive from free text is unique (a duplicate
  would be the engine's DuplicateResourceError halfway through `pulumi up`).
"""
from __future__ import annotations

from typing import Iterable

from ..config.egress import block_problems, union_problems
from ..config.errors import ConfigIssue
from ..config.identities import system_group_problem
from ..config.platform_config import KEY_PREFIX, PlatformConfig, TenantFile
from ..config.network import KUBERNETES_API, kebab
from ..config.quantity import parse_quantity
from ..config.reserved import reserved_reason
from ..config.stack import LIMIT_RESOURCES, StackConfig
from ..compliance.config import PAYLOAD_SINK_POLICY
from ..modelregistry.release import DATABASE_EGRESS_POLICY
from .rbac import binding_name, contributor_entries

# Quota keys a container's resource counts against (a bare `cpu` means requests.cpu).
QUOTA_KEYS = {resource: (f"limits.{resource}", f"requests.{resource}", resource) for resource in LIMIT_RESOURCES}


def stack_egress_cidrs(stack: StackConfig) -> list[str]:
    return [cidr for peer in stack.network.egress.values() for cidr in peer.cidrs]


def _cluster_ranges_declared(config: PlatformConfig) -> Iterable[ConfigIssue]:
    cluster = config.stack.cluster
    for key, value in (("podCidrs", cluster.pod_cidrs), ("serviceCidrs", cluster.service_cidrs)):
        if not value:
            yield ConfigIssue(
                config.stack_file, f"{KEY_PREFIX}cluster.{key}",
                "required: the cluster's pod and Service CIDRs, which no egress allow-list may reach into",
            )


def _stack_egress(config: PlatformConfig) -> Iterable[ConfigIssue]:
    stack = config.stack
    cluster, limits = stack.cluster, stack.network.cidr_limits
    for key, peer in stack.network.egress.items():
        for cidr in peer.cidrs:
            for problem in block_problems(cidr, limits, cluster.pod_cidrs, cluster.service_cidrs, key == KUBERNETES_API):
                yield ConfigIssue(config.stack_file, f"{KEY_PREFIX}network.egress.{key}.cidrs", problem)
    for problem in union_problems(stack_egress_cidrs(stack), limits, "the egress CIDRs of network.egress"):
        yield ConfigIssue(config.stack_file, f"{KEY_PREFIX}network.egress", problem)
    # Ingress by address is held to the same rules: a pod or Service range would admit every pod.
    for key, peer in stack.network.ingress.items():
        for cidr in peer.cidrs:
            for problem in block_problems(cidr, limits, cluster.pod_cidrs, cluster.service_cidrs):
                yield ConfigIssue(config.stack_file, f"{KEY_PREFIX}network.ingress.{key}.cidrs", problem)
    ingress = [cidr for peer in stack.network.ingress.values() for cidr in peer.cidrs]
    for problem in union_problems(ingress, limits, "the ingress CIDRs of network.ingress"):
        yield ConfigIssue(config.stack_file, f"{KEY_PREFIX}network.ingress", problem)


def _tenant_egress(config: PlatformConfig) -> Iterable[ConfigIssue]:
    stack = config.stack
    cluster, limits = stack.cluster, stack.network.cidr_limits
    teams = {t.config.name for t in config.tenants}
    # When the stack's own CIDRs are already too much, that is reported once, at the stack.
    stack_over = bool(union_problems(stack_egress_cidrs(stack), limits, ""))
    for tenant in config.tenants:
        proxy = tenant.config.egress_proxy
        if proxy is None:
            continue
        if proxy.namespace:
            why = reserved_reason(proxy.namespace, stack)
            if why:
                yield ConfigIssue(
                    tenant.path, "egressProxy.namespace",
                    f"{proxy.namespace!r} is {why}: teams reach platform services through the stack's "
                    "network.egress allow-list only",
                )
            elif proxy.namespace in teams:
                yield ConfigIssue(
                    tenant.path, "egressProxy.namespace",
                    f"{proxy.namespace!r} is a team's namespace; an egress proxy is a shared service, not another team",
                )
        for cidr in proxy.cidrs:
            for problem in block_problems(cidr, limits, cluster.pod_cidrs, cluster.service_cidrs):
                yield ConfigIssue(tenant.path, "egressProxy.cidrs", problem)
        if proxy.cidrs and not stack_over:
            what = "egressProxy.cidrs with the stack's network.egress CIDRs (what this team's pods may reach)"
            for problem in union_problems([*stack_egress_cidrs(stack), *proxy.cidrs], limits, what):
                yield ConfigIssue(tenant.path, "egressProxy.cidrs", problem)


def _system_groups(config: PlatformConfig) -> Iterable[ConfigIssue]:
    prefix = config.stack.tenancy.oidc_groups_prefix
    for tenant in config.tenants:
        for i, binding in enumerate(tenant.config.groups):
            problem = system_group_problem(binding.group, prefix)
            if problem:
                yield ConfigIssue(tenant.path, f"groups[{i}].group", problem)


def _container_ceiling_within_quota(config: PlatformConfig) -> Iterable[ConfigIssue]:
    stack_limits = config.stack.tenancy.container_limits
    for tenant in config.tenants:
        own = tenant.config.container_limits
        effective = (own or stack_limits).effective()
        quota = tenant.config.quota
        for resource in LIMIT_RESOURCES:
            ceiling_map = "max" if resource in effective["max"] else "default"
            ceiling = effective[ceiling_map].get(resource)
            if ceiling is None:
                continue
            for key in QUOTA_KEYS[resource]:
                if key in quota and parse_quantity(ceiling) > parse_quantity(quota[key]):
                    where = f"containerLimits.{ceiling_map}.{resource}" if own else f"quota.{key}"
                    source = "" if own else f" (the stack's {KEY_PREFIX}tenancy.containerLimits applies)"
                    yield ConfigIssue(
                        tenant.path, where,
                        f"a container may have {ceiling_map}.{resource} {ceiling}{source}, above the namespace quota "
                        f"{key} {quota[key]}: such a container can never start; lower the container ceiling or "
                        "raise the quota",
                    )
                    break


def tenancy_object_names(tenant: TenantFile, stack: StackConfig) -> list[tuple[str, str, str]]:
    """(kind, namespace, name) of every tenancy object named from free text, as the components name them."""
    ns = tenant.config.name
    names = [("NetworkPolicy", ns, "default-deny"), ("NetworkPolicy", ns, "allow-same-namespace")]
    names += [("NetworkPolicy", ns, f"allow-egress-{kebab(key)}") for key in stack.network.egress]
    names += [("NetworkPolicy", ns, f"allow-ingress-{kebab(key)}") for key in stack.network.ingress]
    if tenant.config.egress_proxy is not None:
        names.append(("NetworkPolicy", ns, "allow-egress-proxy"))
    # Other areas' policies in every (or an opted-in) tenant namespace: an allow-list key must not take their names.
    names.append(("NetworkPolicy", ns, PAYLOAD_SINK_POLICY))
    if tenant.config.model_registry:
        names.append(("NetworkPolicy", ns, DATABASE_EGRESS_POLICY))
    for kind, subject, role in contributor_entries(tenant.config):
        name = binding_name(kind, subject, role)
        names += [("RoleBinding", ns, name), ("AuthorizationPolicy", ns, name)]
    return names


def _unique_object_names(config: PlatformConfig) -> Iterable[ConfigIssue]:
    """Kubernetes names per namespace, and Pulumi names (`<namespace>-<name>`) across all tenants."""
    pulumi_names: dict[tuple[str, str], str] = {}
    for tenant in config.tenants:
        seen: set[tuple[str, str, str]] = set()
        for kind, ns, name in tenancy_object_names(tenant, config.stack):
            if (kind, ns, name) in seen:
                yield ConfigIssue(tenant.path, "", f"two {kind}s would be named {ns}/{name}; rename one source")
            seen.add((kind, ns, name))
            resource = (kind, f"{ns}-{name}")
            other = pulumi_names.setdefault(resource, tenant.path)
            if other != tenant.path:
                yield ConfigIssue(
                    tenant.path, "name",
                    f"its {kind} {name!r} and one of {other} share the Pulumi resource name {resource[1]!r}; "
                    "rename one team",
                )


# The area's cross-checks, in the order they run (composed by kfplatform/config/checks.py).
CHECKS = (
    _cluster_ranges_declared, _stack_egress, _tenant_egress, _system_groups, _container_ceiling_within_quota,
    _unique_object_names,
)
