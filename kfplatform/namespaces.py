"""PlatformNamespaces: the namespaces the platform itself runs in, labelled and protected."""
from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from .config.stack import PlatformNamespaces as NamespaceNames
from .k8s import child, meta

# Namespaces whose pods need host access: Istio's CNI node agent; the GPU operator's daemonsets
# (driver, container toolkit, device plugin, MIG manager); the audit shipper, which reads the API
# server's audit log from the control-plane nodes (hostPath); Velero's node agent, which reads the
# pods' volumes through the kubelet's directory (hostPath) for file-system backups (kfplatform/backup).
PRIVILEGED = {"istio", "gpuOperator", "audit", "backup"}  # keys as in config (camelCase)
# Namespaces whose pods get Istio sidecars: Kubeflow's services sit behind AuthorizationPolicies
# (upstream's common/kubeflow-namespace sets this label; the platform owns the namespace instead).
# The payload sink (logging) too: its AuthorizationPolicies need the tenants' mTLS identities.
ISTIO_INJECTED = {"kubeflow", "logging"}


class PlatformNamespaces(pulumi.ComponentResource):
    def __init__(self, name: str, names: NamespaceNames, protect: bool, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kfplatform:core:PlatformNamespaces", name, None, opts)
        self.names = names
        self.by_role: dict[str, k8s.core.v1.Namespace] = {}
        for role, ns in names.model_dump(by_alias=True).items():
            enforce = "privileged" if role in PRIVILEGED else "baseline"
            self.by_role[role] = k8s.core.v1.Namespace(
                f"ns-{ns}",
                metadata=meta(
                    ns,
                    component="platform",
                    extra_labels={
                        "pod-security.kubernetes.io/enforce": enforce,
                        "pod-security.kubernetes.io/warn": "restricted",
                        "kfplatform.io/platform-namespace": role,
                        **({"istio-injection": "enabled"} if role in ISTIO_INJECTED else {}),
                    },
                ),
                opts=child(self, protect=protect),
            )
        self.register_outputs({"namespaces": names.model_dump(by_alias=True)})

    @property
    def by_name(self) -> dict[str, k8s.core.v1.Namespace]:
        """Namespace resources by namespace name (`kubeflow-db`), for objects to depend on."""
        roles = self.names.model_dump(by_alias=True)
        return {roles[role]: ns for role, ns in self.by_role.items()}

    def __getitem__(self, role: str) -> k8s.core.v1.Namespace:
        return self.by_role[role]
