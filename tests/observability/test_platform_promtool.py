"""Platform and drift alerts of the prod render under `promtool test rules`: each fires on the
failure it names, after its `for:`, with the platform's routing labels; healthy series are silent."""
from __future__ import annotations

import pytest

from tests.observability.promtool_harness import run_promtool_tests


@pytest.fixture(scope="module")
def platform_groups(prod):
    return prod.find("PrometheusRule", "kfplatform-platform", "monitoring")["spec"]["groups"]


def rule(groups, alert: str) -> dict:
    (found,) = [r for g in groups for r in g["rules"] if r.get("alert") == alert]
    return found


def fired(groups, alert: str, series_labels: dict, summary: str) -> dict:
    r = rule(groups, alert)
    return {"exp_labels": {**series_labels, **r["labels"]},
            "exp_annotations": {"summary": summary, "runbook_url": r["annotations"]["runbook_url"]}}


def series(name: str, labels: dict, values: str) -> dict:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{body}}}", "values": values}


def case(input_series, alert, at, exp) -> dict:
    return {"interval": "1m", "input_series": input_series,
            "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": exp}]}


def test_galera_and_proxysql(platform_groups, tmp_path):
    node = {"namespace": "kubeflow-db", "instance": "galera-0"}
    pool = {"namespace": "kubeflow-db", "pod": "proxysql-0"}
    size_two = [series("mysql_global_status_wsrep_cluster_size", {**node, "instance": f"galera-{i}"}, "3 3 2x20") for i in (0, 1)]
    tests = [
        case(size_two, "GaleraClusterSizeLow", "3m", []),  # pending: for 5m
        case(size_two, "GaleraClusterSizeLow", "12m",
             [fired(platform_groups, "GaleraClusterSizeLow", {}, "The Galera cluster has 2 of 3 nodes: one more loss costs quorum")]),
        case([series("mysql_global_status_wsrep_cluster_size", node, "3x30")], "GaleraClusterSizeLow", "20m", []),
        case([series("mysql_global_status_wsrep_local_state", node, "2x30")], "GaleraNodeNotSynced", "20m",
             [fired(platform_groups, "GaleraNodeNotSynced", node, "Galera node galera-0 is not Synced (wsrep_local_state 2)")]),
        case([series("mysql_global_status_wsrep_local_state", node, "2x5 4x25")], "GaleraNodeNotSynced", "20m", []),
        case([series("proxysql_connpool_conns_status", {**pool, "endpoint": f"galera-{i}:3306"}, "1 1 2x20") for i in range(3)],
             "ProxySqlNoBackend", "10m",
             [fired(platform_groups, "ProxySqlNoBackend", {"pod": "proxysql-0"},
                    "ProxySQL proxysql-0 has no ONLINE Galera backend: KFP and Katib cannot write")]),
        case([series("proxysql_connpool_conns_status", {**pool, "endpoint": "galera-0:3306"}, "1x20"),
              series("proxysql_connpool_conns_status", {**pool, "endpoint": "galera-1:3306"}, "2x20")],
             "ProxySqlNoBackend", "15m", []),
    ]
    run_promtool_tests(tmp_path, platform_groups, tests)


def test_minio_parity_and_storage(platform_groups, tmp_path):
    s3 = {"namespace": "kubeflow-minio", "pool": "0", "set": "0"}
    pvc = {"namespace": "kubeflow-db", "persistentvolumeclaim": "storage-galera-0"}
    tests = [
        # 12 drives, write quorum 8 (EC:4): 8 online leaves no margin.
        case([series("minio_cluster_health_erasure_set_online_drives", s3, "12 12 8x20"),
              series("minio_cluster_health_erasure_set_write_quorum", s3, "8x22")], "MinioParityAtRisk", "15m",
             [fired(platform_groups, "MinioParityAtRisk", {"pool": "0", "set": "0"},
                    "MinIO pool 0 set 0 is at its write quorum: one more drive loss stops writes")]),
        case([series("minio_cluster_health_erasure_set_online_drives", s3, "10x20"),
              series("minio_cluster_health_erasure_set_write_quorum", s3, "8x20")], "MinioParityAtRisk", "15m", []),
        case([series("kubelet_volume_stats_available_bytes", pvc, "2x20"),
              series("kubelet_volume_stats_capacity_bytes", pvc, "100x20")], "PersistentVolumeFull", "10m",
             [fired(platform_groups, "PersistentVolumeFull", pvc, "Volume kubeflow-db/storage-galera-0 is over 97% full")]),
        case([series("kubelet_volume_stats_available_bytes", pvc, "50x20"),
              series("kubelet_volume_stats_capacity_bytes", pvc, "100x20")], "PersistentVolumeFull", "10m", []),
    ]
    run_promtool_tests(tmp_path, platform_groups, tests)


def test_gpu_node_not_ready_watches_the_pools_nodes_only(platform_groups, tmp_path):
    def node(name, values):
        return series("kube_node_status_condition", {"node": name, "condition": "Ready", "status": "true"}, values)
    tests = [
        case([node("gpu-h100-01", "1 1 0x20"), node("cpu-01", "0x20")], "GpuNodeNotReady", "10m",
             [fired(platform_groups, "GpuNodeNotReady", {"node": "gpu-h100-01", "condition": "Ready", "status": "true"},
                    "GPU node gpu-h100-01 is not Ready")]),
    ]
    run_promtool_tests(tmp_path, platform_groups, tests)


