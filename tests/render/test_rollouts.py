"""Upgrades do not drop traffic: over the whole render, every multi-replica platform workload rolls
surge-first (a new pod is Ready before an old one goes) and has a disruption budget, and the two
connection-holding proxies (the Istio ingress gateway, ProxySQL) drain before they exit."""
from __future__ import annotations

import os
import pathlib
import subprocess

import pytest
import yaml

from kfplatform.data import proxysql
from kfplatform.kubeflow import ha
from kfplatform.kubeflow.release import HA_WORKLOADS

from ..kubeflow.conftest import app
from ..kubeflow.test_kustomize_semantics import build


def _surges_first(strategy: dict | None) -> bool:
    rolling = (strategy or {}).get("rollingUpdate") or {}
    surge = rolling.get("maxSurge")
    surge_ok = (isinstance(surge, int) and surge >= 1) or (isinstance(surge, str) and surge.endswith("%") and int(surge[:-1]) > 0)
    return (strategy or {}).get("type", "RollingUpdate") == "RollingUpdate" and rolling.get("maxUnavailable") in (0, "0%") and surge_ok


def _selects(selector: dict, labels: dict) -> bool:
    return (selector.get("matchLabels") or {}).items() <= labels.items() and not selector.get("matchExpressions")


def _pdbs(result, namespace: str) -> list[dict]:
    return [o for o in result.kubernetes_objects() if o["kind"] == "PodDisruptionBudget" and o["metadata"]["namespace"] == namespace]


