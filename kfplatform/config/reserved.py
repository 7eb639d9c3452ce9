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
- Kubernetes' own: `default` and every `kube-*` (kube-system, kube-public, kube-node-lease, ...).
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
    return reserved


def reserved_reason(namespace: str, stack: "StackConfig") -> str | None:
    """Why `namespace` cannot be a tenant's, or None if it is free."""
    if namespace.startswith(KUBERNETES_PREFIX):
        return "kube-* namespaces are Kubernetes' own"
    return reserved_namespaces(stack).get(namespace)
