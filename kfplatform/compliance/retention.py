"""AuditBucketRetention: the WORM audit bucket's default object-lock retention, COMPLIANCE mode.

The bucket is created with object locking (kfplatform/data/object_store.py); pulumi-minio 0.17.1
has no resource for its default retention (../shared/FACTS.md), so a one-shot Job sets it with
MinIO's client: `mc retention set --default compliance <N>d <alias>/<bucket>` (minio/mc
RELEASE.2025-08-13T08-35-41Z cmd/retention-set.go, example 5). The alias comes from the
`MC_HOST_<alias>` environment variable (cmd/config.go `mcEnvHostPrefix`), built by ESO from the
root credentials in Vault, in the object store's own namespace (where they already are); the
config directory is `MC_CONFIG_DIR` (cmd/flags.go), whose `certs/CAs/` holds the cluster CA that
signs MinIO's certificate. The Job's name carries the retention, so changing it runs a new Job.

COMPLIANCE mode cannot be shortened or removed by anyone, root included, until it expires: a
longer retention is a one-way door (docs/compliance.md).
"""
from __future__ import annotations

from typing import Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..data.endpoints import OBJECT_STORE_CA_CONFIGMAP, OBJECT_STORE_CA_KEY
from ..k8s import child, meta
from ..secrets.plane import SecretsPlane, platform_path
from . import releases

ADMIN_SECRET = "audit-retention-admin"
ALIAS = "store"
MC_CONFIG_DIR = "/tmp/.mc"


def retention_args(bucket: str, days: int, mode: str) -> list[str]:
    return ["retention", "set", "--default", mode.lower(), f"{days}d", f"{ALIAS}/{bucket}"]


def job_name(days: int, mode: str) -> str:
    return f"audit-retention-{mode.lower()}-{days}d"


class AuditBucketRetention(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        *,
        namespace: str,
        bucket: str,
        days: int,
        mode: str,
        object_store_host: str,
        object_store_port: int,
        secrets: SecretsPlane,
        mirror: str,
        pull_secret: str,
        depends_on: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:compliance:AuditBucketRetention", name, None, opts)
        admin = secrets.deliver(
            namespace, ADMIN_SECRET, platform_path("object-store", "root"), {"user": "user", "password": "password"},
            template_data={
                f"MC_HOST_{ALIAS}": f"https://{{{{ .user }}}}:{{{{ .password }}}}@{object_store_host}:{object_store_port}",
            },
            depends_on=depends_on,
        )
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=meta(job_name(days, mode), namespace, component="compliance"),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=6,
                ttl_seconds_after_finished=None,  # kept: `kubectl logs` shows what was set
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels={"app.kubernetes.io/name": "audit-retention"}),
                    spec=k8s.core.v1.PodSpecArgs(
                        restart_policy="OnFailure",
                        image_pull_secrets=[k8s.core.v1.LocalObjectReferenceArgs(name=pull_secret)],
                        containers=[self._container(bucket, days, mode, mirror)],
                        volumes=[
                            k8s.core.v1.VolumeArgs(name="mc-config", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()),
                            k8s.core.v1.VolumeArgs(
                                name="ca",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                    name=OBJECT_STORE_CA_CONFIGMAP,
                                    items=[k8s.core.v1.KeyToPathArgs(key=OBJECT_STORE_CA_KEY, path="ca.crt")],
                                ),
                            ),
                        ],
                    ),
                ),
            ),
            opts=child(self, depends_on=[admin, *depends_on]),
        )
        self.register_outputs({"job": job_name(days, mode)})

    @staticmethod
    def _container(bucket: str, days: int, mode: str, mirror: str) -> k8s.core.v1.ContainerArgs:
        """`mc` sets the bucket's default retention, as MinIO's root (MC_HOST_* from the Secret), non-root."""
        restricted = k8s.core.v1.SecurityContextArgs(
            run_as_non_root=True, run_as_user=1000, allow_privilege_escalation=False, read_only_root_filesystem=True,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        )
        return k8s.core.v1.ContainerArgs(
            name="mc",
            image=releases.MINIO_CLIENT.ref(mirror),
            args=retention_args(bucket, days, mode),
            env=[k8s.core.v1.EnvVarArgs(name="MC_CONFIG_DIR", value=MC_CONFIG_DIR)],
            env_from=[k8s.core.v1.EnvFromSourceArgs(
                secret_ref=k8s.core.v1.SecretEnvSourceArgs(name=ADMIN_SECRET),
            )],
            security_context=restricted,
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "10m", "memory": "32Mi"}, limits={"memory": "128Mi"},
            ),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="mc-config", mount_path=MC_CONFIG_DIR),
                k8s.core.v1.VolumeMountArgs(name="ca", mount_path=f"{MC_CONFIG_DIR}/certs/CAs", read_only=True),
            ],
        )
