"""One writer of a tenant's `mlpipeline-minio-artifact`: the tenant's own ExternalSecret.

Upstream's pipelines profile controller (kubeflow/pipelines `sync.py`, run by metacontroller) also
writes `mlpipeline-minio-artifact` into every namespace labelled `pipelines.kubeflow.org/enabled`:
with the platform's all-bucket key (KFP up to 2.14), or with a key it mints through SeaweedFS's IAM
API (2.15 and later), which the data tier's MinIO does not have. It is therefore not installed, and
the platform provides per tenant what it did (docs/kubeflow-ha.md, "Artifact credentials").
"""
from __future__ import annotations

from kfplatform.data.endpoints import TENANT_ARTIFACT_SECRET
from kfplatform.kubeflow import patches

from .conftest import app_patches, container_env, patches_for

PIPELINES_PROFILE_CONTROLLER = "kubeflow-pipelines-profile-controller"  # upstream's name and `app` label


def test_only_the_tenants_external_secret_writes_its_artifact_credentials(prod):
    for tenant in prod.exports["tenantNamespaces"]:
        writers = [
            o for o in prod.kubernetes_objects()
            if o["metadata"].get("namespace") == tenant
            and ((o["kind"] == "Secret" and o["metadata"]["name"] == TENANT_ARTIFACT_SECRET)
                 or (o["kind"] == "ExternalSecret" and o["spec"]["target"]["name"] == TENANT_ARTIFACT_SECRET))
        ]
        assert [w["kind"] for w in writers] == ["ExternalSecret"]
        (external_secret,) = writers
        assert {d["remoteRef"]["key"] for d in external_secret["spec"]["data"]} == {f"tenants/{tenant}/object-store"}


def test_the_upstream_pipelines_profile_controller_is_not_installed(prod):
    """It writes `mlpipeline-minio-artifact` (and `kfp-launcher`) into every profile namespace."""
    bodies = [(p.get("target", {}), patches.parse(p)) for p in app_patches(prod, "pipelines")]
    deleted = {(t.get("kind"), t.get("name"), t.get("labelSelector")) for t, body in bodies if body.get("$patch") == "delete"}
    assert (None, None, f"app={PIPELINES_PROFILE_CONTROLLER}") in deleted  # everything of its kustomization
    for kind in ("DecoratorController", "Deployment", "Service"):
        assert (kind, PIPELINES_PROFILE_CONTROLLER, None) in deleted  # and by name, should the label change


def test_what_the_profile_controller_provided_comes_from_the_platform(prod):
    for tenant in prod.exports["tenantNamespaces"]:
        grpc = prod.find("ConfigMap", "metadata-grpc-configmap", tenant)["data"]
        assert grpc == {"METADATA_GRPC_SERVICE_HOST": "metadata-grpc-service.kubeflow", "METADATA_GRPC_SERVICE_PORT": "8080"}


def test_the_ui_reads_artifacts_itself_not_through_per_namespace_proxies(prod):
    (patch,) = [p for p in patches_for(prod, "pipelines", "Deployment", "ml-pipeline-ui")
                if "env" in p["spec"]["template"]["spec"]["containers"][0]]
    env = container_env(patch, "ml-pipeline-ui")
    assert env["ARTIFACTS_SERVICE_PROXY_ENABLED"] == {"name": "ARTIFACTS_SERVICE_PROXY_ENABLED", "value": "false", "valueFrom": None}
