"""Class 3, reserved namespaces: derived from what the stack deploys and the pinned Kubeflow install."""
from __future__ import annotations

import pytest

from kfplatform.config import load_platform_config
from kfplatform.config.reserved import reserved_namespaces, reserved_reason
from kfplatform.kubeflow.release import COMPONENTS
from tests.conftest import PROJECT_DIR
from tests.config.helpers import errors, load, stack_config, tenant, with_stack


def _team(name: str) -> dict:
    body = tenant("team-forecasting")  # no GPUs: an extra team never oversubscribes a pool
    body["name"] = name
    return {name: body}


@pytest.mark.parametrize("name, why", [
    ("kubeflow", "cluster.namespaces.kubeflow"),
    ("istio-system", "cluster.namespaces.istio"),
    ("auth", "cluster.namespaces.auth"),
    ("oauth2-proxy", "cluster.namespaces.oauth2Proxy"),
    ("kubeflow-db", "cluster.namespaces.database"),
    ("kubeflow-minio", "cluster.namespaces.objectStore"),
    ("monitoring", "cluster.namespaces.monitoring"),
    ("platform-operators", "cluster.namespaces.operators"),
    ("gpu-operator", "cluster.namespaces.gpuOperator"),
    ("argocd", "kubeflow.argocd.namespace"),
    ("logging", "cluster.namespaces.logging"),
    ("kfplatform-audit", "cluster.namespaces.audit"),
    ("velero", "cluster.namespaces.backup"),
    ("cert-manager", "Kubeflow's cert-manager component (v1.11.0)"),
    ("knative-serving", "Kubeflow's knative-serving component (v1.11.0)"),
    ("default", "Kubernetes' default namespace"),
    ("kube-system", "kube-* namespaces are Kubernetes' own"),
    ("kube-public", "kube-* namespaces are Kubernetes' own"),
    ("kube-node-lease", "kube-* namespaces are Kubernetes' own"),
    ("kube-anything", "kube-* namespaces are Kubernetes' own"),
])
def test_platform_and_install_namespaces_are_refused(tmp_path, name, why):
    issues = errors(tmp_path, tenants=_team(name))
    mine = [i for i in issues if i.startswith(f"tenants/{name}.yaml: name: '{name}' is taken: ")]
    assert len(mine) == 1 and why in mine[0], issues


@pytest.mark.parametrize("name", ["team-auth", "kube", "knative", "cert-manager-team", "team-monitoring", "defaults"])
def test_neighbouring_names_are_free(tmp_path, name):
    config = load(tmp_path, tenants=_team(name))
    assert name in [t.config.name for t in config.tenants]


def test_the_list_follows_the_stack_not_a_hand_kept_copy(tmp_path):
    moved = with_stack(cluster={**stack_config()["kubeflow-platform:cluster"], "namespaces": {"monitoring": "observability"}})
    moved["kubeflow-platform:kubeflow"]["argocd"] = {"namespace": "gitops"}
    (issue,) = errors(tmp_path / "a", moved, tenants=_team("observability"))
    assert "cluster.namespaces.monitoring" in issue
    issues = errors(tmp_path / "b", moved, tenants=_team("gitops"))
    assert any(i.startswith("tenants/gitops.yaml: name: ") and "kubeflow.argocd.namespace" in i for i in issues)
    assert load(tmp_path / "c", moved, tenants=_team("argocd"))  # no longer Argo CD's
    # `monitoring` stays taken: Prometheus is still reached there (network.ingress.prometheus).
    (issue,) = errors(tmp_path / "d", moved, tenants=_team("monitoring"))
    assert "network.ingress.prometheus" in issue


def test_a_skipped_component_still_holds_its_namespaces(tmp_path):
    config = stack_config()
    config["kubeflow-platform:kubeflow"]["skipComponents"] = ["cert-manager"]
    (issue,) = errors(tmp_path, config, tenants=_team("cert-manager"))
    assert "installed separately on this cluster" in issue


def test_every_upstream_component_names_its_namespaces():
    for name, component in COMPONENTS.items():
        assert all(ns == ns.lower() and " " not in ns for ns in component.upstream_namespaces), name
    assert {ns for c in COMPONENTS.values() for ns in c.upstream_namespaces} >= {
        "cert-manager", "knative-serving", "istio-system", "auth", "oauth2-proxy", "kubeflow", "kube-system"}


@pytest.mark.parametrize("stack", ["prod", "sandbox"])
def test_every_namespace_the_render_lands_in_is_reserved(request, stack):
    """The derivation covers what the program deploys: objects, Helm releases and Argo CD destinations."""
    result = request.getfixturevalue(stack)
    config = load_platform_config(stack, stack_config(stack), PROJECT_DIR)
    tenants = {t.config.name for t in config.tenants}
    used = set()
    for obj in result.kubernetes_objects():
        used.add(obj["metadata"].get("namespace"))
        if obj["kind"] == "Application":
            used.add(obj["spec"]["destination"].get("namespace"))
    for resource in result.by_type("kubernetes:helm.sh/v3:Release"):
        used.add(resource.inputs.get("namespace"))
    used -= {None} | tenants
    assert used, "the render lands objects in platform namespaces"
    unreserved = sorted(ns for ns in used if reserved_reason(ns, config.stack) is None)
    assert unreserved == [], f"namespaces the program deploys into but a tenant could take: {unreserved}"
    assert set(reserved_namespaces(config.stack)) >= used - {ns for ns in used if ns.startswith("kube-")}