def test_drift_alert_names_the_model_and_routes_to_the_team(prod, tmp_path):
    groups = prod.find("PrometheusRule", "kfplatform-tenant-team-vision", "monitoring")["spec"]["groups"]
    r = rule(groups, "ModelDriftDetected")
    labels = {"namespace": "team-vision", "model": "defect-detector"}
    drifting = [series("kfplatform_model_drift_score", {**labels, "feature": "brightness"}, "0.1 0.1 0.5x60")]
    brief = [series("kfplatform_model_drift_score", {**labels, "feature": "brightness"}, "0.1 0.5x10 0.1x50")]
    exp = {"exp_labels": {**labels, **r["labels"], "name": "defect-detector"},
           "exp_annotations": {"summary": "team-vision/defect-detector: drift score 0.50 above 0.3 for 30m",
                               "runbook_url": r["annotations"]["runbook_url"]}}
    assert exp["exp_labels"]["team"] == "team-vision" and exp["exp_labels"]["slo"] == "model_drift"
    tests = [case(drifting, "ModelDriftDetected", "45m", [exp]), case(brief, "ModelDriftDetected", "45m", [])]
    run_promtool_tests(tmp_path, groups, tests)


def test_kfp_run_success_rate_counts_runs_that_appear_as_new_series(platform_groups, tmp_path):
    """Each run is its own (profile, workflow) series that appears at 1 when the run finishes."""
    def runs(outcome: str, starts: list[int]) -> list[dict]:
        return [series(f"resource_manager_workflow_runs_{outcome}",
                       {"namespace": "kubeflow", "profile": "team-nlp", "workflow": f"{outcome}-{i}"},
                       (f"_x{start} " if start else "") + f"1x{100 - start}")
                for i, start in enumerate(starts)]
    failing = runs("success", [5, 15, 25, 35, 45, 55]) + runs("failed", [10, 20, 30, 40, 50, 60, 65, 70, 75])
    healthy = runs("success", [5, 10, 15, 20, 25, 30, 35, 40, 45]) + runs("failed", [30])
    rare = runs("failed", [10, 20])  # two runs, both failed: too few to be a rate
    r = rule(platform_groups, "KfpRunSuccessRateLow")
    exp = {"exp_labels": r["labels"], "exp_annotations": r["annotations"]}
    tests = [case(failing, "KfpRunSuccessRateLow", "80m", [exp]), case(healthy, "KfpRunSuccessRateLow", "80m", []),
             case(rare, "KfpRunSuccessRateLow", "80m", [])]
    run_promtool_tests(tmp_path, platform_groups, tests)


def test_a_missing_metrics_source_is_reported_not_silent(platform_groups, tmp_path):
    present = [series("mysql_global_status_wsrep_cluster_size", {"namespace": "kubeflow-db", "instance": "galera-0"}, "3x60")]
    r = next(x for x in rule_list(platform_groups, "PlatformMetricsAbsent") if x["labels"]["name"] == "galera")
    exp = {"exp_labels": absent_labels(r), "exp_annotations": r["annotations"]}
    others = [{"exp_labels": absent_labels(x), "exp_annotations": x["annotations"]}
              for x in rule_list(platform_groups, "PlatformMetricsAbsent") if x["labels"]["name"] != "galera"]
    tests = [
        case([], "PlatformMetricsAbsent", "20m", []),  # not yet 30 minutes
        case([], "PlatformMetricsAbsent", "40m", [exp, *others]),
        case(present, "PlatformMetricsAbsent", "40m", others),
    ]
    run_promtool_tests(tmp_path, platform_groups, tests)


def rule_list(groups, alert: str) -> list[dict]:
    return [r for g in groups for r in g["rules"] if r.get("alert") == alert]


def absent_labels(r: dict) -> dict:
    """absent() carries the selector's equality matchers as labels (here: `namespace`)."""
    import re

    found = re.search(r'namespace="([^"]+)"', r["expr"])
    return {**r["labels"], **({"namespace": found.group(1)} if found else {})}


def test_kubeflow_application_unhealthy_only_for_the_install_project(platform_groups, tmp_path):
    app = {"namespace": "argocd", "name": "kubeflow-pipelines", "project": "kubeflow-install", "health_status": "Degraded"}
    r = rule(platform_groups, "KubeflowApplicationUnhealthy")
    exp = {"exp_labels": {**app, **r["labels"]},
           "exp_annotations": {"summary": "Argo CD Application kubeflow-pipelines of the Kubeflow install is Degraded",
                               "runbook_url": r["annotations"]["runbook_url"]}}
    tests = [
        case([series("argocd_app_info", app, "1x30")], "KubeflowApplicationUnhealthy", "20m", [exp]),
        case([series("argocd_app_info", {**app, "project": "tenants"}, "1x30")], "KubeflowApplicationUnhealthy", "20m", []),
        case([series("argocd_app_info", {**app, "health_status": "Healthy"}, "1x30")], "KubeflowApplicationUnhealthy", "20m", []),
    ]
    run_promtool_tests(tmp_path, platform_groups, tests)
