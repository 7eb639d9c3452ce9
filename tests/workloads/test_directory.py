"""The reference directory builds with real kustomize, validates against the upstream schemas, and
fits the platform: the kinds its AppProject allows, the compliance and SLO contracts of the
InferenceService, and a trigger whose every destination the team's network policies allow.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.parse

import pytest
import yaml

from kfplatform.config import load_platform_config
from kfplatform.data.endpoints import OBJECT_STORE_CA_CONFIGMAP, OBJECT_STORE_CA_KEY, data_endpoints
from kfplatform.kubeflow.pipelines import base_image_ref
from kfplatform.render.run import read_stack_config
from kfplatform.secrets.plane import GIT_CREDENTIALS_SECRET, TENANT_STORE
from tests.conftest import PROJECT_DIR, SHARED_DIR
from tests.kubeflow.test_kustomize_semantics import kubectl

EXAMPLE = PROJECT_DIR / "workloads" / "example" / "team-nlp"
VALIDATOR = SHARED_DIR / "tools" / "validate_manifests.py"
PAYLOAD_LOGGER = "http://kfplatform-payloads.logging.svc.cluster.local:8080/team-nlp"  # the compliance contract


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = subprocess.run([kubectl(), "kustomize", str(EXAMPLE)], check=True, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "KUBECONFIG": os.devnull})
    path = tmp_path_factory.mktemp("kustomize") / "manifests.yaml"
    path.write_text(out.stdout)
    return path, {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out.stdout) if d}


@pytest.fixture(scope="module")
def stack():
    raw, _ = read_stack_config(PROJECT_DIR, "prod")
    return load_platform_config("prod", raw, PROJECT_DIR).stack


@pytest.mark.skipif(not VALIDATOR.exists(), reason="../shared/tools/validate_manifests.py not present")
def test_every_object_validates_against_the_upstream_schemas(built):
    proc = subprocess.run([sys.executable, str(VALIDATOR), str(built[0])], capture_output=True, text=True, timeout=120)
    summary = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 0 and summary == f"{len(built[1])} documents, {len(built[1])} valid, 0 invalid", proc.stdout[-2000:]


def test_only_kinds_the_teams_appproject_allows_all_in_the_team_namespace(built, stack):
    allowed = set(stack.kubeflow.workloads.allowed_kinds)
    for (kind, name), obj in built[1].items():
        group = obj["apiVersion"].rpartition("/")[0]
        assert f"{group}/{kind}" in allowed, f"{kind}/{name}: Argo CD would refuse it (workloads.allowedKinds)"
        assert obj["metadata"]["namespace"] == "team-nlp"
    assert {k for k, _ in built[1]} == {"InferenceService", "CronJob", "ConfigMap", "ExternalSecret"}


def test_the_inference_service_meets_the_compliance_and_slo_contracts(built, stack):
    isvc = built[1][("InferenceService", "sentiment-classifier")]
    predictor = isvc["spec"]["predictor"]
    # The regulated-tenant admission policy's rule: oci://<images.mirror>/...@sha256:<64 hex>, payload logger mode all.
    assert re.fullmatch(rf"oci://{re.escape(stack.images.mirror)}/[a-z0-9._/-]+@sha256:[0-9a-f]{{64}}", predictor["model"]["storageUri"])
    assert predictor["logger"] == {"mode": "all", "url": PAYLOAD_LOGGER}
    # tenants/team-nlp.yaml `serving.inferenceServices[sentiment-classifier]` (observability) declares scaleToZero.
    assert predictor["minReplicas"] == 0
    assert isvc["metadata"]["labels"]["kfplatform.io/tenant"] == "team-nlp"
    # KServe canaries (canaryTrafficPercent) need Knative: Serverless mode, stated rather than defaulted.
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"
    assert "canaryTrafficPercent" not in predictor  # the directory starts with no canary in flight


def test_the_trigger_runs_the_mirrored_image_as_the_profile_editor_with_a_kfp_token(built, stack):
    cron = built[1][("CronJob", "sentiment-training-trigger")]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert container["image"] == base_image_ref(stack.kubeflow.pipelines, stack.images.mirror)
    assert spec["serviceAccountName"] == "default-editor" and spec["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in spec["volumes"]}
    (token,) = volumes["kfp-token"]["projected"]["sources"]
    assert token["serviceAccountToken"]["audience"] == "pipelines.kubeflow.org"  # the KFP API server's TokenReview audience
    assert volumes["object-store-ca"]["configMap"] == {
        "name": OBJECT_STORE_CA_CONFIGMAP, "items": [{"key": OBJECT_STORE_CA_KEY, "path": "ca.crt"}]}
    assert pod["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    # kustomize points the CronJob at the generated (content-hashed) ConfigMap holding the committed IR.
    generated = volumes["trigger"]["configMap"]["name"]
    assert generated.startswith("sentiment-training-trigger-") and ("ConfigMap", generated) in built[1]
    data = built[1][("ConfigMap", generated)]["data"]
    assert data["run-request.json"] == (EXAMPLE / "trigger" / "run-request.json").read_text()
    assert data["trigger.py"] == (EXAMPLE / "trigger" / "trigger.py").read_text()


def test_every_destination_of_the_trigger_and_the_pipeline_is_an_allowed_egress(built, stack):
    egress = stack.network.egress
    env = {e["name"]: e for e in built[1][("CronJob", "sentiment-training-trigger")]["spec"]["jobTemplate"]["spec"]
           ["template"]["spec"]["containers"][0]["env"]}
    kfp = urllib.parse.urlsplit(env["KFP_API"]["value"])
    service, namespace = kfp.hostname.split(".")[:2]
    assert (service, namespace) == ("ml-pipeline", egress["kfpApi"].namespace) and kfp.port in {p.port for p in egress["kfpApi"].ports}
    s3 = urllib.parse.urlsplit(env["S3_ENDPOINT"]["value"])
    data = data_endpoints(stack)
    assert s3.hostname == f"minio.{egress['objectStore'].namespace}.svc.cluster.local" and s3.scheme == "https"
    assert (s3.hostname, s3.port) == (data.object_store_host, data.object_store_port)
    assert env["DATASET_BUCKET"]["value"] == data.artifact_bucket
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "mlpipeline-minio-artifact"
    # The pipeline's own calls out of the namespace: GitLab (merge request) and the registry (model push).
    assert {"gitServer", "imageRegistry", "dns"} <= set(egress)


def test_push_credentials_come_from_the_teams_own_vault_tree(built):
    secret = built[1][("ExternalSecret", "model-push-credentials")]["spec"]
    assert secret["secretStoreRef"] == {"kind": "SecretStore", "name": TENANT_STORE}
    assert {d["remoteRef"]["key"] for d in secret["data"]} == {"tenants/team-nlp/model-push"}
    # The GitLab token the pipeline reads is the Secret the platform delivers to every tenant namespace.
    source = (EXAMPLE / "pipeline" / "sentiment_pipeline.py").read_text()
    assert f'GIT_SECRET = "{GIT_CREDENTIALS_SECRET}"' in source
