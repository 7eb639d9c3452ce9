"""Kubeflow: the root of the area, wired into the Platform after the secrets plane."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..config.platform_config import TenantFile
from ..config.stack import StackConfig
from ..data.endpoints import data_endpoints
from .config import KubeflowConfig
from .gitops import WorkloadsGitOps
from .ha import ControlPlaneHA, install_wiring
from .identity import Identity, allowed_groups, dex_patches, oauth2_proxy_patches
from .roles import roles_patches
from . import patches
from .install import KubeflowInstall
from .pipelines import TenantPipelineDefaults, katib_patches, kfp_patches
from .release import COMPONENTS

if TYPE_CHECKING:
    from ..secrets.plane import SecretsPlane


def restart_on_rotation(
    by_component: Mapping[str, list[dict]], namespace_of: Mapping[str, str], secrets
) -> tuple[dict[str, list[dict]], dict[str, list[pulumi.Resource]]]:
    """Upstream Deployments read their credentials once, at start: restart them when those rotate.

    For each Deployment patch, the Secrets its pods read (`patches.secrets_read`) are looked up in
    the plane (`secrets.delivery`); when any of their Vault paths rotates, the pod template gets
    ROTATION_ANNOTATION = the paths' rotation markers, so a rotation rolls the pods through Argo CD.
    The component's Application depends on those ExternalSecrets: Pulumi updates them (and ESO
    refreshes the Secrets) before it hands Argo CD the changed patch. Returns (patches, deps).
    """
    from ..secrets.plane import ROTATION_ANNOTATION

    out: dict[str, list[dict]] = {}
    deps: dict[str, list[pulumi.Resource]] = {}
    for component, component_patches_ in by_component.items():
        namespace = namespace_of[component]
        out[component] = []
        for patch in component_patches_:
            if patch["target"].get("kind") != "Deployment":
                out[component].append(patch)
                continue
            paths: set[str] = set()
            for secret in sorted(patches.secrets_read(patches.parse(patch))):
                try:
                    external_secret, secret_paths = secrets.delivery(namespace, secret)
                except KeyError:
                    continue  # not the plane's (none of this program's credentials)
                deps.setdefault(component, []).append(external_secret)
                paths.update(secret_paths)
            marker = secrets.rotation_markers(sorted(paths))
            out[component].append(
                patches.with_template_annotations(patch, {ROTATION_ANNOTATION: marker}) if marker is not None else patch
            )
    return out, deps


def tenant_groups(tenants: Sequence[TenantFile]) -> list[str]:
    return sorted({g.group for t in tenants for g in t.config.groups})


def component_patches(stack: StackConfig, tenants: Sequence[TenantFile]) -> tuple[dict, dict, dict]:
    """(patches, replicas, ignoreDifferences) per install component, from typed inputs only."""
    config: KubeflowConfig = stack.kubeflow
    names = stack.cluster.namespaces
    data = data_endpoints(stack)
    groups = allowed_groups(config.identity, tenant_groups(tenants))
    by_component: dict[str, list[dict]] = {
        "pipelines": kfp_patches(data, config.pipelines),
        "katib": katib_patches(data),
        "dex": dex_patches(config.identity, stack.cluster.domain, names.auth, groups),
        "oauth2-proxy": oauth2_proxy_patches(config.identity, stack.cluster.domain, names.auth, groups),
        "kubeflow-roles": roles_patches(),
    }
    replicas: dict[str, list[dict]] = {}
    ignore: dict[str, list[dict]] = {}
    for component, wiring in install_wiring(config.control_plane, stack.cluster.topology_key).items():
        by_component.setdefault(component, []).extend(wiring["patches"])
        replicas[component] = wiring["replicas"]
        ignore[component] = wiring["ignore"]
    return by_component, replicas, ignore


@dataclass(frozen=True)
class KubeflowArgs:
    """What the Kubeflow box reads: the stack, the tenants, the secrets plane and the namespaces."""

    stack: StackConfig
    tenants: Sequence[TenantFile]
    secrets: SecretsPlane
    tenant_namespaces: Mapping[str, k8s.core.v1.Namespace]
    platform_namespaces: Mapping[str, k8s.core.v1.Namespace]  # the platform's Namespace resources by name


class Kubeflow(pulumi.ComponentResource):
    def __init__(self, name: str, args: KubeflowArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kfplatform:kubeflow:Kubeflow", name, None, opts)
        stack, tenants, secrets = args.stack, args.tenants, args.secrets
        tenant_namespaces, platform_namespaces = args.tenant_namespaces, args.platform_namespaces
        config = stack.kubeflow
        names = stack.cluster.namespaces
        here = pulumi.ResourceOptions(parent=self)

        self.identity = Identity("identity", config.identity, secrets, names.auth, names.oauth2_proxy, opts=here)
        self.ha = ControlPlaneHA("ha", config.control_plane, names, platform_namespaces, opts=here)
        patches_, replicas, ignore = component_patches(stack, tenants)
        ns_by_role = names.model_dump(by_alias=True)
        patches_, credential_deps = restart_on_rotation(
            patches_, {c: ns_by_role[COMPONENTS[c].namespace_role] for c in patches_}, secrets
        )
        components = [c for c in COMPONENTS if c not in config.skip_components]
        self.install = KubeflowInstall(
            "install", config.release, config.argocd, names, components, patches_, replicas, ignore,
            depends_on=self.identity.external_secrets, component_depends_on=credential_deps, opts=here,
        )
        self.pipelines = TenantPipelineDefaults(
            "pipelines", config.pipelines, data_endpoints(stack), stack.images.mirror, tenant_namespaces,
            kubeflow_namespace=names.kubeflow,
            poddefault_crd=[self.install.crd_installers["PodDefault"]] if "PodDefault" in self.install.crd_installers else [],
            opts=here,
        )
        self.gitops = WorkloadsGitOps(
            "gitops", config.workloads, config.argocd, [t.config for t in tenants], tenant_namespaces, opts=here
        )
        self.outputs = {
            "kubeflowRelease": {"tag": config.release.tag, "commit": config.release.commit, "repo": config.release.repo_url},
            "kubeflowControlPlaneFloors": {k: getattr(config.control_plane, k).min_replicas for k in self.ha.hpas},
            "kubeflowIdentity": {"issuer": config.identity.issuer_url, "clientId": config.identity.client_id},
            "kubeflowWorkloads": {"applicationSet": "tenant-workloads", "repo": config.workloads.repo_url},
        }
        self.register_outputs(self.outputs)
