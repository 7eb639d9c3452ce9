"""What reads a rotated credential from an environment variable is rolled by the `up` that rotates it.

A container's env (`secretKeyRef`, `envFrom`) is read when the container starts and never again: a
long-running pod keeps the previous keys after ESO refreshed its Secret. The object store's
reconciler removes the previous MinIO user once `previousKeyGraceHours` have passed
(data/object_users.py), so such a pod would lose its access then, silently until an alert. The
plane's convention (secrets/plane.py): the pod template carries the rotation marker of every
rotated path it reads, so the rotating `up` rolls it.
"""
from __future__ import annotations

from kfplatform.secrets.plane import ROTATION_ANNOTATION
from tests.secrets.rotation import rotated_paths

LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")


def env_secrets(pod_spec: dict) -> set[str]:
    names = set()
    for container in [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]:
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                names.add(ref["name"])
        for source in container.get("envFrom") or []:
            if source.get("secretRef"):
                names.add(source["secretRef"]["name"])
    return names


def test_every_workload_reading_rotated_keys_from_its_env_carries_their_marker(each_stack):
    markers = rotated_paths(each_stack)
    made_from = {
        (es["metadata"]["namespace"], es["spec"]["target"]["name"]): [d["remoteRef"]["key"] for d in es["spec"]["data"]]
        for es in each_stack.kubernetes_objects() if es["kind"] == "ExternalSecret"
    }
    checked = []
    for workload in each_stack.kubernetes_objects():
        if workload["kind"] not in LONG_RUNNING:
            continue
        namespace = workload["metadata"]["namespace"]
        template = workload["spec"]["template"]
        annotation = ((template.get("metadata") or {}).get("annotations") or {}).get(ROTATION_ANNOTATION) or ""
        carried = set(annotation.split(",")) if annotation else set()
        for secret in env_secrets(template["spec"]):
            for path in made_from.get((namespace, secret), []):
                if path in markers:
                    checked.append((workload["metadata"]["name"], path))
                    assert f"{path}={markers[path]}" in carried, (
                        f"{workload['kind']} {namespace}/{workload['metadata']['name']} reads rotated {path} "
                        f"(Secret {secret}) from its env without its rotation marker on the pod template"
                    )
    assert checked or each_stack.stack == "sandbox"


def test_the_binlog_archiver_is_rolled_by_a_rotation_of_the_galera_backup_keys(prod):
    from kfplatform.backup import pitr
    from kfplatform.backup.config import GALERA_WRITER_PATH

    archiver = prod.find("Deployment", pitr.ARCHIVER, "kubeflow-db")["spec"]["template"]
    marker = rotated_paths(prod)[GALERA_WRITER_PATH]
    assert archiver["metadata"]["annotations"][ROTATION_ANNOTATION] == f"{GALERA_WRITER_PATH}={marker}"
