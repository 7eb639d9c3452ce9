"""team-nlp's sentiment classifier: the reference production training pipeline (KFP SDK 2.15).

Copy this directory, then change the constants below. `python sentiment_pipeline.py` (with the
KFP SDK at the install's version, `.venv-kfp`) rewrites `pipeline.yaml` (the IR a run executes)
and `../trigger/run-request.json` (the same IR as the body the trigger sends to the KFP API).

What each step records (docs/workloads.md):
- resolve-dataset: the dataset version (a manifest pinned by its S3 object version id, listing
  each object by version id and sha256) as a `system.Dataset` in ML Metadata; the reference is
  also the run's input parameter `dataset_manifest_version`.
- train-model -> `system.Model`; evaluate-model -> `system.Metrics` and
  `system.ClassificationMetrics`; the model's metadata names the dataset version it came from.
- On passing evaluation only: package-model pushes the model as a KServe modelcar (OCI image)
  and names it by digest; register-model records it in the Kubeflow Model Registry with stage
  `candidate` and lineage (dataset version, KFP run); propose-canary opens a merge request that
  puts it next to the serving model as a 10% canary. Nothing rolls out without a person.

Every function below is self-contained (KFP ships its source into the pod), so it is also plain
Python: tests/workloads calls each `component.python_func` on a tiny dataset.
"""

import json
import pathlib
from typing import NamedTuple

from kfp import compiler, dsl, kubernetes
from kfp.dsl import ClassificationMetrics, Dataset, Input, Metrics, Model, Output

NAMESPACE = "team-nlp"
MODEL_NAME = "sentiment-classifier"  # the InferenceService, and the name in the Model Registry
# The platform's mirrored, digest-pinned base image (ConfigMap `kfp-platform-defaults`, key
# `baseImage`, in the team namespace). The SDK's own default (Docker Hub's Python 3.11 image) is a
# client-side constant baked into the IR, so it is overridden here; the pip index is NOT set here:
# the KFP API server sets PIP_INDEX_URL (the internal mirror) on every pipeline pod (the platform's
# COMPILED_PIPELINE_SPEC_PATCH, applied by KFP 2.15.0 backend/src/v2/compiler/argocompiler/argo.go), and the SDK
# adds no index option to pip when `pip_index_urls` is unset (kfp 2.15.2 dsl/component_factory.py,
# make_index_url_options), so pip reads the mirror.
BASE_IMAGE = (
    "registry.ml.example.com/mirror/library/python:3.12-slim-bookworm"
    "@sha256:782412e85d0f0984994c290652577d4018aff08145c85b262bb63dc0c7522254"
)
# The model server's libraries, at the versions KServe v0.15.2's sklearnserver locks
# (kserve python/sklearnserver/poetry.lock): a pickle is safe to load only in the versions that wrote it.
TRAINING_PACKAGES = ["scikit-learn==1.5.2", "joblib==1.4.2", "numpy==2.0.2", "scipy==1.13.1"]
# The SDK installs kfp itself with --no-deps (kfp 2.15.2 component_factory), so PyYAML is asked for.
YAML_PACKAGES = ["PyYAML==6.0.3"]

# Secrets in the team namespace, both delivered by the platform's ESO from Vault:
ARTIFACT_SECRET = "mlpipeline-minio-artifact"  # the team's object-store key (tenants/<team>/object-store)
GIT_SECRET = "git-credentials"  # the team's GitLab token (tenants/<team>/git), basic-auth type
# ...and one the team declares in this directory (externalsecret.yaml, tenants/<team>/model-push).
PUSH_SECRET = "model-push-credentials"

HERE = pathlib.Path(__file__).resolve().parent
IR_FILE = HERE / "pipeline.yaml"
RUN_REQUEST_FILE = HERE.parent / "trigger" / "run-request.json"


