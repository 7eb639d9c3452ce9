"""The backup box's `mc` containers (artifact replication, the drill's copy): one shape.

The pinned image (releases.MC) is ubi9/ubi-micro plus `/usr/bin/mc` (minio/mc Dockerfile.release
at RELEASE.2025-08-13T08-35-41Z): scripts run under `/bin/sh` with mc and nothing else. mc keeps its
aliases in a writable `--config-dir` (an emptyDir, the root filesystem is read-only) and trusts
every PEM in `<config dir>/certs/CAs/` (cmd/globals.go `globalMCCAsDir`): the cluster CA that signs
the in-cluster MinIO's certificate is mounted there.
"""
from __future__ import annotations

from . import releases

CONFIG_DIR = "/tmp/mc"
SECURITY = {
    "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
    "runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"},
}


def secret_env(name: str, secret: str, key: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def keys_env(prefix: str, secret: str) -> list[dict]:
    """`<prefix>_ACCESS_KEY`/`<prefix>_SECRET_KEY` from a Secret's `accesskey`/`secretkey`."""
    return [secret_env(f"{prefix}_ACCESS_KEY", secret, "accesskey"), secret_env(f"{prefix}_SECRET_KEY", secret, "secretkey")]


def container(*, script: str, env: list[dict], mirror: str, resources: dict) -> dict:
    return {
        "name": "mc",
        "image": releases.MC.ref(mirror),
        "command": ["/bin/sh", "-c", script],
        "env": env,
        "volumeMounts": [
            {"name": "mc-config", "mountPath": CONFIG_DIR},
            {"name": "cluster-ca", "mountPath": f"{CONFIG_DIR}/certs/CAs", "readOnly": True},
        ],
        "resources": resources,
        "securityContext": dict(SECURITY),
    }


def volumes(ca_configmap: str, ca_key: str) -> list[dict]:
    return [
        {"name": "mc-config", "emptyDir": {}},
        {"name": "cluster-ca", "configMap": {"name": ca_configmap, "items": [{"key": ca_key, "path": "cluster-ca.crt"}]}},
    ]
