"""The committed pipeline IR is what the pipeline source compiles to, and it keeps the platform's rules.

One subprocess (the KFP SDK 2.15.2 of .venv-kfp) recompiles the pipeline; the rest reads the IR.
"""
from __future__ import annotations

import json
import pathlib
import re
import subprocess

import pytest
import yaml

from kfplatform.config import load_platform_config
from kfplatform.kubeflow.pipelines import base_image_ref
from kfplatform.render.run import read_stack_config
from tests.conftest import PROJECT_DIR
from tests.tools import require_kfp_python

EXAMPLE = PROJECT_DIR / "workloads" / "example" / "team-nlp"
IR = EXAMPLE / "pipeline" / "pipeline.yaml"
RUN_REQUEST = EXAMPLE / "trigger" / "run-request.json"
PUBLIC = re.compile(r"pypi\.org|pythonhosted\.org|docker\.io|gcr\.io|ghcr\.io|quay\.io|registry\.k8s\.io|--index-url|"
                    r"--extra-index-url|--trusted-host|\bpython:3\.\d+\b(?!-)")


@pytest.fixture(scope="module")
def recompiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("recompile")
    code = (
        "import pathlib, sys; sys.path.insert(0, sys.argv[1]); import sentiment_pipeline as p; "
        "p.compile_pipeline(pathlib.Path(sys.argv[2]) / 'pipeline.yaml', pathlib.Path(sys.argv[2]) / 'run-request.json')"
    )
    done = subprocess.run([require_kfp_python(), "-c", code, str(EXAMPLE / "pipeline"), str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def ir():
    docs = [d for d in yaml.safe_load_all(IR.read_text()) if d]
    return {"spec": docs[0], "platform": docs[1]}


@pytest.fixture(scope="module")
def prod_config():
    raw, _ = read_stack_config(PROJECT_DIR, "prod")
    return load_platform_config("prod", raw, PROJECT_DIR).stack


def test_the_committed_ir_and_run_body_are_what_the_source_compiles_to(recompiled):
    assert (recompiled / "pipeline.yaml").read_text() == IR.read_text(), \
        "pipeline.yaml is stale: run .venv-kfp/bin/python workloads/example/team-nlp/pipeline/sentiment_pipeline.py"
    assert (recompiled / "run-request.json").read_text() == RUN_REQUEST.read_text()


def test_the_trigger_sends_exactly_the_committed_ir(ir):
    body = json.loads(RUN_REQUEST.read_text())
    assert body == {"pipeline_spec": ir["spec"], "platform_spec": ir["platform"]}


def test_every_step_runs_the_mirrored_digest_pinned_base_image(ir, prod_config):
    expected = base_image_ref(prod_config.kubeflow.pipelines, prod_config.images.mirror)
    executors = ir["spec"]["deploymentSpec"]["executors"]
    assert len(executors) == 6
    assert {e["container"]["image"] for e in executors.values()} == {expected}


def test_no_public_registry_or_index_anywhere_in_the_directory():
    files = [p for p in EXAMPLE.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert {p.name for p in files} >= {"pipeline.yaml", "sentiment_pipeline.py", "trigger.py", "trigger.yaml", "kustomization.yaml"}
    for path in files:
        found = PUBLIC.findall(path.read_text())
        assert not found, f"{path.relative_to(PROJECT_DIR)}: {found}"
    # pip reads PIP_INDEX_URL (the platform's mirror, set by the API server), and every package is pinned.
    for name, executor in json.loads(RUN_REQUEST.read_text())["pipeline_spec"]["deploymentSpec"]["executors"].items():
        script = executor["container"]["command"][2]
        for package in re.findall(r"'([A-Za-z][^' ]*)'", script.split("pip install", 1)[1].split("&&")[0]):
            if not package.startswith("--") and "python_version<" not in package:
                assert "==" in package, f"{name}: {package} is not pinned"


def test_the_not_vacuous_check_of_the_public_pattern():
    for bad in ("image: python:3.11", "pip install --index-url https://x", "docker.io/library/busybox", "https://pypi.org/simple"):
        assert PUBLIC.search(bad), bad
    assert not PUBLIC.search("registry.ml.example.com/mirror/library/python:3.12-slim-bookworm@sha256:00")


def test_dataset_model_and_evaluation_are_typed_mlmd_artifacts(ir):
    components = ir["spec"]["components"]

    def outputs(component):
        return {k: v["artifactType"]["schemaTitle"] for k, v in components[component]["outputDefinitions"].get("artifacts", {}).items()}

    assert outputs("comp-resolve-dataset") == {"dataset": "system.Dataset"}
    assert outputs("comp-train-model") == {"model": "system.Model"}
    assert outputs("comp-evaluate-model") == {"metrics": "system.Metrics", "report": "system.ClassificationMetrics"}
    # The dataset version is a required run input (no default: a run never reads "latest").
    root = ir["spec"]["root"]["inputDefinitions"]["parameters"]
    assert "defaultValue" not in root["dataset_manifest_version"] and not root["dataset_manifest_version"].get("isOptional")


def test_packaging_registration_and_the_proposal_run_only_after_evaluation_passes(ir):
    tasks = ir["spec"]["root"]["dag"]["tasks"]
    (gate,) = [t for t in tasks.values() if t["taskInfo"]["name"] == "evaluation-passed"]
    assert gate["triggerPolicy"]["condition"] == "inputs.parameter_values['pipelinechannel--evaluate-model-passed'] == true"
    gated = ir["spec"]["components"][gate["componentRef"]["name"]]["dag"]["tasks"]
    assert set(gated) == {"package-model", "register-model", "propose-canary"}
    assert not {"package-model", "register-model", "propose-canary"} & set(tasks)


def test_each_step_gets_only_the_secret_it_needs(ir):
    executors = ir["platform"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    secrets = {name: {s["secretName"] for s in e.get("secretAsEnv", [])} for name, e in executors.items()}
    assert secrets == {
        "exec-resolve-dataset": {"mlpipeline-minio-artifact"},
        "exec-package-model": {"model-push-credentials"},
        "exec-propose-canary": {"git-credentials"},
    }
