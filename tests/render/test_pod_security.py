"""Every platform workload in a namespace labelled for the restricted Pod Security profile meets it.

The platform namespaces carry `pod-security.kubernetes.io/warn: restricted` (the data tier's and
others); a namespace labelled `restricted` in any mode must not warn on our own pods. This walks
the whole render: every object that makes pods (workload kinds, and the operators' CRs whose pods
the program describes: MariaDB and its metrics exporter, the MinIO Tenant's pools) is checked
against the restricted profile's rules (kubernetes.io/docs/concepts/security/pod-security-standards).
Helm releases are not expanded offline; their charts' pods are not in this list.
"""
from __future__ import annotations

import pytest

PSS_MODES = ("enforce", "warn", "audit")
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}


def restricted_namespaces(result) -> set[str]:
    return {
        o["metadata"]["name"] for o in result.kubernetes_objects() if o["kind"] == "Namespace"
        and "restricted" in {(o["metadata"].get("labels") or {}).get(f"pod-security.kubernetes.io/{m}") for m in PSS_MODES}
    }


def pods(obj: dict) -> list[tuple[str, dict]]:
    """(where, pod spec) for each kind of pod `obj` makes, as the API server or operator builds it."""
    kind, spec = obj["kind"], obj.get("spec") or {}
    if kind == "Pod":
        return [("pod", spec)]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return [("template", spec["template"]["spec"])]
    if kind == "CronJob":
        return [("jobTemplate", spec["jobTemplate"]["spec"]["template"]["spec"])]
    if kind == "MariaDB":  # k8s.mariadb.com/v1alpha1: the Galera pods and the exporter's
        galera = spec.get("galera") or {}
        out = [("galera", {
            "securityContext": spec.get("podSecurityContext"),
            "containers": [{"name": "mariadb", "securityContext": spec.get("securityContext")},
                           *([{"name": "agent", "securityContext": galera["agent"].get("securityContext")}] if galera.get("enabled") else [])],
            "initContainers": [{"name": "init", "securityContext": galera["initContainer"].get("securityContext")}] if galera.get("enabled") else [],
        })]
        exporter = (spec.get("metrics") or {}).get("exporter")
        if (spec.get("metrics") or {}).get("enabled"):
            out.append(("exporter", {"securityContext": exporter.get("podSecurityContext"),
                                     "containers": [{"name": "exporter", "securityContext": exporter.get("securityContext")}]}))
        return out
    if kind == "Tenant":  # minio.min.io/v2: each pool's server pods
        return [(f"pool {p['name']}", {"securityContext": p.get("securityContext"),
                                       "containers": [{"name": "minio", "securityContext": p.get("containerSecurityContext")}]})
                for p in spec["pools"]]
    return []


def restricted_violations(spec: dict) -> list[str]:
    problems = []
    pod_sc = spec.get("securityContext") or {}
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host):
            problems.append(host)
    for volume in spec.get("volumes") or []:
        types = set(volume) - {"name"}
        if not types <= RESTRICTED_VOLUMES:
            problems.append(f"volume {volume['name']}: {sorted(types - RESTRICTED_VOLUMES)}")
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    assert containers
    for c in containers:
        sc = c.get("securityContext") or {}
        name = c["name"]
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {caps['add']}")
        if not (sc.get("runAsNonRoot") is True or (pod_sc.get("runAsNonRoot") is True and sc.get("runAsNonRoot") is not False)):
            problems.append(f"{name}: runAsNonRoot is not true")
        if 0 in (sc.get("runAsUser"), pod_sc.get("runAsUser")):
            problems.append(f"{name}: runs as uid 0")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is {seccomp!r}, not RuntimeDefault or Localhost")
    return problems


def test_every_platform_workload_in_a_restricted_namespace_meets_the_profile(each_stack):
    namespaces = restricted_namespaces(each_stack)
    assert "kubeflow-db" in namespaces and "kubeflow-minio" in namespaces
    checked, failures = [], []
    for obj in each_stack.kubernetes_objects():
        if obj["metadata"].get("namespace") not in namespaces:
            continue
        for where, spec in pods(obj):
            checked.append((obj["kind"], obj["metadata"]["name"], where))
            failures += [f"{obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']} ({where}): {p}"
                         for p in restricted_violations(spec)]
    assert {k for k, _, _ in checked} >= {"Deployment", "MariaDB", "Tenant"}, checked
    assert failures == []


@pytest.mark.parametrize(
    "spec, problem",
    [
        ({"containers": [{"name": "c"}]}, "allowPrivilegeEscalation is not false"),
        ({"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
          "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["NET_RAW"]}}}]},
         "capabilities do not drop ALL"),
        ({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
          "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]},
         "runAsNonRoot is not true"),
        ({"securityContext": {"runAsNonRoot": True},
          "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]},
         "seccompProfile is None"),
        ({"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}, "hostNetwork": True,
          "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]},
         "hostNetwork"),
    ],
)
def test_the_check_catches_each_rule(spec, problem):
    assert any(problem in p for p in restricted_violations(spec))


def test_a_compliant_pod_passes():
    spec = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"name": "v", "secret": {"secretName": "s"}}],
            "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}
    assert restricted_violations(spec) == []
