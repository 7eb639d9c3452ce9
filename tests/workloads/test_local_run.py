"""The reference pipeline's logic, run locally on a tiny dataset: no cluster, real SDK, fake servers.

One subprocess (the KFP SDK's interpreter, .venv-kfp) runs every step in pipeline order through
`component.python_func` (tests/workloads/local_run.py) against fakes on 127.0.0.1: a versioned S3
that checks signatures, an OCI registry, the Model Registry and GitLab. What a team relies on:
a run reads exactly the pinned dataset version or fails; the model that passes evaluation is
pushed by digest, registered with its lineage, and proposed as a 10% canary by merge request.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import pathlib
import subprocess
import tarfile

import pytest
import yaml

from tests.tools import require_kfp_python

from .fakes import FakeGitLab, FakeModelRegistry, FakeRegistry, FakeS3, running

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "workloads" / "example" / "team-nlp"
BUCKET, PREFIX = "mlpipeline", "private-artifacts/team-nlp/datasets/sentiment/"
MANIFEST = PREFIX + "manifest.json"
SERVING = "prod/team-nlp/inferenceservice.yaml"
CURRENT = "oci://registry.ml.example.com/mirror/team-nlp/sentiment-classifier@sha256:" + "ab" * 32

POSITIVE = ["great", "excellent", "wonderful", "lovely", "fantastic", "superb"]
NEGATIVE = ["terrible", "awful", "horrible", "dreadful", "poor", "disappointing"]
SUBJECTS = ["the film", "this phone", "our hotel", "the service", "the book", "dinner", "the update", "my order"]


def rows(words, label, template):
    return [json.dumps({"text": template.format(s, w), "label": label}) for s in SUBJECTS for w in words]


def base_image(registry: FakeRegistry) -> str:
    """A two-platform base image in the fake mirror (an index, as Docker Hub's python images are)."""
    repo = "mirror/library/python"
    manifests = []
    for arch in ("arm64", "amd64"):
        layer = registry.put_blob(repo, gzip.compress(f"base layer {arch}".encode(), mtime=0))
        config = registry.put_blob(repo, json.dumps({
            "architecture": arch, "os": "linux", "config": {"Cmd": ["python3"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]},
        }).encode())
        body = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config, "size": 1},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer, "size": 1}],
        }).encode()
        digest = registry.put_manifest(repo, "application/vnd.docker.distribution.manifest.v2+json", body)
        manifests.append({"digest": digest, "size": len(body), "platform": {"os": "linux", "architecture": arch},
                          "mediaType": "application/vnd.docker.distribution.manifest.v2+json"})
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}).encode()
    return f"{registry.netloc}/{repo}:3.12-slim-bookworm@" + registry.put_manifest(repo, "application/vnd.oci.image.index.v1+json", index)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    python = require_kfp_python()
    work = tmp_path_factory.mktemp("local-run")
    bootstrap = (EXAMPLE / "inferenceservice.yaml").read_text()
    serving = yaml.safe_load(bootstrap)
    serving["spec"]["predictor"]["model"]["storageUri"] = CURRENT
    in_flight = yaml.safe_load(bootstrap)
    in_flight["spec"]["predictor"]["canaryTrafficPercent"] = 10
    files = {SERVING: yaml.safe_dump(serving), "bootstrap/inferenceservice.yaml": bootstrap,
             "in-flight/inferenceservice.yaml": yaml.safe_dump(in_flight)}
    fakes = (FakeS3("team-nlp-key", "team-nlp-secret"), FakeRegistry("robot", "push-token"),
             FakeModelRegistry(), FakeGitLab("glpat-team-nlp", "ml/workloads", files),
             FakeRegistry("robot", "push-token", bearer=True))
    with running(*fakes) as (s3, registry, model_registry, gitlab, token_registry):
        part1 = "\n".join(rows(POSITIVE, "positive", "{} was {}") + rows(NEGATIVE, "negative", "{} was {}")).encode()
        part2 = "\n".join(rows(POSITIVE, "positive", "honestly {} is {}") + rows(NEGATIVE, "negative", "honestly {} is {}")).encode()
        v1, v2 = s3.put(BUCKET, PREFIX + "part-000.jsonl", part1), s3.put(BUCKET, PREFIX + "part-001.jsonl", part2)
        # A later write to the same key: the manifest pins v1, so the run must not see this one.
        s3.put(BUCKET, PREFIX + "part-000.jsonl", b'{"text": "poisoned", "label": "positive"}\n')
        entries = [{"key": PREFIX + "part-000.jsonl", "versionId": v1, "sha256": hashlib.sha256(part1).hexdigest()},
                   {"key": PREFIX + "part-001.jsonl", "versionId": v2, "sha256": hashlib.sha256(part2).hexdigest()}]
        good = s3.put(BUCKET, MANIFEST, json.dumps({"objects": entries}).encode())
        tampered = s3.put(BUCKET, MANIFEST, json.dumps({"objects": [{**entries[0], "sha256": "0" * 64}]}).encode())
        unpinned = s3.put(BUCKET, MANIFEST, json.dumps({"objects": [{"key": entries[0]["key"], "sha256": entries[0]["sha256"]}]}).encode())
        plan = {
            "pipeline_dir": str(EXAMPLE / "pipeline"), "work": str(work),
            "env": {"AWS_ACCESS_KEY_ID": "team-nlp-key", "AWS_SECRET_ACCESS_KEY": "team-nlp-secret",
                    "REGISTRY_USERNAME": "robot", "REGISTRY_PASSWORD": "push-token", "REGISTRY_SCHEME": "http",
                    "GITLAB_TOKEN": "glpat-team-nlp", "KFP_CA_FILE": str(work / "no-ca.crt")},
            "s3": s3.url, "bucket": BUCKET, "manifest_key": MANIFEST, "manifest_version": good,
            "bad_versions": {"tampered": tampered, "unpinned": unpinned, "unknown": "no-such-version"},
            "repository": f"{registry.netloc}/mirror/team-nlp/sentiment-classifier", "base_image": base_image(registry),
            "repository_no_mount": f"{registry.netloc}/mirror/team-nlp/no-mount/sentiment-classifier",
            "bearer_repository": f"{token_registry.netloc}/mirror/team-nlp/sentiment-classifier",
            "bearer_base_image": base_image(token_registry),
            "model_registry": model_registry.url, "gitlab": gitlab.url, "project": "ml/workloads",
            "serving_path": SERVING, "bootstrap_path": "bootstrap/inferenceservice.yaml",
            "in_flight_path": "in-flight/inferenceservice.yaml",
            "run_id": "3f2a9c1e-0000-4000-8000-000000000001", "run_id2": "7b1d2e3f-0000-4000-8000-000000000002",
            "probe_texts": ["the film was wonderful", "the service was dreadful"],
        }
        done = subprocess.run([python, str(pathlib.Path(__file__).with_name("local_run.py"))], input=json.dumps(plan),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        yield {"out": json.loads(done.stdout), "plan": plan, "entries": entries, "s3": s3, "registry": registry,
               "token_registry": token_registry,
               "model_registry": model_registry, "gitlab": gitlab, "bootstrap": bootstrap, "serving": serving}


def test_the_run_reads_exactly_the_pinned_dataset_version(run):
    out, plan = run["out"], run["plan"]
    assert out["reference"] == f"s3://{BUCKET}/{MANIFEST}?versionId={plan['manifest_version']}"
    meta = out["dataset_metadata"]
    assert meta["manifestVersionId"] == plan["manifest_version"] and meta["reference"] == out["reference"]
    assert meta["objects"] == run["entries"]  # each object by version id and checksum: the MLMD record
    assert out["dataset_rows"] == 2 * len(SUBJECTS) * (len(POSITIVE) + len(NEGATIVE))  # not the later "poisoned" write
    gets = [path for method, path in run["s3"].requests if method == "GET"]
    assert all("versionId=" in path for path in gets)


def test_a_dataset_that_does_not_match_its_manifest_fails_the_run(run):
    out = run["out"]
    assert "sha256" in out["bad_tampered"]["error"] and "the manifest says" in out["bad_tampered"]["error"]
    assert "versionId" in out["bad_unpinned"]["error"]
    assert "404" in out["bad_unknown"]["error"]
    assert "403" in out["bad_signature"]["error"]  # the fake checks Signature V4; a wrong key is refused


def test_model_and_evaluation_are_recorded_with_the_dataset_they_came_from(run):
    out = run["out"]
    assert out["model_files"] == ["model.joblib"]  # what KServe's sklearnserver loads
    assert out["model_metadata"]["dataset"] == out["reference"]
    assert out["model_metadata"]["datasetSha256"] == out["dataset_metadata"]["sha256"]
    assert out["model_metadata"]["frameworkVersion"] == "1.5.2"
    assert out["evaluation"]["passed"] is True and out["evaluation"]["accuracy"] >= 0.8
    assert out["metrics"]["accuracy"] == out["evaluation"]["accuracy"] and out["metrics"]["dataset"] == out["reference"]
    matrix = out["report"]["confusionMatrix"]
    assert [a["displayName"] for a in matrix["annotationSpecs"]] == ["negative", "positive"]
    assert sum(sum(r["row"]) for r in matrix["rows"]) == out["metrics"]["testRows"]
    assert out["strict_evaluation_passed"] is False  # a threshold the model misses stops the proposal
    assert out["served_predictions"] == ["positive", "negative"]


def test_the_model_is_pushed_as_a_modelcar_by_digest_on_the_mirrored_base(run):
    out, registry = run["out"], run["registry"]
    repo = "mirror/team-nlp/sentiment-classifier"
    prefix = f"oci://{registry.netloc}/{repo}@"
    assert out["storage_uri"].startswith(prefix)
    digest = out["storage_uri"][len(prefix):]
    media_type, body = registry.manifests[repo][digest]
    assert "sha256:" + hashlib.sha256(body).hexdigest() == digest
    manifest = json.loads(body)
    base_repo = "mirror/library/python"
    (amd64,) = [json.loads(b) for t, b in registry.manifests[base_repo].values()
                if "layers" in json.loads(b) and json.loads(registry.blobs[base_repo][json.loads(b)["config"]["digest"]])["architecture"] == "amd64"]
    assert [layer["digest"] for layer in manifest["layers"][:-1]] == [layer["digest"] for layer in amd64["layers"]]
    assert {(r, d) for r, _, d in registry.mounts} == {(repo, layer["digest"]) for layer in amd64["layers"]}  # mounted, not copied
    layer = registry.blobs[repo][manifest["layers"][-1]["digest"]]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        assert tar.getnames() == ["models", "models/model.joblib"]
        packed = tar.extractfile("models/model.joblib").read()
    assert packed == (pathlib.Path(run["plan"]["work"]) / "model" / "model.joblib").read_bytes()
    config = json.loads(registry.blobs[repo][manifest["config"]["digest"]])
    assert config["architecture"] == "amd64" and config["rootfs"]["diff_ids"][-1] == "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()


def test_the_registry_holds_version_stage_and_lineage(run):
    out, registry = run["out"], run["model_registry"]
    assert [m["name"] for m in registry.registered] == ["sentiment-classifier"]  # created once, reused
    first, second = registry.versions
    assert first["name"] == out["model_version"] and second["name"] == out["second_run_version"] != first["name"]
    props = {k: v.get("string_value", v.get("double_value")) for k, v in first["customProperties"].items()}
    assert props["stage"] == "candidate"
    assert props["dataset"] == out["reference"] and props["datasetManifestVersionId"] == run["plan"]["manifest_version"]
    assert props["kfpRunId"] == run["plan"]["run_id"] and props["accuracy"] == out["evaluation"]["accuracy"]
    artifact = registry.artifacts[0]
    assert artifact["modelVersionId"] == first["id"] and artifact["uri"] == out["storage_uri"]
    assert (artifact["modelSourceKind"], artifact["modelSourceClass"], artifact["modelSourceGroup"], artifact["modelSourceId"]) == (
        "kfp", "pipelinerun", "team-nlp", run["plan"]["run_id"])


def test_a_passing_model_is_proposed_as_a_10_percent_canary_by_merge_request(run):
    out, gitlab = run["out"], run["gitlab"]
    canary_mr, first_mr = gitlab.merge_requests
    assert out["canary"] == canary_mr["web_url"] and canary_mr["target_branch"] == "main"
    proposed = yaml.safe_load(gitlab.branches[canary_mr["source_branch"]][SERVING])
    predictor = proposed["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10 and predictor["model"]["storageUri"] == out["storage_uri"]
    # Only the model, the split and provenance change: the logger, SLO labels and name stay.
    before = run["serving"]
    assert predictor["logger"] == before["spec"]["predictor"]["logger"]
    assert proposed["metadata"]["labels"] == before["metadata"]["labels"] and proposed["metadata"]["name"] == "sentiment-classifier"
    assert proposed["metadata"]["annotations"]["kfplatform.io/dataset"] == out["reference"]
    assert proposed["metadata"]["annotations"]["kfplatform.io/model-version"] == out["model_version"]
    assert gitlab.branches["main"][SERVING] == yaml.safe_dump(before)  # main is untouched until a person merges
    assert out["storage_uri"] in canary_mr["description"] and "10%" in canary_mr["title"]


def test_the_first_model_replaces_the_placeholder_and_a_canary_in_flight_blocks_a_new_one(run):
    out, gitlab = run["out"], run["gitlab"]
    first_mr = gitlab.merge_requests[1]
    assert out["first_model"] == first_mr["web_url"] and first_mr["title"].startswith("First model")
    proposed = yaml.safe_load(gitlab.branches[first_mr["source_branch"]]["bootstrap/inferenceservice.yaml"])
    assert "canaryTrafficPercent" not in proposed["spec"]["predictor"]
    assert out["in_flight"].startswith("no merge request") and len(gitlab.merge_requests) == 2
    assert "OCI image by digest" in out["unpinned"]["error"]


def test_without_a_cross_repository_mount_the_base_layers_are_copied_and_the_image_is_the_same(run):
    out, registry = run["out"], run["registry"]
    repo = "mirror/team-nlp/no-mount/sentiment-classifier"
    digest = out["copied_storage_uri"].rsplit("@", 1)[1]
    # Same model, same base: the same bytes, so the same digest (the packaging is reproducible).
    assert digest == out["storage_uri"].rsplit("@", 1)[1]
    manifest = json.loads(registry.manifests[repo][digest][1])
    assert all(layer["digest"] in registry.blobs[repo] for layer in manifest["layers"])
    assert not [m for m in registry.mounts if m[0] == repo]


def test_a_registry_with_token_auth_gets_the_same_image(run):
    """Docker's token flow (a 401 names realm and scope, e.g. `pull,push`; the realm takes the robot's credentials)."""
    out, registry = run["out"], run["token_registry"]
    digest = out["bearer_storage_uri"].rsplit("@", 1)[1]
    assert digest == out["storage_uri"].rsplit("@", 1)[1]
    assert digest in registry.manifests["mirror/team-nlp/sentiment-classifier"]
    assert "repository:mirror/team-nlp/sentiment-classifier:pull,push" in registry.tokens.values()
