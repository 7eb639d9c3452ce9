"""Cross-checks between the Kubeflow area and the rest of the configuration."""
from __future__ import annotations

import re
from typing import Iterable

from ..config.errors import ConfigIssue
from ..config.platform_config import KEY_PREFIX, PlatformConfig

KEY = f"{KEY_PREFIX}kubeflow"


def _kubeflow(config: PlatformConfig) -> Iterable[ConfigIssue]:
    stack = config.stack
    kf = stack.kubeflow
    # HA across zones is what makes a zone outage a non-event; one zone cannot fail over.
    if stack.is_prod and len(stack.cluster.zones) < 2:
        yield ConfigIssue(
            config.stack_file, f"{KEY_PREFIX}cluster.zones",
            "prod spreads the Kubeflow control plane over zones: list at least 2 zones",
        )
    if kf.argocd.namespace in {t.config.name for t in config.tenants}:
        yield ConfigIssue(config.stack_file, f"{KEY}.argocd.namespace", f"{kf.argocd.namespace!r} is also a tenant name")
    if kf.argocd.namespace in stack.cluster.namespaces.names():
        yield ConfigIssue(
            config.stack_file, f"{KEY}.argocd.namespace",
            f"{kf.argocd.namespace!r} is a platform namespace; Argo CD runs in its own, existing namespace",
        )
    # Tenant groups become oauth2-proxy/Dex allow-lists and Argo CD project roles.
    for tenant in config.tenants:
        for i, binding in enumerate(tenant.config.groups):
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ._@:/-]*", binding.group) or '"' in binding.group:
                yield ConfigIssue(tenant.path, f"groups[{i}].group", f"{binding.group!r}: a group name the IdP can send")
    for i, group in enumerate(kf.identity.admin_groups):
        if group in {g.group for t in config.tenants for g in t.config.groups}:
            yield ConfigIssue(
                config.stack_file, f"{KEY}.identity.adminGroups[{i}]",
                f"{group!r} is also a tenant group; admin groups are for platform operators",
            )


# The area's cross-checks, in the order they run (composed by kfplatform/config/checks.py).
CHECKS = (_kubeflow,)
