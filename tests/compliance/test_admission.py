"""The regulated-inference admission policy, evaluated by a real CEL implementation (cel-python)
on the policy the prod stack renders, against the InferenceServices a regulated team might send."""
from __future__ import annotations


import pytest

from kfplatform.compliance.admission import MODEL_DIGEST_ANNOTATION, oci_model_pattern

from .helpers import AdmissionPolicy

MIRROR = "registry.ml.example.com/mirror"  # Pulumi.prod.yaml images.mirror
DIGEST = "sha256:" + "4f" * 32
NS = "team-forecasting"
SINK = f"http://kfplatform-payloads.logging.svc.cluster.local:8080/{NS}"


def isvc(storage_uri: str | None = f"oci://{MIRROR}/models/demand-forecast:2026.11@{DIGEST}", *, digest: str | None = DIGEST,
         logger: dict | None = None) -> dict:
    predictor: dict = {"model": {"modelFormat": {"name": "sklearn"}}}
    if storage_uri is not None:
        predictor["model"]["storageUri"] = storage_uri
    predictor["logger"] = logger if logger is not None else {"mode": "all", "url": SINK, "metadataAnnotations": [MODEL_DIGEST_ANNOTATION]}
    annotations = {MODEL_DIGEST_ANNOTATION: digest} if digest else {}
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "demand-forecast", "namespace": NS, "annotations": annotations}, "spec": {"predictor": predictor}}


@pytest.fixture(scope="module")
def policy(prod) -> AdmissionPolicy:
    return AdmissionPolicy(prod.find("ValidatingAdmissionPolicy", "kfplatform-regulated-inference")["spec"])


def test_a_signed_digest_pinned_oci_model_with_the_payload_logger_is_admitted(policy):
    assert policy.failures(isvc(), NS) == []
    # A digest without a tag is as good.
    assert policy.failures(isvc(f"oci://{MIRROR}/models/demand-forecast@{DIGEST}"), NS) == []


@pytest.mark.parametrize("uri, why", [
    (f"oci://{MIRROR}/models/demand-forecast:2026.11", "tag only: the tag can be moved"),
    (f"oci://{MIRROR}/models/demand-forecast:latest", "tag only"),
    (f"oci://docker.io/acme/demand-forecast@{DIGEST}", "public registry"),
    (f"oci://ghcr.io/acme/demand-forecast:1@{DIGEST}", "public registry"),
    (f"oci://{MIRROR}-evil/models/x@{DIGEST}", "a registry path that only starts like the mirror"),
    (f"oci://registry.ml.example.com/mirror.evil.com/x@{DIGEST}", "the mirror's host as a path prefix of another"),
    (f"oci://{MIRROR}/../other/x@{DIGEST}", "path traversal"),
    (f"oci://{MIRROR}/models/x@sha256:{'4f' * 31}", "short digest"),
    (f"oci://{MIRROR}/models/x@sha256:{'4F' * 32}", "upper-case digest"),
    (f"oci://{MIRROR}/models/x@{DIGEST}\n", "trailing newline"),
    ("s3://mlpipeline/models/demand-forecast/", "s3:// carries no signature the cluster checks"),
    ("gs://models/demand-forecast", "another object store"),
    (f"https://{MIRROR}/models/x@{DIGEST}", "not oci://"),
    (None, "no storageUri"),
])
def test_models_that_are_not_signed_oci_images_from_the_mirror_are_refused(policy, uri, why):
    failures = policy.failures(isvc(uri, digest=DIGEST), NS)
    assert any("storageUri must be a digest-pinned OCI model image" in f for f in failures), why


@pytest.mark.parametrize("logger", [
    {},
    {"mode": "request", "url": SINK, "metadataAnnotations": [MODEL_DIGEST_ANNOTATION]},
    {"mode": "all", "metadataAnnotations": [MODEL_DIGEST_ANNOTATION]},
    {"mode": "all", "url": SINK.replace(NS, "team-nlp"), "metadataAnnotations": [MODEL_DIGEST_ANNOTATION]},
    {"mode": "all", "url": "http://collector.attacker.example.com/", "metadataAnnotations": [MODEL_DIGEST_ANNOTATION]},
    {"mode": "all", "url": SINK},
    {"mode": "all", "url": SINK, "metadataAnnotations": []},
])
def test_the_payload_logger_must_send_everything_to_the_tenants_own_sink(policy, logger):
    body = isvc()
    if logger:
        body["spec"]["predictor"]["logger"] = logger
    else:
        del body["spec"]["predictor"]["logger"]
    failures = policy.failures(body, NS)
    assert len(failures) == 1 and "spec.predictor.logger must be" in failures[0]
    assert SINK in failures[0]  # the messageExpression names the right URL for this namespace