def test_every_rendered_multi_replica_deployment_surges_first_and_has_a_pdb(each_stack):
    checked = []
    for o in each_stack.kubernetes_objects():
        if o["kind"] not in ("Deployment", "StatefulSet") or (o["spec"].get("replicas") or 1) < 2:
            continue
        name = f"{o['kind']} {o['metadata']['namespace']}/{o['metadata']['name']}"
        if o["kind"] == "Deployment":
            assert _surges_first(o["spec"].get("strategy")), name
        else:
            assert (o["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate", name
        labels = o["spec"]["template"]["metadata"]["labels"]
        assert any(_selects(p["spec"]["selector"], labels) for p in _pdbs(each_stack, o["metadata"]["namespace"])), name
        checked.append(name)
    if each_stack.stack == "prod":
        assert "Deployment kubeflow-db/proxysql" in checked


def test_every_upstream_deployment_scaled_past_one_is_patched_to_surge_first(each_stack):
    """The install Applications: each Deployment whose `replicas` entry is > 1 has a patch making
    its rollout surge-only, and a PDB of ours selecting its pods."""
    seen = 0
    for o in each_stack.kubernetes_objects():
        if o["kind"] != "Application" or not o["spec"]["source"].get("kustomize"):
            continue
        kustomize = o["spec"]["source"]["kustomize"]
        for entry in kustomize.get("replicas") or []:
            if entry["count"] < 2:
                continue
            bodies = [yaml.safe_load(p["patch"]) for p in kustomize["patches"]
                      if p["target"].get("kind") == "Deployment" and p["target"].get("name") == entry["name"]]
            assert any(_surges_first((b.get("spec") or {}).get("strategy")) for b in bodies), entry["name"]
            (workload,) = [w for w in HA_WORKLOADS.values() if w.deployment == entry["name"]]
            namespace = o["spec"]["destination"]["namespace"]
            assert any(_selects(p["spec"]["selector"], dict(workload.selector)) for p in _pdbs(each_stack, namespace)), entry["name"]
            seen += 1
    if each_stack.stack == "prod":
        assert seen == len(HA_WORKLOADS)


def test_operator_managed_replicas_respect_disruption_budgets(each_stack):
    """Galera (mariadb-operator) keeps quorum through a rollout; each MinIO pool has a PDB."""
    for o in each_stack.kubernetes_objects():
        if o["kind"] == "MariaDB" and o["spec"]["replicas"] >= 3:
            assert o["spec"]["podDisruptionBudget"]["maxUnavailable"] == (o["spec"]["replicas"] - 1) // 2
            assert o["spec"]["updateStrategy"]["type"] == "ReplicasFirstPrimaryLast"


# Helm releases with more than one replica: the chart's PDB is switched on. The MinIO operator
# chart 7.1.1 has no PDB template (helm/operator/templates at minio/operator v7.1.1); its two
# replicas are a leader-elected controller serving no traffic.
KNOWN_WITHOUT_PDB = {"minio-operator"}


def test_multi_replica_helm_releases_turn_their_pdbs_on(each_stack):
    for r in each_stack.by_type("kubernetes:helm.sh/v3:Release"):
        values = r.inputs.get("values") or {}
        if "podDisruptionBudget" in values:  # ESO
            if values.get("replicaCount", 1) > 1:
                assert values["podDisruptionBudget"]["enabled"] is True, r.name
        if "ha" in values and values["ha"].get("enabled"):
            assert values["pdb"]["enabled"] is True, r.name
        if r.name in KNOWN_WITHOUT_PDB:
            assert "pdb" not in values and "podDisruptionBudget" not in values["operator"]


# --- draining ---------------------------------------------------------------------------------


def test_proxysql_drains_before_it_exits(each_stack):
    deployment = each_stack.find("Deployment", "proxysql", "kubeflow-db")
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["lifecycle"]["preStop"] == {"exec": {"command": ["/bin/sh", "/etc/proxysql/scripts/prestop.sh"]}}
    scripts = each_stack.find("ConfigMap", "proxysql-scripts", "kubeflow-db")["data"]
    assert scripts["prestop.sh"] == proxysql.PRESTOP_SCRIPT
    assert spec["terminationGracePeriodSeconds"] > proxysql.DRAIN_MIN_SECONDS + proxysql.DRAIN_MAX_SECONDS


def _tcp_line(slot: int, local_port: int, state: str) -> str:
    # The layout of /proc/net/tcp (sl, local, remote, st, ...), as the kernel writes it.
    return (f"{slot:4d}: 0100007F:{local_port:04X} 0100007F:C9F0 {state} 00000000:00000000 00:00000000 "
            "00000000     0        0 0 1 0000000000000000 100 0 0 10 0\n")


def _run_prestop(tmp_path: pathlib.Path, lines: list[str], drain_max: int) -> float:
    import time

    net = tmp_path / "net"
    net.mkdir(exist_ok=True)
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    (net / "tcp").write_text(header + "".join(lines))
    (net / "tcp6").write_text(header)
    script = tmp_path / "prestop.sh"
    script.write_text(proxysql.PRESTOP_SCRIPT)
    started = time.monotonic()
    subprocess.run(["/bin/sh", str(script)], check=True, timeout=30,
                   env={**os.environ, "PROC_NET": str(net), "DRAIN_MIN": "0", "DRAIN_MAX": str(drain_max)})
    return time.monotonic() - started


def test_the_proxysql_prestop_waits_for_open_client_connections_and_no_longer(tmp_path):
    port = proxysql.PROXYSQL_PORT
    assert _run_prestop(tmp_path, [_tcp_line(0, port, "0A")], drain_max=3) < 1.5  # only the listener: done
    assert _run_prestop(tmp_path, [_tcp_line(0, port, "06"), _tcp_line(1, 3306, "01")], drain_max=3) < 1.5  # TIME_WAIT, other ports
    assert _run_prestop(tmp_path, [_tcp_line(0, port, "0A"), _tcp_line(1, port, "01")], drain_max=2) >= 1.5  # a client: waits


def test_the_gateway_drains_before_it_exits(prod, tmp_path):
    """Built through kustomize with the istio-install Application over the v1.11.0 stand-in (whose
    upstream rollout is maxSurge 100% / maxUnavailable 25%)."""
    objects = build(tmp_path, "istio-install", app(prod, "istio-install")["spec"]["source"]["kustomize"])
    workload = HA_WORKLOADS["istio_ingress_gateway"]
    deployment = objects[("Deployment", workload.deployment)]
    assert _surges_first(deployment["spec"]["strategy"])
    spec = deployment["spec"]["template"]["spec"]
    (container,) = [c for c in spec["containers"] if c["name"] == workload.container]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env["EXIT_ON_ZERO_ACTIVE_CONNECTIONS"] == "true"
    assert env["MINIMUM_DRAIN_DURATION"] == ha.GATEWAY_MIN_DRAIN
    prestop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert prestop == ha.GATEWAY_PRESTOP_SECONDS
    assert spec["terminationGracePeriodSeconds"] > prestop + int(ha.GATEWAY_MIN_DRAIN.removesuffix("s"))
    assert container["image"] == "docker.io/istio/proxyv2"  # patched, not replaced