@dsl.component(base_image=BASE_IMAGE)
def resolve_dataset(
    s3_endpoint: str,
    bucket: str,
    manifest_key: str,
    manifest_version: str,
    dataset: Output[Dataset],
) -> str:
    """Read the dataset manifest at its pinned S3 version, then every object it pins; check each sha256.

    Manifest (JSON): {"objects": [{"key": ..., "versionId": ..., "sha256": ...}, ...]}; every
    object is JSON lines of {"text": ..., "label": ...}. Credentials: AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY (the team's key). Returns s3://bucket/key?versionId=... .
    """
    import datetime
    import hashlib
    import hmac
    import json
    import os
    import ssl
    import urllib.parse
    import urllib.request

    if not manifest_version:
        raise ValueError("dataset_manifest_version is empty: a run reads a pinned dataset version, never 'latest'")
    endpoint = urllib.parse.urlsplit(s3_endpoint)
    # The object store's certificate is issued by the cluster CA: where KFP mounts it (/kfp/certs, see
    # docs/kubeflow-ha.md), else the pod's service-account volume, which carries the same CA.
    candidates = [os.environ.get("KFP_CA_FILE", ""), "/kfp/certs/ca.crt", "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"]
    ca_file = next((c for c in candidates if c and os.path.exists(c)), None)
    context = ssl.create_default_context(cafile=ca_file)

    def get(key: str, version: str) -> bytes:
        # AWS Signature V4 (S3), unsigned-payload-free GET with ?versionId=, stdlib only.
        access, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
        region = os.environ.get("AWS_REGION", "us-east-1")
        path = "/" + bucket + "/" + urllib.parse.quote(key, safe="/-_.~")
        query = "versionId=" + urllib.parse.quote(version, safe="-_.~")
        amz_date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        payload = hashlib.sha256(b"").hexdigest()
        headers = {"host": endpoint.netloc, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        canonical = "\n".join(
            ["GET", path, query, "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, payload]
        )
        scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key_bytes = ("AWS4" + secret).encode()
        for part in (amz_date[:8], region, "s3", "aws4_request"):
            key_bytes = hmac.new(key_bytes, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
        request = urllib.request.Request(f"{endpoint.scheme}://{endpoint.netloc}{path}?{query}", headers={
            "Host": endpoint.netloc, "x-amz-content-sha256": payload, "x-amz-date": amz_date,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={signed}, Signature={signature}",
        })
        with urllib.request.urlopen(request, timeout=60, context=context if endpoint.scheme == "https" else None) as response:
            return response.read()

    manifest = json.loads(get(manifest_key, manifest_version))
    objects = manifest.get("objects") if isinstance(manifest, dict) else None
    if not objects:
        raise ValueError(f"s3://{bucket}/{manifest_key}?versionId={manifest_version}: the manifest lists no objects")
    combined = hashlib.sha256()
    rows = 0
    pinned = []
    with open(dataset.path, "wb") as out:
        for entry in objects:
            key, version, expected = entry.get("key"), entry.get("versionId"), entry.get("sha256")
            if not (key and version and expected):
                raise ValueError(f"manifest entry {entry!r}: key, versionId and sha256 are all required (a version pins data)")
            data = get(key, version)
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected:
                raise ValueError(f"s3://{bucket}/{key}?versionId={version}: sha256 {actual}, the manifest says {expected}")
            for line in data.decode().splitlines():
                if line.strip():
                    record = json.loads(line)
                    out.write((json.dumps({"text": record["text"], "label": record["label"]}) + "\n").encode())
                    rows += 1
            combined.update(actual.encode())
            pinned.append({"key": key, "versionId": version, "sha256": actual})
    reference = f"s3://{bucket}/{manifest_key}?versionId={manifest_version}"
    dataset.metadata.update({
        "manifest": f"s3://{bucket}/{manifest_key}", "manifestVersionId": manifest_version,
        "reference": reference, "objects": pinned, "sha256": combined.hexdigest(), "rows": rows,
    })
    return reference


@dsl.component(base_image=BASE_IMAGE, packages_to_install=TRAINING_PACKAGES)
def train_model(dataset: Input[Dataset], model: Output[Model], holdout_percent: int = 20):
    """TF-IDF + logistic regression; a stable hash of each text keeps `holdout_percent` out for evaluation."""
    import hashlib
    import json
    import os

    import joblib
    import sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    def held_out(text: str) -> bool:
        return int(hashlib.sha256(text.encode()).hexdigest(), 16) % 100 < holdout_percent

    with open(dataset.path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    train = [r for r in rows if not held_out(r["text"])]
    if len({r["label"] for r in train}) < 2:
        raise ValueError(f"{len(train)} training rows with fewer than two labels: nothing to learn")
    classifier = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1), LogisticRegression(max_iter=1000, random_state=0))
    classifier.fit([r["text"] for r in train], [r["label"] for r in train])
    os.makedirs(model.path, exist_ok=True)
    joblib.dump(classifier, os.path.join(model.path, "model.joblib"))  # KServe sklearnserver loads *.joblib
    model.metadata.update({
        "framework": "sklearn", "frameworkVersion": sklearn.__version__, "trainRows": len(train),
        "dataset": dataset.metadata.get("reference", ""), "datasetSha256": dataset.metadata.get("sha256", ""),
        "holdoutPercent": holdout_percent,
    })


@dsl.component(base_image=BASE_IMAGE, packages_to_install=TRAINING_PACKAGES)
def evaluate_model(
    dataset: Input[Dataset],
    model: Input[Model],
    min_accuracy: float,
    metrics: Output[Metrics],
    report: Output[ClassificationMetrics],
) -> NamedTuple("Evaluation", [("passed", bool), ("accuracy", float)]):
    """Accuracy and F1 on the held-out rows, a confusion matrix; passed = accuracy >= min_accuracy."""
    import hashlib
    import json
    import os
    from collections import namedtuple

    import joblib

    holdout_percent = int(model.metadata.get("holdoutPercent", 20))
    with open(dataset.path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    test = [r for r in rows if int(hashlib.sha256(r["text"].encode()).hexdigest(), 16) % 100 < holdout_percent]
    if not test:
        raise ValueError("no held-out rows: the dataset is too small to evaluate")
    classifier = joblib.load(os.path.join(model.path, "model.joblib"))
    predicted = list(classifier.predict([r["text"] for r in test]))
    actual = [r["label"] for r in test]
    labels = sorted(set(actual) | set(predicted))
    matrix = [[sum(1 for a, p in zip(actual, predicted) if a == row and p == col) for col in labels] for row in labels]
    accuracy = sum(1 for a, p in zip(actual, predicted) if a == p) / len(test)
    f1s = []
    for i, label in enumerate(labels):
        tp = matrix[i][i]
        fp = sum(matrix[r][i] for r in range(len(labels))) - tp
        fn = sum(matrix[i]) - tp
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    macro_f1 = sum(f1s) / len(f1s)
    metrics.log_metric("accuracy", accuracy)
    metrics.log_metric("macroF1", macro_f1)
    metrics.log_metric("testRows", len(test))
    metrics.metadata["dataset"] = model.metadata.get("dataset", "")
    report.log_confusion_matrix(labels, matrix)
    passed = accuracy >= min_accuracy
    return namedtuple("Evaluation", ["passed", "accuracy"])(passed, accuracy)


@dsl.component(base_image=BASE_IMAGE)
def package_model(model: Input[Model], repository: str, base_image: str) -> str:
    """Push the model as a KServe modelcar: `base_image` plus one layer holding /models/model.joblib.

    KServe runs a modelcar with `sh -c "ln -sf /proc/$$/root/models ... && sleep infinity"`
    (kserve v0.15.2 pkg/webhook/admission/pod/storage_initializer_injector.go), so the image needs
    a shell: the base is the platform's mirrored Python image (same registry; its layers are
    mounted, not copied). OCI distribution API, stdlib only; REGISTRY_USERNAME/REGISTRY_PASSWORD
    (basic, or exchanged for a bearer token on a 401 challenge). Returns oci://repository@sha256:...
    """
    import base64
    import gzip
    import hashlib
    import io
    import json
    import os
    import re
    import ssl
    import tarfile
    import urllib.error
    import urllib.parse
    import urllib.request

    host, _, repo = repository.partition("/")
    base_ref, _, base_digest = base_image.partition("@")
    base_host, _, base_repo = base_ref.partition("/")
    base_repo = base_repo.rsplit(":", 1)[0] if ":" in base_repo.rsplit("/", 1)[-1] else base_repo
    if base_host != host or not base_digest.startswith("sha256:"):
        raise ValueError(f"{base_image!r}: the base must be digest-pinned in the same registry as {repository!r}")
    scheme = os.environ.get("REGISTRY_SCHEME", "https")
    context = ssl.create_default_context()
    basic = base64.b64encode(f"{os.environ['REGISTRY_USERNAME']}:{os.environ['REGISTRY_PASSWORD']}".encode()).decode()
    auth = {"value": "Basic " + basic}
    index_types = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
    manifest_types = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json")

    def call(method, path, body=None, headers=None, retry=True):
        url = path if path.startswith("http") else f"{scheme}://{host}{path}"
        request = urllib.request.Request(url, data=body, method=method, headers={"Authorization": auth["value"], **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=120, context=context if url.startswith("https") else None) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as error:
            challenge = error.headers.get("WWW-Authenticate", "")
            if error.code == 401 and retry and challenge.lower().startswith("bearer "):
                params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))  # scope may hold "pull,push"
                query = urllib.parse.urlencode({k: v for k, v in params.items() if k in ("service", "scope")})
                token_request = urllib.request.Request(f"{params['realm']}?{query}", headers={"Authorization": "Basic " + basic})
                with urllib.request.urlopen(token_request, timeout=60, context=context if params["realm"].startswith("https") else None) as r:
                    token = json.loads(r.read())
                auth["value"] = "Bearer " + (token.get("token") or token["access_token"])
                return call(method, path, body, headers, retry=False)
            raise RuntimeError(f"{method} {url}: HTTP {error.code} {error.read()[:300]!r}") from None

    def sha(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    # The base image's manifest for linux/amd64 (the mirror may hold a multi-arch index).
    _, headers, body = call("GET", f"/v2/{base_repo}/manifests/{base_digest}", headers={"Accept": ", ".join(index_types + manifest_types)})
    if sha(body) != base_digest:
        raise ValueError(f"{base_image}: the registry returned content with another digest")
    base = json.loads(body)
    if base.get("mediaType") in index_types or "manifests" in base:
        chosen = [m for m in base["manifests"] if m.get("platform", {}).get("os") == "linux" and m.get("platform", {}).get("architecture") == "amd64"]
        if not chosen:
            raise ValueError(f"{base_image}: no linux/amd64 image in the index")
        _, headers, body = call("GET", f"/v2/{base_repo}/manifests/{chosen[0]['digest']}", headers={"Accept": ", ".join(manifest_types)})
        if sha(body) != chosen[0]["digest"]:
            raise ValueError(f"{base_image}: linux/amd64 manifest content does not match its digest")
        base = json.loads(body)
    _, _, config_body = call("GET", f"/v2/{base_repo}/blobs/{base['config']['digest']}")
    config = json.loads(config_body)

    # One layer: models/model.joblib, reproducible (fixed mtime, owner, order).
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("models")
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
        tar.addfile(info)
        for name in sorted(os.listdir(model.path)):
            with open(os.path.join(model.path, name), "rb") as f:
                data = f.read()
            info = tarfile.TarInfo(f"models/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    layer_raw = raw.getvalue()
    layer = gzip.compress(layer_raw, mtime=0)
    config.setdefault("rootfs", {"type": "layers", "diff_ids": []})["diff_ids"].append(sha(layer_raw))
    config["history"] = config.get("history", []) + [{"created_by": "kfplatform package-model", "comment": model.metadata.get("dataset", "")}]
    config_blob = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()

    def upload(location: str, data: bytes) -> str:
        digest = sha(data)
        location = location if location.startswith("http") else f"{scheme}://{host}{location}"
        sep = "&" if "?" in location else "?"
        call("PUT", f"{location}{sep}digest={urllib.parse.quote(digest)}", body=data, headers={"Content-Type": "application/octet-stream"})
        return digest

    def push(data: bytes) -> str:
        _, headers, _ = call("POST", f"/v2/{repo}/blobs/uploads/")
        return upload(headers.get("Location") or headers["location"], data)

    for base_layer in base["layers"]:
        # Cross-repository mount within the registry: 201 Created, no bytes move. A 202 means the
        # registry opened an upload instead (no mount between these repositories): copy the blob.
        status, headers, _ = call("POST", f"/v2/{repo}/blobs/uploads/?mount={urllib.parse.quote(base_layer['digest'])}&from={urllib.parse.quote(base_repo)}")
        if status != 201:
            _, _, data = call("GET", f"/v2/{base_repo}/blobs/{base_layer['digest']}")
            if sha(data) != base_layer["digest"]:
                raise ValueError(f"{base_image}: layer {base_layer['digest']} has other content")
            upload(headers.get("Location") or headers["location"], data)
    layer_digest, config_digest = push(layer), push(config_blob)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config_blob)},
        "layers": [
            {k: v for k, v in entry.items() if k in ("mediaType", "digest", "size")} for entry in base["layers"]
        ] + [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": len(layer)}],
        "annotations": {"org.opencontainers.image.source": model.metadata.get("dataset", "")},
    }
    manifest_body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    digest = sha(manifest_body)
    call("PUT", f"/v2/{repo}/manifests/{digest}", body=manifest_body, headers={"Content-Type": manifest["mediaType"]})
    return f"oci://{repository}@{digest}"


@dsl.component(base_image=BASE_IMAGE)
def register_model(
    registry_url: str,
    model_name: str,
    model: Input[Model],
    dataset: Input[Dataset],
    storage_uri: str,
    accuracy: float,
    namespace: str,
    run_id: str,
    run_name: str,
) -> str:
    """Record the model in the Kubeflow Model Registry (REST API v1alpha3, model-registry v0.3.4).

    RegisteredModel `model_name` (created once); a ModelVersion per run, stage `candidate`
    (custom property; the registry's own `state` stays LIVE), with lineage: the dataset version
    and sha256, the KFP run; its ModelArtifact is the OCI image by digest, with the run as the
    model source (modelSourceKind `kfp`, Class `pipelinerun`, Group the namespace). Returns the version name.
    """
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    api = registry_url.rstrip("/") + "/api/model_registry/v1alpha3"

    def call(method, path, body=None):
        request = urllib.request.Request(api + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            if error.code == 404 and method == "GET":
                return None
            raise RuntimeError(f"model registry {method} {path}: HTTP {error.code} {error.read()[:300]!r}") from None

    def string(value):
        return {"metadataType": "MetadataStringValue", "string_value": str(value)}

    registered = call("GET", "/registered_model?" + urllib.parse.urlencode({"name": model_name}))
    if not registered:
        registered = call("POST", "/registered_models", {"name": model_name, "description": f"{namespace}/{model_name}"})
    dataset_sha = dataset.metadata.get("sha256", "")
    version_name = f"{dataset_sha[:12]}-{run_id[:8]}"
    lineage = {
        "stage": string("candidate"),
        "dataset": string(dataset.metadata.get("reference", "")),
        "datasetManifestVersionId": string(dataset.metadata.get("manifestVersionId", "")),
        "datasetSha256": string(dataset_sha),
        "kfpRunId": string(run_id),
        "kfpNamespace": string(namespace),
        "accuracy": {"metadataType": "MetadataDoubleValue", "double_value": float(accuracy)},
    }
    version = call("POST", "/model_versions", {
        "name": version_name, "registeredModelId": registered["id"], "author": f"kfp:{namespace}/{run_name}",
        "description": f"trained on {dataset.metadata.get('reference', '')}", "customProperties": lineage,
    })
    call("POST", f"/model_versions/{version['id']}/artifacts", {
        "artifactType": "model-artifact", "name": f"{model_name}-{version_name}", "uri": storage_uri,
        "modelFormatName": "sklearn", "modelFormatVersion": str(model.metadata.get("frameworkVersion", "")),
        "modelSourceKind": "kfp", "modelSourceClass": "pipelinerun", "modelSourceGroup": namespace,
        "modelSourceId": run_id, "modelSourceName": run_name,
        "customProperties": {"dataset": string(dataset.metadata.get("reference", ""))},
    })
    return version_name


@dsl.component(base_image=BASE_IMAGE, packages_to_install=YAML_PACKAGES)
def propose_canary(
    gitlab_url: str,
    project: str,
    target_branch: str,
    manifest_path: str,
    storage_uri: str,
    model_version: str,
    dataset_reference: str,
    run_id: str,
    canary_percent: int = 10,
) -> str:
    """Open a merge request that serves `storage_uri` as a `canary_percent`% canary of the InferenceService.

    Reads `manifest_path` (the team's InferenceService) at `target_branch`, changes only the
    model's storageUri, `canaryTrafficPercent` and the provenance annotations, commits it on a
    new branch and opens the MR (GitLab API v4; GITLAB_TOKEN from the team's `git-credentials`).
    No MR while a canary is already in flight: a person promotes or rolls it back first.
    Returns the MR's URL, or a line saying why none was opened.
    """
    import json
    import os
    import re
    import urllib.error
    import urllib.parse
    import urllib.request

    import yaml

    if not re.fullmatch(r"oci://[a-z0-9.:-]+/[a-z0-9._/-]+@sha256:[0-9a-f]{64}", storage_uri):
        raise ValueError(f"{storage_uri!r}: a canary serves an OCI image by digest only")
    if not 1 <= canary_percent <= 50:
        raise ValueError(f"canary_percent {canary_percent}: a canary takes between 1 and 50 percent")
    api = f"{gitlab_url.rstrip('/')}/api/v4/projects/{urllib.parse.quote(project, safe='')}"
    token = os.environ["GITLAB_TOKEN"]

    def call(method, path, body=None, raw=False):
        request = urllib.request.Request(api + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                         headers={"PRIVATE-TOKEN": token, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                data = response.read()
                return data.decode() if raw else json.loads(data)
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"GitLab {method} {path}: HTTP {error.code} {error.read()[:300]!r}") from None

    file_path = urllib.parse.quote(manifest_path, safe="")
    current = yaml.safe_load(call("GET", f"/repository/files/{file_path}/raw?ref={urllib.parse.quote(target_branch)}", raw=True))
    if not isinstance(current, dict) or current.get("kind") != "InferenceService":
        raise ValueError(f"{manifest_path}: not an InferenceService")
    predictor = current.setdefault("spec", {}).setdefault("predictor", {})
    model_spec = predictor.get("model") or {}
    if predictor.get("canaryTrafficPercent") not in (None, 100):
        return f"no merge request: {manifest_path} already has a canary at {predictor['canaryTrafficPercent']}%; promote or roll it back first"
    if model_spec.get("storageUri") == storage_uri:
        return f"no merge request: {manifest_path} already serves {storage_uri}"
    # The copied directory starts with an all-zero digest: there is no model to canary against,
    # so the first model is proposed as the whole service (still by merge request).
    first = str(model_spec.get("storageUri", "")).endswith("@sha256:" + "0" * 64)
    model_spec["storageUri"] = storage_uri
    predictor["model"] = model_spec
    if first:
        predictor.pop("canaryTrafficPercent", None)
    else:
        predictor["canaryTrafficPercent"] = canary_percent
    annotations = current.setdefault("metadata", {}).setdefault("annotations", {})
    annotations.update({
        "kfplatform.io/model-version": model_version,
        "kfplatform.io/dataset": dataset_reference,
        "kfplatform.io/kfp-run": run_id,
    })
    content = yaml.safe_dump(current, sort_keys=False)
    branch = f"canary/{current['metadata']['name']}-{model_version}"
    title = (f"First model: {current['metadata']['name']} model {model_version}" if first
             else f"Canary {canary_percent}%: {current['metadata']['name']} model {model_version}")
    call("POST", "/repository/commits", {
        "branch": branch, "start_branch": target_branch, "commit_message": title,
        "actions": [{"action": "update", "file_path": manifest_path, "content": content}],
    })
    request = call("POST", "/merge_requests", {
        "source_branch": branch, "target_branch": target_branch, "title": title, "remove_source_branch": True,
        "description": (
            f"Proposed by KFP run `{run_id}`.\n\n- model: `{storage_uri}` (Model Registry version `{model_version}`, stage candidate)\n"
            f"- trained on: `{dataset_reference}`\n\n"
            + ("Merging serves it to all requests (the first model). " if first else
               f"Merging serves it to {canary_percent}% of requests next to the current model. ")
            + "Promote: remove `canaryTrafficPercent`. Roll back: set it to 0, then restore the previous `storageUri` "
            "(docs/workloads.md)."
        ),
    })
    return request["web_url"]


@dsl.pipeline(name="sentiment-classifier-training", description="team-nlp sentiment classifier: pinned data, registry, canary MR")
def sentiment_training(
    dataset_manifest_version: str,
    dataset_manifest_key: str = "private-artifacts/team-nlp/datasets/sentiment/manifest.json",
    dataset_bucket: str = "mlpipeline",
    s3_endpoint: str = "https://minio.kubeflow-minio.svc.cluster.local:443",
    min_accuracy: float = 0.8,
    model_repository: str = "registry.ml.example.com/mirror/team-nlp/sentiment-classifier",
    model_registry_url: str = "http://model-registry-service.team-nlp.svc.cluster.local:8080",
    gitlab_url: str = "https://git.ml.example.com",
    workloads_project: str = "ml/workloads",
    workloads_branch: str = "main",
    inference_service_path: str = "prod/team-nlp/inferenceservice.yaml",
):
    data = resolve_dataset(
        s3_endpoint=s3_endpoint, bucket=dataset_bucket, manifest_key=dataset_manifest_key,
        manifest_version=dataset_manifest_version,
    ).set_display_name("resolve-dataset")
    kubernetes.use_secret_as_env(
        data, secret_name=ARTIFACT_SECRET,
        secret_key_to_env={"accesskey": "AWS_ACCESS_KEY_ID", "secretkey": "AWS_SECRET_ACCESS_KEY"},
    )
    data.set_caching_options(False)  # the object store is the truth, not the cache
    trained = train_model(dataset=data.outputs["dataset"]).set_cpu_limit("2").set_memory_limit("4G")
    evaluation = evaluate_model(
        dataset=data.outputs["dataset"], model=trained.outputs["model"], min_accuracy=min_accuracy,
    )
    with dsl.If(evaluation.outputs["passed"] == True, name="evaluation-passed"):  # noqa: E712 (a KFP condition)
        image = package_model(model=trained.outputs["model"], repository=model_repository, base_image=BASE_IMAGE)
        kubernetes.use_secret_as_env(
            image, secret_name=PUSH_SECRET,
            secret_key_to_env={"username": "REGISTRY_USERNAME", "password": "REGISTRY_PASSWORD"},
        )
        image.set_caching_options(False)
        version = register_model(
            registry_url=model_registry_url, model_name=MODEL_NAME, model=trained.outputs["model"],
            dataset=data.outputs["dataset"], storage_uri=image.output, accuracy=evaluation.outputs["accuracy"],
            namespace=NAMESPACE, run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        )
        version.set_caching_options(False)
        proposal = propose_canary(
            gitlab_url=gitlab_url, project=workloads_project, target_branch=workloads_branch,
            manifest_path=inference_service_path, storage_uri=image.output, model_version=version.output,
            dataset_reference=data.outputs["Output"], run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        )
        kubernetes.use_secret_as_env(proposal, secret_name=GIT_SECRET, secret_key_to_env={"password": "GITLAB_TOKEN"})
        proposal.set_caching_options(False)


def compile_pipeline(ir_file: pathlib.Path = IR_FILE, run_request_file: pathlib.Path = RUN_REQUEST_FILE) -> None:
    """Write the IR, and the KFP API's CreateRun body (pipeline_spec + platform_spec) for the trigger.

    The body has the shape kfp 2.15.2's client sends (kfp/client/client.py, _PipelineDoc.to_dict):
    {"pipeline_spec": <IR>, "platform_spec": <kubernetes platform config>}.
    """
    import yaml

    compiler.Compiler().compile(sentiment_training, str(ir_file))
    docs = [d for d in yaml.safe_load_all(ir_file.read_text()) if d]
    body = {"pipeline_spec": docs[0], "platform_spec": docs[1]} if len(docs) > 1 else docs[0]
    run_request_file.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    compile_pipeline()