def test_the_sink_url_is_the_namespace_s_own(policy):
    # team-nlp's sink URL is refused in team-forecasting (posts there would land in another tenant's index).
    body = isvc(logger={"mode": "all", "url": SINK, "metadataAnnotations": [MODEL_DIGEST_ANNOTATION]})
    assert policy.failures(body, "team-nlp")


@pytest.mark.parametrize("digest", [None, "sha256:" + "00" * 32, "4f" * 32])
def test_the_model_digest_annotation_must_name_the_served_digest(policy, digest):
    failures = policy.failures(isvc(digest=digest), NS)
    assert len(failures) == 1 and MODEL_DIGEST_ANNOTATION in failures[0]


@pytest.mark.parametrize("field, value", [
    ("sklearn", {"storageUri": "s3://mlpipeline/m"}),
    ("huggingface", {"args": ["--model_id=some/public-model"]}),
    ("storageUris", [{"uri": "s3://mlpipeline/m", "mountPath": "/mnt/models"}]),
    ("containers", [{"name": "kserve-container", "image": f"{MIRROR}/x@{DIGEST}", "env": [{"name": "STORAGE_URI", "value": "s3://b/m"}]}]),
    ("initContainers", [{"name": "fetch", "image": f"{MIRROR}/x@{DIGEST}"}]),
    ("volumes", [{"name": "weights", "persistentVolumeClaim": {"claimName": "models"}}]),
    ("workerSpec", {"containers": [{"name": "worker", "image": f"{MIRROR}/x@{DIGEST}"}]}),
])
def test_no_second_model_source_next_to_the_signed_image(policy, field, value):
    body = isvc()
    body["spec"]["predictor"][field] = value
    failures = policy.failures(body, NS)
    assert len(failures) == 1 and "from spec.predictor.model.storageUri only" in failures[0]
    body = isvc()
    body["spec"]["predictor"]["model"]["storage"] = {"key": "s3-creds", "path": "models/m"}
    assert policy.failures(body, NS)


def test_the_pattern_is_anchored_and_escapes_the_mirror():
    pattern = oci_model_pattern("registry.ml.example.com/mirror")
    assert pattern.startswith("^oci://registry\\.ml\\.example\\.com/mirror/") and pattern.endswith("$")


def test_the_binding_denies_in_regulated_namespaces_only(prod):
    binding = prod.find("ValidatingAdmissionPolicyBinding", "kfplatform-regulated-inference")
    assert binding["spec"]["policyName"] == "kfplatform-regulated-inference"
    assert "Deny" in binding["spec"]["validationActions"]
    assert binding["spec"]["matchResources"]["namespaceSelector"] == {"matchLabels": {"kfplatform.io/compliance": "regulated"}}
    spec = prod.find("ValidatingAdmissionPolicy", "kfplatform-regulated-inference")["spec"]
    assert spec["failurePolicy"] == "Fail"
    (rule,) = spec["matchConstraints"]["resourceRules"]
    assert rule["apiGroups"] == ["serving.kserve.io"] and rule["resources"] == ["inferenceservices"]
    assert set(rule["operations"]) == {"CREATE", "UPDATE"}


def test_regulated_namespaces_carry_the_labels_both_admission_checks_select_on(prod):
    labels = {ns: prod.find("Namespace", ns)["metadata"]["labels"] for ns in ("team-forecasting", "team-nlp", "team-vision")}
    assert labels["team-forecasting"]["kfplatform.io/compliance"] == "regulated"
    assert labels["team-forecasting"]["policy.sigstore.dev/include"] == "true"
    for standard in ("team-nlp", "team-vision"):
        assert labels[standard]["kfplatform.io/compliance"] == "standard"
        assert "policy.sigstore.dev/include" not in labels[standard]


def test_the_documented_example_is_admitted(policy):
    import re

    import yaml

    from tests.conftest import PROJECT_DIR

    text = (PROJECT_DIR / "docs/compliance.md").read_text()
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "kind: InferenceService" in b]
    example = yaml.safe_load(block)
    assert policy.failures(example, example["metadata"]["namespace"]) == []
