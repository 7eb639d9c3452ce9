"""The data-arrival trigger (workloads/example/team-nlp/trigger/trigger.py, stdlib only) against a
fake versioned S3 and a fake KFP API: one run per new dataset version, none for a version already
handled, the committed IR as the run's pipeline, the version as its input.
"""
from __future__ import annotations

import importlib.util
import json

import pytest

from tests.conftest import PROJECT_DIR

from .fakes import FakeKfp, FakeS3, running, sigv4_signature

TRIGGER = PROJECT_DIR / "workloads" / "example" / "team-nlp" / "trigger"
MANIFEST = "private-artifacts/team-nlp/datasets/sentiment/manifest.json"


def load_trigger():
    spec = importlib.util.spec_from_file_location("trigger", TRIGGER / "trigger.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fakes_signature_check_is_aws_signature_v4():
    """AWS's published SigV4 test-suite vectors `get-vanilla` and `get-vanilla-query-order-key-case`."""
    common = dict(secret="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", method="GET", raw_path="/",
                  headers={"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"},
                  signed_headers=["host", "x-amz-date"], scope="20150830/us-east-1/service/aws4_request",
                  amz_date="20150830T123600Z", payload_hash="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert sigv4_signature(query="", **common) == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    assert sigv4_signature(query="Param2=value2&Param1=value1", **common) == \
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"


@pytest.fixture
def world(tmp_path, monkeypatch):
    token = tmp_path / "token"
    token.write_text("sa-token-for-pipelines.kubeflow.org\n")
    with running(FakeS3("team-nlp-key", "team-nlp-secret"), FakeKfp("sa-token-for-pipelines.kubeflow.org")) as (s3, kfp):
        for name, value in {
            "NAMESPACE": "team-nlp", "DATASET_BUCKET": "mlpipeline", "DATASET_MANIFEST_KEY": MANIFEST,
            "TOKEN_FILE": str(token), "S3_ENDPOINT": s3.url, "S3_CA_FILE": str(tmp_path / "absent.crt"),
            "AWS_ACCESS_KEY_ID": "team-nlp-key", "AWS_SECRET_ACCESS_KEY": "team-nlp-secret", "RUN_PREFIX": "sentiment",
            "KFP_API": kfp.url, "EXPERIMENT": "sentiment-classifier", "RUN_REQUEST": str(TRIGGER / "run-request.json"),
        }.items():
            monkeypatch.setenv(name, value)
        yield s3, kfp


def test_a_new_dataset_version_starts_exactly_one_run_of_the_committed_pipeline(world):
    s3, kfp = world
    trigger = load_trigger()
    first = s3.put("mlpipeline", MANIFEST, b'{"objects": []}')
    assert trigger.main() == 0
    (run,) = kfp.runs
    assert run["display_name"] == f"sentiment-{first}"
    assert run["runtime_config"]["parameters"]["dataset_manifest_version"] == first
    assert run["pipeline_spec"] == json.loads((TRIGGER / "run-request.json").read_text())
    assert run["service_account"] == "default-editor"
    (experiment,) = kfp.experiments
    assert experiment == {"display_name": "sentiment-classifier", "namespace": "team-nlp", "experiment_id": run["experiment_id"]}

    assert trigger.main() == 0 and len(kfp.runs) == 1  # same version: KFP already has its run, nothing new
    second = s3.put("mlpipeline", MANIFEST, b'{"objects": [1]}')
    assert trigger.main() == 0
    assert [r["runtime_config"]["parameters"]["dataset_manifest_version"] for r in kfp.runs] == [first, second]
    assert len(kfp.experiments) == 1  # the experiment is found by name, not created again


def test_a_wrong_key_or_token_fails_the_job_and_starts_nothing(world, monkeypatch):
    s3, kfp = world
    trigger = load_trigger()
    s3.put("mlpipeline", MANIFEST, b"{}")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-key")
    with pytest.raises(Exception, match="403"):
        trigger.main()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "team-nlp-secret")
    monkeypatch.setattr(kfp, "token", "another-token")
    with pytest.raises(SystemExit, match="HTTP 401"):
        trigger.main()
    assert kfp.runs == []


def test_an_unversioned_bucket_is_refused(world):
    s3, kfp = world
    trigger = load_trigger()
    s3.put("mlpipeline", MANIFEST, b"{}")
    s3.objects[("mlpipeline", MANIFEST)] = [("null", b"{}")]  # what S3 answers for an unversioned object
    with pytest.raises(SystemExit, match="must be versioned"):
        trigger.main()
    assert kfp.runs == []
