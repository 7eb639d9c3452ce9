"""Namespaces a tenant can never take, derived from what this stack deploys (no hand-kept list).

A team's name is its namespace: the platform labels it, binds the team's groups in it and lets the
team's pods reach what lives there. A team named like a namespace the platform or the Kubeflow
install uses would be handed that namespace (its Secrets, its ServiceAccounts, its traffic).

Sources, each named in the error so a reader can see why a name is taken:
- the stack's platform namespaces (`cluster.namespaces`: Kubeflow, Istio, auth, oauth2-proxy, the
  data tier, monitoring, the operators, the GPU operator);
- Argo CD's namespace (`kubeflow.argocd.namespace`), where the install's Applications live;
- every namespace an allow-list names (`network.egress`/`network.ingress`: DNS, the log collector,
  Prometheus, ...): the platform's own services run there;
- the pinned Kubeflow install: each component's Application destination and the namespaces its
  upstream objects name at the pinned tag (`kubeflow/release.py`, `Component.upstream_namespaces`:
  cert-manager, knative-serving, istio-system, auth, oauth2-proxy, kubeflow, kube-system);
- Kubernetes' own: `default` and every `kube-*` (kube-system, kube-public, kube-node-lease, ...);
- the name the platform calls itself where teams are named (`kfplatform.alerts.PLATFORM_TEAM`,
  the `team` label of every platform alert, whose route drops the alerts of each team that has a
  receiver: a team `platform` with a receiver would silence every platform alert; and
  `compliance.shipper.PLATFORM`, the platform's own audit prefix, indices and auditor role, which
  a team `platform` would share).
A test renders each committed stack and checks every namespace an object lands in is derived here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .stack import StackConfig

KUBERNETES_PREFIX = "kube-"
KUBERNETES_NAMESPACES = {"default": "Kubernetes' default namespace"}


def reserved_namespaces(stack: "StackConfig") -> dict[str, str]:
    """Namespace -> why the platform holds it (the first reason found)."""
    from ..kubeflow.release import COMPONENTS

    reserved: dict[str, str] = {}

    def add(namespace: str | None, why: str) -> None:
        if namespace:
            reserved.setdefault(namespace, why)

    roles = stack.cluster.namespaces.model_dump(by_alias=True)
    for role, namespace in roles.items():
        add(namespace, f"the platform's {role} namespace (cluster.namespaces.{role})")
    add(stack.kubeflow.argocd.namespace, "Argo CD's namespace (kubeflow.argocd.namespace)")
    for direction in ("egress", "ingress"):
        for key, peer in getattr(stack.network, direction).items():
            add(peer.namespace, f"a platform service's namespace (network.{direction}.{key})")
    skipped = set(stack.kubeflow.skip_components)
    for name, component in COMPONENTS.items():
        why = f"used by Kubeflow's {name} component ({stack.kubeflow.release.tag})"
        if name in skipped:
            why += ", installed separately on this cluster"
        add(roles.get(component.namespace_role), why)
        for namespace in component.upstream_namespaces:
            add(namespace, why)
    for namespace, why in KUBERNETES_NAMESPACES.items():
        add(namespace, why)
    from ..alerts import PLATFORM_TEAM
    from ..compliance.shipper import PLATFORM as AUDIT_PLATFORM

    add(PLATFORM_TEAM, "the platform's own team name (label team=platform on every platform alert, kfplatform/alerts.py)")
    add(AUDIT_PLATFORM, "the platform's own audit trail (bucket prefix, indices, auditor role; kfplatform/compliance/shipper.py)")
    return reserved


def reserved_reason(namespace: str, stack: "StackConfig") -> str | None:
    """Why `namespace` cannot be a tenant's, or None if it is free."""
    if namespace.startswith(KUBERNETES_PREFIX):
        return "kube-* namespaces are Kubernetes' own"
    return reserved_namespaces(stack).get(namespace)
