"""Auto-built Python components use the mirrored base image and the internal PyPI mirror."""
import json

import yaml

from kfplatform.images import is_digest_pinned

from .conftest import container_env, patches_for

PIP = "https://pypi.ml.example.com/simple"


def test_api_server_patches_every_compiled_workflow_with_the_pip_mirror(prod):
    (patch,) = [p for p in patches_for(prod, "pipelines", "Deployment", "ml-pipeline")
                if "env" in p["spec"]["template"]["spec"]["containers"][0]]
    spec_patch = json.loads(container_env(patch, "ml-pipeline-api-server")["COMPILED_PIPELINE_SPEC_PATCH"]["value"])
    pod_patch = json.loads(spec_patch["podSpecPatch"])
    (main,) = pod_patch.pop("containers")
    pod_patch.pop("volumes", None)  # the object store's CA (test_object_store_tls.py)
    assert not pod_patch and main["name"] == "main"  # only `main`: every pod Argo creates for KFP has one
    # PIP_INDEX_URL here; SSL_CERT_DIR (the object store's CA) is test_object_store_tls.py's.
    assert {e["name"]: e["value"] for e in main["env"]}["PIP_INDEX_URL"] == PIP


def test_every_tenant_gets_the_base_image_and_pip_mirror(each_stack):
    for tenant in each_stack.exports["tenantNamespaces"]:
        defaults = each_stack.find("ConfigMap", "kfp-platform-defaults", tenant)["data"]
        assert defaults["pipIndexUrl"] == PIP
        assert defaults["baseImage"].startswith("registry.ml.example.com/mirror/library/python:3.12-slim-bookworm@sha256:")
        assert is_digest_pinned(defaults["baseImage"])
        notebooks = each_stack.find("PodDefault", "kfp-platform-defaults", tenant)["spec"]
        assert {e["name"]: e["value"] for e in notebooks["env"]} == {"PIP_INDEX_URL": PIP, "KFP_BASE_IMAGE": defaults["baseImage"]}
        steps = each_stack.find("PodDefault", "kfp-pipeline-pip-mirror", tenant)["spec"]
        assert steps["selector"] == {"matchLabels": {"pipelines.kubeflow.org/v2_component": "true"}}


def test_tenant_pipeline_root_is_its_own_prefix_on_minio_over_tls(prod):
    launcher = prod.find("ConfigMap", "kfp-launcher", "team-nlp")["data"]
    assert launcher["defaultPipelineRoot"] == "minio://mlpipeline/private-artifacts/team-nlp/v2/artifacts"
    minio = yaml.safe_load(launcher["providers"])["minio"]["default"]
    assert minio["endpoint"] == "minio.kubeflow-minio.svc.cluster.local:443" and minio["disableSSL"] is False
    assert minio["credentials"]["secretRef"]["secretName"] == "mlpipeline-minio-artifact"


def test_public_index_and_unpinned_base_image_are_refused(issues):
    (found,) = issues("prod", lambda kf: kf["pipelines"].update(pipIndexUrl="https://pypi.org/simple"))
    assert "internal PyPI mirror" in found
    (found,) = issues("prod", lambda kf: kf["pipelines"]["baseImage"].update(digest="latest"))
    assert found.startswith("kubeflow-platform:kubeflow.pipelines.baseImage.digest:")
