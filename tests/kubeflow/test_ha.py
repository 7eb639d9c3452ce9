"""The HA floor of the Kubeflow control plane, as rendered offline."""
import pytest

from kfplatform.kubeflow.release import HA_WORKLOADS

from .conftest import app, patches_for

# The issue's four, plus the login path (Dex, oauth2-proxy).
REQUIRED = {
    "ml-pipeline": "kubeflow",
    "metadata-grpc-deployment": "kubeflow",
    "ml-pipeline-ui": "kubeflow",
    "istio-ingressgateway": "istio-system",
}


@pytest.mark.parametrize("deployment,namespace", sorted(REQUIRED.items()))
def test_prod_floor_is_at_least_two_with_hpa_pdb_and_spread(prod, deployment, namespace):
    workload = next(w for w in HA_WORKLOADS.values() if w.deployment == deployment)
    hpa = prod.find("HorizontalPodAutoscaler", deployment, namespace)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment}
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"]

    pdb = prod.find("PodDisruptionBudget", deployment, namespace)
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == workload.selector
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"

    application = app(prod, workload.component)
    (replicas,) = [r for r in application["spec"]["source"]["kustomize"]["replicas"] if r["name"] == deployment]
    assert replicas["count"] == hpa["spec"]["minReplicas"]
    assert {"group": "apps", "kind": "Deployment", "name": deployment, "jsonPointers": ["/spec/replicas"]} in application["spec"][
        "ignoreDifferences"
    ]
    assert "RespectIgnoreDifferences=true" in application["spec"]["syncPolicy"]["syncOptions"]

    (spec,) = [
        p["spec"] for p in patches_for(prod, workload.component, "Deployment", deployment)
        if "topologySpreadConstraints" in p["spec"].get("template", {}).get("spec", {})
    ]
    spread = {c["topologyKey"]: c for c in spec["template"]["spec"]["topologySpreadConstraints"]}
    assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"
    # Tainted nodes (dedicated GPU pools, cordoned nodes) are not domains that stay at 0 for ever.
    assert all(c["nodeTaintsPolicy"] == "Honor" for c in spread.values())
    assert spread["topology.kubernetes.io/zone"]["labelSelector"]["matchLabels"] == workload.selector
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}


def test_every_hpa_has_a_pdb_and_an_alert(each_stack):
    hpas = [o for o in each_stack.kubernetes_objects() if o["kind"] == "HorizontalPodAutoscaler"]
    assert len(hpas) == len(HA_WORKLOADS)
    for hpa in hpas:
        each_stack.find("PodDisruptionBudget", hpa["metadata"]["name"], hpa["metadata"]["namespace"])


def test_floor_alert_names_each_workload_and_its_floor(prod):
    rule = prod.find("PrometheusRule", "kubeflow-control-plane-ha", "monitoring")
    exprs = [r["expr"] for r in rule["spec"]["groups"][0]["rules"]]
    assert any('deployment="ml-pipeline"} < 3' in e for e in exprs)
    assert len(exprs) == len(HA_WORKLOADS)


def test_upstream_gateway_hpa_is_dropped_so_only_ours_targets_it(prod):
    """v1.11.0 ships an HPA for the gateway and no PDB (a delete of one would match nothing)."""
    deleted = {(p.get("target", {}).get("kind"), p.get("target", {}).get("name")) for p in app(prod, "istio-install")["spec"]["source"]["kustomize"]["patches"] if "$patch: delete" in p["patch"]}
    assert ("HorizontalPodAutoscaler", "istio-ingressgateway") in deleted
    assert ("PodDisruptionBudget", "istio-ingressgateway") not in deleted


def test_profile_controller_stays_single_replica_without_pdb(each_stack):
    replicas = app(each_stack, "profiles")["spec"]["source"]["kustomize"]["replicas"]
    assert replicas == [{"name": "profiles-deployment", "count": 1}]
    names = {o["metadata"]["name"] for o in each_stack.kubernetes_objects() if o["kind"] == "PodDisruptionBudget"}
    assert "profiles-deployment" not in names  # a PDB on one replica would block every node drain


def test_prod_refuses_a_single_replica(issues):
    found = issues("prod", lambda kf: kf["controlPlane"]["mlPipeline"].update(minReplicas=1))
    assert found == [
        "kubeflow-platform:kubeflow.controlPlane.mlPipeline.minReplicas: "
        "1 replica(s): prod runs every control-plane component with at least 2 replicas"
    ]


def test_prod_default_floor_is_two_when_a_component_is_not_configured(issues, prod):
    assert issues("prod", lambda kf: kf["controlPlane"].pop("metadataGrpc")) == []


def test_sandbox_may_run_single_replicas(sandbox):
    assert sandbox.find("HorizontalPodAutoscaler", "ml-pipeline", "kubeflow")["spec"]["minReplicas"] == 1


def test_max_below_min_is_refused(issues):
    found = issues("sandbox", lambda kf: kf["controlPlane"]["dex"].update(minReplicas=3, maxReplicas=2))
    assert found == ["kubeflow-platform:kubeflow.controlPlane.dex: maxReplicas 2 is below minReplicas 3"]


def test_prod_needs_two_zones_for_the_spread_to_mean_anything(issues):
    found = issues("prod", lambda c: c.update(zones=["eu-west-1a"]), key="cluster")
    assert found == ["kubeflow-platform:cluster.zones: prod spreads the Kubeflow control plane over zones: list at least 2 zones"]


def test_floor_alert_follows_the_alert_contract_and_pages_only_for_a_real_floor():
    """A floor of >= 2 pages (the next node loss takes the component down), a floor of 1 is a
    ticket; labels and annotations as kfplatform/alerts.py says (they were critical/warning and a
    `runbook` path before)."""
    from kfplatform.config.stack import PlatformNamespaces
    from kfplatform.kubeflow.config import ControlPlaneConfig, Scaling
    from kfplatform.kubeflow.ha import FLOOR_ALERT, floor_rule_group

    config = ControlPlaneConfig(ml_pipeline=Scaling(min_replicas=1, max_replicas=2))
    group = floor_rule_group(config, PlatformNamespaces(), "https://git.example.com/p/-/blob/main")
    by_name = {r["labels"]["name"]: r for r in group["rules"]}
    assert len(by_name) == len(HA_WORKLOADS)
    assert by_name["ml-pipeline"]["labels"]["severity"] == "ticket"
    assert by_name["ml-pipeline-ui"]["labels"]["severity"] == "page"
    for rule in group["rules"]:
        assert rule["alert"] == FLOOR_ALERT
        assert set(rule["labels"]) == {"severity", "slo", "team", "name"} and rule["labels"]["team"] == "platform"
        assert rule["annotations"]["runbook_url"] == "https://git.example.com/p/-/blob/main/docs/runbook.md#kubeflowcontrolplanebelowfloor"


def test_floor_rule_carries_the_labels_prometheus_selects_rules_by(prod):
    """Rendered by observability: in `existing` mode Prometheus only reads rules with the selector
    labels (the rule had none when ha.py rendered it)."""
    rule = prod.find("PrometheusRule", "kubeflow-control-plane-ha", "monitoring")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
