"""RegulatedInferenceAdmission: the ValidatingAdmissionPolicy `kfplatform-regulated-inference`.

In namespaces labelled `kfplatform.io/compliance: regulated` the API server refuses an
InferenceService (create or update) unless:

1. its model is `spec.predictor.model.storageUri: oci://<mirror>/<path>[:tag]@sha256:<64 hex>`: a
   digest-pinned OCI model image from the internal mirror. KServe v0.15.2 (what kubeflow/manifests
   v1.11.0 ships, applications/kserve/kserve/kserve.yaml) serves `oci://` URIs as modelcars
   (`inferenceservice-config` `storageInitializer.enableModelcar: true` in that file;
   pkg/webhook/admission/pod/storage_initializer_injector.go `OciURIPrefix`), i.e. the model is
   pulled as a container image, which the ClusterImagePolicy then verifies (signing.py);
2. no other field names a model: the framework predictors (`sklearn`, ...), `storageUris`,
   `model.storage`, custom `containers`/`initContainers` and `volumes` are refused, so the
   signed image is the only source of weights;
3. annotation `kfplatform.io/model-digest` equals the storageUri's digest and the payload logger
   forwards it (`logger.metadataAnnotations`): every logged prediction names its model version
   (KServe v0.15.2 pkg/controller/v1beta1/inferenceservice/components/component.go
   addLoggerAnnotations -> the agent's `--metadata-annotations`, pkg/logger/worker.go `annotations`);
4. `spec.predictor.logger` has `mode: all` and `url` = the tenant's payload sink.

Why not `s3://` models: an object in a bucket carries no signature the API server or the kubelet
checks. A signature object next to it could be checked by a webhook at admission, but the storage
initializer downloads the bytes later, from a mutable key; nothing ties what was checked to what
is served. An OCI digest is both the name and the content hash, and the image admission check
covers it (docs/compliance.md).
"""
from __future__ import annotations

import re

import pulumi
import pulumi_kubernetes as k8s

from ..k8s import child, meta

POLICY_NAME = "kfplatform-regulated-inference"
COMPLIANCE_LABEL = "kfplatform.io/compliance"
MODEL_DIGEST_ANNOTATION = "kfplatform.io/model-digest"
# The predictor fields that would let a model come from somewhere else than the signed image.
OTHER_MODEL_SOURCES = (
    "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "huggingface", "pmml", "lightgbm", "paddle",
    "storageUris", "containers", "initContainers", "volumes",
    # KServe's multi-node predictor: its worker pods carry containers (and weights) of their own.
    "workerSpec",
)
# OCI distribution spec path components: lower-case alphanumerics separated by `.`, `_`, `__` or `-`s.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"


def oci_model_pattern(mirror: str) -> str:
    """RE2 (CEL `matches`) for a digest-pinned OCI model reference under `mirror`, anchored."""
    return rf"^oci://{re.escape(mirror)}/{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?@sha256:[0-9a-f]{{64}}$"


def sink_url(logging_namespace: str, tenant: str) -> str:
    """The tenant's payload-logger sink (cross-branch contract)."""
    return f"http://kfplatform-payloads.{logging_namespace}.svc.cluster.local:8080/{tenant}"


def _cel_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def variables() -> list[dict]:
    # Both branches of each `?:` are strings: the API server type-checks the expressions.
    p = "object.spec.predictor"
    digest = _cel_string(MODEL_DIGEST_ANNOTATION)
    return [
        {"name": "storageUri", "expression": f"has({p}.model) && has({p}.model.storageUri) ? {p}.model.storageUri : ''"},
        {
            "name": "modelDigest",
            "expression": (
                f"has(object.metadata.annotations) && {digest} in object.metadata.annotations"
                f" ? object.metadata.annotations[{digest}] : ''"
            ),
        },
    ]


def validations(mirror: str, logging_namespace: str) -> list[dict]:
    p = "object.spec.predictor"
    logger = f"{p}.logger"
    sink_prefix = sink_url(logging_namespace, "")
    others = " && ".join(f"!has({p}.{field})" for field in OTHER_MODEL_SOURCES)
    return [
        {
            "expression": f"variables.storageUri.matches({_cel_string(oci_model_pattern(mirror))})",
            "message": (
                f"regulated namespace: spec.predictor.model.storageUri must be a digest-pinned OCI model image from "
                f"the internal registry: oci://{mirror}/<path>[:tag]@sha256:<64 hex> (s3://, tags alone and other "
                "registries are refused; docs/compliance.md)"
            ),
            "reason": "Forbidden",
        },
        {
            "expression": f"{others} && !(has({p}.model) && has({p}.model.storage))",
            "message": (
                "regulated namespace: the model comes from spec.predictor.model.storageUri only; remove "
                f"{', '.join(OTHER_MODEL_SOURCES)} and model.storage"
            ),
            "reason": "Forbidden",
        },
        {
            "expression": "variables.modelDigest != '' && variables.storageUri.endsWith('@' + variables.modelDigest)",
            "message": (
                f"regulated namespace: annotation {MODEL_DIGEST_ANNOTATION} must equal the storageUri's digest "
                "(sha256:...), so every logged prediction names its model version"
            ),
            "reason": "Invalid",
        },
        {
            "expression": (
                f"has({logger}) && has({logger}.mode) && {logger}.mode == 'all'"
                f" && has({logger}.url) && {logger}.url == {_cel_string(sink_prefix)} + request.namespace"
                f" && has({logger}.metadataAnnotations)"
                f" && {_cel_string(MODEL_DIGEST_ANNOTATION)} in {logger}.metadataAnnotations"
            ),
            "messageExpression": (
                f"'regulated namespace: spec.predictor.logger must be {{mode: all, url: {sink_prefix}' + request.namespace"
                f" + ', metadataAnnotations: [{MODEL_DIGEST_ANNOTATION}]}} (every request and response is kept for replay)'"
            ),
            "reason": "Invalid",
        },
    ]


def policy_spec(mirror: str, logging_namespace: str) -> dict:
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [{
                "apiGroups": ["serving.kserve.io"],
                "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["inferenceservices"],
            }],
        },
        "variables": variables(),
        "validations": validations(mirror, logging_namespace),
    }


def binding_spec() -> dict:
    return {
        "policyName": POLICY_NAME,
        "validationActions": ["Deny", "Audit"],
        "matchResources": {"namespaceSelector": {"matchLabels": {COMPLIANCE_LABEL: "regulated"}}},
    }


class RegulatedInferenceAdmission(pulumi.ComponentResource):
    def __init__(self, name: str, *, mirror: str, logging_namespace: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kfplatform:compliance:RegulatedInferenceAdmission", name, None, opts)
        adm = k8s.admissionregistration.v1
        self.policy = adm.ValidatingAdmissionPolicy(
            POLICY_NAME,
            metadata=meta(POLICY_NAME, component="compliance"),
            spec=policy_spec(mirror, logging_namespace),
            opts=child(self),
        )
        self.binding = adm.ValidatingAdmissionPolicyBinding(
            POLICY_NAME,
            metadata=meta(POLICY_NAME, component="compliance"),
            spec=binding_spec(),
            opts=child(self, depends_on=[self.policy]),
        )
        self.register_outputs({"policy": POLICY_NAME})
