"""WorkloadsGitOps: the daily path. One Argo CD Application per tenant, from the workloads repository.

Three paths, three blast radii (docs/gitops.md): the install (this program), the tenants
(`tenants/*.yaml`, this program), and the workloads (this ApplicationSet: pipelines,
InferenceServices, Katib Experiments, changed daily by the teams).

Each tenant's Application can reach its own namespace only: its AppProject allows that one
destination, namespaced kinds from `workloads.allowedKinds`, and nothing cluster-scoped. A serving
model is never deleted by a sync: every InferenceService the Application renders carries
`argocd.argoproj.io/sync-options: Prune=false,Delete=false`, added by the Application's own
kustomize patch, so the annotation is on the live object whatever the team's manifests say.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import pulumi

from ..config.tenant import Role, TenantConfig
from ..k8s import child, custom_resource, meta
from . import patches
from .config import ArgoCdConfig, WorkloadsConfig

COMPONENT = "kubeflow-gitops"
APPLICATION_SET = "tenant-workloads"
ISVC_GROUP, ISVC_KIND = "serving.kserve.io", "InferenceService"


def project_name(tenant: str) -> str:
    return f"tenant-{tenant}"


def tenant_path(config: WorkloadsConfig, tenant: str) -> str:
    return config.path_template.replace("{tenant}", tenant)


def isvc_no_prune_patch() -> dict:
    return patches.annotate(ISVC_KIND, {patches.PRUNE_PROTECT: patches.NO_PRUNE_NO_DELETE}, group=ISVC_GROUP)


def _kind(entry: str) -> dict:
    group, kind = entry.split("/")
    return {"group": group, "kind": kind}


def project_roles(tenant: TenantConfig) -> list[dict]:
    """Argo CD project roles from the tenant's IdP groups: edit may sync, view may look."""
    project = project_name(tenant.name)
    edit = [g.group for g in tenant.groups if g.role is Role.EDIT]
    view = [g.group for g in tenant.groups if g.role is Role.VIEW]
    roles = []
    if edit:
        roles.append({
            "name": "edit",
            "description": f"{tenant.name} engineers: see and sync their workloads",
            "groups": edit,
            "policies": [
                f"p, proj:{project}:edit, applications, get, {project}/*, allow",
                f"p, proj:{project}:edit, applications, sync, {project}/*, allow",
            ],
        })
    if view:
        roles.append({
            "name": "view",
            "description": f"{tenant.name} viewers",
            "groups": view,
            "policies": [f"p, proj:{project}:view, applications, get, {project}/*, allow"],
        })
    return roles


class WorkloadsGitOps(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: WorkloadsConfig,
        argocd: ArgoCdConfig,
        tenants: Sequence[TenantConfig],
        tenant_namespaces: Mapping[str, pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:kubeflow:WorkloadsGitOps", name, None, opts)
        self.projects = {}
        for tenant in sorted(tenants, key=lambda t: t.name):
            self.projects[tenant.name] = custom_resource(
                f"{name}-{tenant.name}-project",
                api_version="argoproj.io/v1alpha1",
                kind="AppProject",
                metadata=meta(project_name(tenant.name), argocd.namespace, component=COMPONENT,
                              extra_labels={"kfplatform.io/tenant": tenant.name}),
                spec={
                    "description": f"Workloads of {tenant.name}: its own namespace only",
                    "sourceRepos": [config.repo_url],
                    "destinations": [{"server": argocd.destination_server, "namespace": tenant.name}],
                    "clusterResourceWhitelist": [],
                    "namespaceResourceWhitelist": [_kind(k) for k in config.allowed_kinds],
                    "roles": project_roles(tenant),
                },
                opts=child(self, depends_on=[tenant_namespaces[tenant.name]] if tenant.name in tenant_namespaces else None),
            )
        elements = [{"tenant": t, "path": tenant_path(config, t)} for t in sorted(self.projects)]
        self.application_set = custom_resource(
            f"{name}-applicationset",
            api_version="argoproj.io/v1alpha1",
            kind="ApplicationSet",
            metadata=meta(APPLICATION_SET, argocd.namespace, component=COMPONENT),
            spec={
                "goTemplate": True,
                "goTemplateOptions": ["missingkey=error"],
                "generators": [{"list": {"elements": elements}}],
                # Removing a tenant deletes its Application, never its running workloads.
                "syncPolicy": {"preserveResourcesOnDeletion": True},
                "template": {
                    # No resources-finalizer: deleting an Application does not cascade.
                    "metadata": {
                        "name": "workloads-{{.tenant}}",
                        "labels": {"kfplatform.io/tenant": "{{.tenant}}", "app.kubernetes.io/part-of": "kubeflow-platform"},
                    },
                    "spec": {
                        "project": "tenant-{{.tenant}}",
                        "source": {
                            "repoURL": config.repo_url,
                            "targetRevision": config.target_revision,
                            "path": "{{.path}}",
                            "kustomize": {"patches": [isvc_no_prune_patch()]},
                        },
                        "destination": {"server": argocd.destination_server, "namespace": "{{.tenant}}"},
                        "syncPolicy": {
                            "automated": {"prune": True, "selfHeal": True},
                            "syncOptions": ["CreateNamespace=false", "PruneLast=true", "FailOnSharedResource=true", "ServerSideApply=true"],
                            "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
                        },
                    },
                },
            },
            opts=child(self, depends_on=list(self.projects.values())),
        )
        self.register_outputs({"applicationSet": APPLICATION_SET, "tenants": sorted(self.projects)})
