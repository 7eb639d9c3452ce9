"""KubeflowInstall: the upstream manifests at the pinned commit, one Argo CD Application per component.

Argo CD (an existing service) builds each component with kustomize from kubeflow/manifests at
the release's commit, plus the patches this program generates (`spec.source.kustomize`): the
offline render shows every patch, and the Application schema validates them. Every Application:
- targets the full commit, never a branch; the tag is shown in `spec.info`;
- drops upstream Namespace objects of the platform's namespaces (PlatformNamespaces owns them)
  and protects CRDs from pruning and deletion (a pruned CRD deletes every object of its kind);
- drops the bundled stores (the data tier replaces them) and the upstream controllers whose
  objects this program owns (`release.REPLACED_UPSTREAM_*`: the pipelines profile controller);
- syncs automatically with self-heal, server-side apply, and `RespectIgnoreDifferences` for the
  HPA-owned `spec.replicas`;
- has no deletion finalizer: deleting an Application never cascades into Kubeflow itself.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import pulumi

from ..config.stack import PlatformNamespaces
from ..k8s import child, custom_resource, meta
from . import patches
from .config import ArgoCdConfig, ReleaseConfig
from .release import (
    BUNDLED_STORES_BY_LABEL,
    BUNDLED_STORES_BY_NAME,
    COMPONENTS,
    CRD_SOURCES,
    PROFILE_CONTROLLER,
    REPLACED_UPSTREAM_BY_LABEL,
    REPLACED_UPSTREAM_BY_NAME,
    UPSTREAM_HA_OBJECTS,
    VERIFIED_TAG_COMMITS,
)

COMPONENT = "kubeflow-install"
APP_PREFIX = "kubeflow-"


def release_commit_problem(release: ReleaseConfig) -> str | None:
    """A warning when the pinned commit is not the one verified for its tag (or the tag is new here)."""
    verified = VERIFIED_TAG_COMMITS.get(release.tag)
    if verified == release.commit:
        return None
    known = f"tag {release.tag} is commit {verified}" if verified else f"tag {release.tag}'s commit is not verified here"
    return (
        f"kubeflow release {release.tag}: commit {release.commit} is not the one verified for the tag ({known}); "
        "Argo CD syncs whatever that commit holds (docs/kubeflow-ha.md#upgrading-kubeflow-to-a-new-pinned-tag)"
    )


def application_name(component: str) -> str:
    return APP_PREFIX + component


def common_patches(platform_namespaces: Sequence[str]) -> list[dict]:
    names = "|".join(sorted(platform_namespaces))  # DNS labels: nothing to escape
    return [
        patches.delete("Namespace", name=f"^({names})$"),
        patches.annotate(
            "CustomResourceDefinition", {patches.PRUNE_PROTECT: patches.NO_PRUNE_NO_DELETE}, group="apiextensions.k8s.io"
        ),
    ]


def store_patches(component: str) -> list[dict]:
    """Drop the bundled databases/object stores (the data tier replaces them)."""
    out = []
    if component in BUNDLED_STORES_BY_LABEL:
        out.append(patches.delete_everything_labelled(BUNDLED_STORES_BY_LABEL[component]))
    for group, version, kind, name in BUNDLED_STORES_BY_NAME.get(component, []):
        out.append(patches.delete(kind, name=name, group=group, version=version))
    for group, kind, name in UPSTREAM_HA_OBJECTS.get(component, []):
        out.append(patches.delete(kind, name=name, group=group))
    return out


def replaced_upstream_patches(component: str) -> list[dict]:
    """Drop upstream controllers whose objects this program owns (one writer per object)."""
    out = []
    if component in REPLACED_UPSTREAM_BY_LABEL:
        out.append(patches.delete_everything_labelled(REPLACED_UPSTREAM_BY_LABEL[component]))
    for group, version, kind, name in REPLACED_UPSTREAM_BY_NAME.get(component, []):
        out.append(patches.delete(kind, name=name, group=group, version=version))
    return out


class KubeflowInstall(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        release: ReleaseConfig,
        argocd: ArgoCdConfig,
        namespaces: PlatformNamespaces,
        components: Sequence[str],
        component_patches: Mapping[str, list[dict]],
        replicas: Mapping[str, list[dict]],
        ignore_differences: Mapping[str, list[dict]],
        depends_on: Sequence[pulumi.Resource] = (),
        component_depends_on: Mapping[str, Sequence[pulumi.Resource]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`component_depends_on`: what one component's Application waits for besides `depends_on`
        (the ExternalSecrets of the credentials its patched Deployments read)."""
        super().__init__("kfplatform:kubeflow:KubeflowInstall", name, None, opts)
        ns_by_role = namespaces.model_dump(by_alias=True)
        problem = release_commit_problem(release)
        if problem:
            pulumi.log.warn(problem, resource=self)
        self.project = self._project(name, release, argocd)
        common = common_patches(list(ns_by_role.values()))
        self.applications = {}
        for component in components:
            kustomize = self._kustomize(component, common, component_patches, replicas)
            spec = self._application_spec(component, release, argocd, ns_by_role, kustomize)
            if ignore_differences.get(component):
                spec["ignoreDifferences"] = list(ignore_differences[component])
            annotations = None
            if component in CRD_SOURCES.values():
                # This program declares objects of the CRDs this component installs: `pulumi up`
                # waits until Argo CD has synced it, so those objects never race their CRD.
                annotations = {"pulumi.com/waitFor": "jsonpath={.status.sync.status}=Synced", "pulumi.com/timeoutSeconds": "900"}
            self.applications[component] = custom_resource(
                f"{name}-{component}",
                api_version="argoproj.io/v1alpha1",
                kind="Application",
                metadata=meta(
                    application_name(component), argocd.namespace, component=COMPONENT,
                    extra_labels={"kfplatform.io/kubeflow-component": component}, annotations=annotations,
                ),
                spec=spec,
                opts=child(self, depends_on=[self.project, *depends_on, *(component_depends_on or {}).get(component, [])]),
            )
        # kind -> the Application installing its CRD (absent when the component is skipped because
        # the cluster already has it).
        self.crd_installers: dict[str, pulumi.Resource] = {
            kind: self.applications[component] for kind, component in CRD_SOURCES.items() if component in self.applications
        }
        self.register_outputs({"release": release.tag, "commit": release.commit, "applications": sorted(self.applications)})

    def _project(self, name: str, release: ReleaseConfig, argocd: ArgoCdConfig) -> pulumi.Resource:
        """The AppProject of the install path: the pinned repository only, changed by this program only."""
        return custom_resource(
            f"{name}-project",
            api_version="argoproj.io/v1alpha1",
            kind="AppProject",
            metadata=meta(argocd.install_project, argocd.namespace, component=COMPONENT),
            spec={
                "description": f"Kubeflow {release.tag}: the install path, changed by the platform program only",
                "sourceRepos": [release.repo_url],
                "destinations": [{"server": argocd.destination_server, "namespace": "*"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            },
            opts=child(self),
        )

    @staticmethod
    def _kustomize(
        component: str, common: list[dict], component_patches: Mapping[str, list[dict]],
        replicas: Mapping[str, list[dict]],
    ) -> dict:
        """The platform's patches over upstream's kustomization of one component, and its replicas."""
        kustomize: dict = {
            "patches": [
                *common, *store_patches(component), *replaced_upstream_patches(component),
                *component_patches.get(component, []),
            ],
        }
        if replicas.get(component):
            kustomize["replicas"] = list(replicas[component])
        if component == PROFILE_CONTROLLER[0]:
            # Single replica by design (docs/kubeflow-ha.md): say so, so nobody scales it by accident.
            kustomize.setdefault("replicas", []).append({"name": PROFILE_CONTROLLER[1], "count": 1})
        return kustomize

    @staticmethod
    def _application_spec(
        component: str, release: ReleaseConfig, argocd: ArgoCdConfig, ns_by_role: Mapping[str, str], kustomize: dict,
    ) -> dict:
        upstream = COMPONENTS[component]
        return {
            "project": argocd.install_project,
            "info": [
                {"name": "kubeflow release", "value": release.tag},
                {"name": "upstream", "value": f"{release.repo_url} {upstream.path}"},
                {"name": "managed by", "value": "kubeflow-platform (Pulumi); edit the program, not this Application"},
            ],
            "source": {
                "repoURL": release.repo_url,
                "targetRevision": release.commit,
                "path": upstream.path,
                "kustomize": kustomize,
            },
            "destination": {"server": argocd.destination_server, "namespace": ns_by_role[upstream.namespace_role]},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["ServerSideApply=true", "RespectIgnoreDifferences=true", "PruneLast=true", "CreateNamespace=false"],
                "retry": {"limit": 10, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
            },
        }
