"""ObjectStore: a distributed MinIO `Tenant`, its buckets, and KFP's own object-store account.

The Tenant CR covers servers, drives, TLS and placement. Erasure-coding parity is not a CR field:
it is `MINIO_STORAGE_CLASS_STANDARD` in the Tenant's configuration Secret (made by ESO from Vault,
with the root credentials). Buckets, versioning and IAM policies are not covered by the CR as we
need them (versioning, protection, per-tenant policies), so they are pulumi-minio resources, talking
to the MinIO API from the machine that runs `pulumi up` (providers.py), after the Tenant is
initialised. Users are not: their access keys would be Pulumi IDs (object_users.py makes them).
"""
from __future__ import annotations

import json
from typing import Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_minio as minio

from ..k8s import child, custom_resource, meta
from ..secrets.plane import SecretsPlane, platform_path
from . import releases
from .config import ObjectStoreConfig, ObjectStorePool, StorageClassConfig
from .endpoints import DataEndpoints, MINIO_TENANT
from .erasure import servers_tolerated
from .object_users import ObjectUsers

CONFIG_SECRET = f"{MINIO_TENANT}-env"
TENANT_LABEL = "v1.min.io/tenant"
POOL_LABEL = "v1.min.io/pool"
KEY_LENGTH = 20  # MinIO access keys: 3..20 characters; secret keys >= 8
OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"]


def config_env(config: ObjectStoreConfig) -> str:
    """The Tenant's `config.env` as an ESO template: root credentials from Vault, parity from config.

    MINIO_PROMETHEUS_AUTH_TYPE=public: the metrics endpoints answer without a bearer token (minio
    RELEASE.2025-04-22T22-12-26Z cmd/metrics-router.go: `jwt` by default, NoAuthMiddleware for
    `public`), so the platform's Prometheus scrapes /minio/v2/metrics/cluster (observability
    monitors.py) with no MinIO credential to mint, store or rotate. They expose health, capacity
    and bucket-level usage, never object contents or keys (docs/observability.md).
    """
    return (
        'export MINIO_ROOT_USER="{{ .rootUser }}"\n'
        'export MINIO_ROOT_PASSWORD="{{ .rootPassword }}"\n'
        f'export MINIO_STORAGE_CLASS_STANDARD="{config.storage_class_standard}"\n'
        'export MINIO_BROWSER="off"\n'
        'export MINIO_PROMETHEUS_AUTH_TYPE="public"\n'
    )


def pool_spec(pool: ObjectStorePool, storage_class: str, zones: Sequence[str], topology_key: str) -> dict:
    selector = {"matchLabels": {TENANT_LABEL: MINIO_TENANT, POOL_LABEL: pool.name}}
    spec: dict = {
        "name": pool.name,
        "servers": pool.servers,
        "volumesPerServer": pool.volumes_per_server,
        "volumeClaimTemplate": {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": storage_class,
                "resources": {"requests": {"storage": str(pool.volume_size)}},
            },
        },
        "resources": pool.resources.as_k8s(),
        # One MinIO server per node: losing a node loses one server's drives, which parity covers.
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": selector, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        },
        "securityContext": {
            "runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True, "fsGroup": 1000,
            "fsGroupChangePolicy": "OnRootMismatch",
        },
        "containerSecurityContext": {
            "runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True, "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if len(zones) >= 2:
        spec["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": topology_key, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": selector,
        }]
    return spec


def tenant_spec(
    config: ObjectStoreConfig, *, mirror: str, pull_secret: str, storage_class: str, zones: Sequence[str], topology_key: str,
) -> dict:
    return {
        "image": releases.MINIO.ref(mirror),
        "imagePullSecret": {"name": pull_secret},
        "configuration": {"name": CONFIG_SECRET},
        # TLS on: the operator issues the servers' certificate (Kubernetes CSR API, so the cluster
        # CA signs it: endpoints.OBJECT_STORE_CA_*, which every client is given); the `minio`
        # Service then serves HTTPS on 443.
        "requestAutoCert": True,
        "podManagementPolicy": "Parallel",
        "exposeServices": {"minio": False, "console": False},
        "features": {"bucketDNS": False},
        "pools": [pool_spec(pool, storage_class, zones, topology_key) for pool in config.pools],
    }


NONCURRENT_RULE = "expire-noncurrent-versions"


def noncurrent_expiry_rule(days: int) -> minio.IlmPolicyRuleArgs:
    """Previous versions expire `days` after they stopped being current; delete markers left with no
    version behind them go too. terraform-provider-minio v1.20.1 (the provider of pulumi-minio
    0.17.1, its provider/go.mod) minio/resource_minio_ilm_policy.go: `noncurrent_version_expiration_days`
    becomes the rule's `NoncurrentVersionExpiration{NoncurrentDays}`, `expiration = "DeleteMarker"` its
    `Expiration{DeleteMarker: true}` (ExpiredObjectDeleteMarker); every rule is `Enabled` (`status`
    is computed there, so not set here); the whole bucket when no `filter`.
    """
    return minio.IlmPolicyRuleArgs(id=NONCURRENT_RULE, noncurrent_version_expiration_days=days, expiration="DeleteMarker")


def bucket_arn(bucket: str, key: str = "") -> str:
    return f"arn:aws:s3:::{bucket}{'/' + key if key else ''}"


def policy_document(statements: list[dict]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def platform_artifact_policy(bucket: str) -> str:
    """KFP's own account (API server, UI, persistence agent): the whole artifact bucket, no bucket admin."""
    return policy_document([
        {"Sid": "Bucket", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
         "Resource": [bucket_arn(bucket)]},
        {"Sid": "Objects", "Effect": "Allow", "Action": OBJECT_ACTIONS, "Resource": [bucket_arn(bucket, "*")]},
    ])


class ObjectAccount(pulumi.ComponentResource):
    """A MinIO user with one policy; its keys generated in Vault, rotated, delivered as Secrets.

    Only the policy is a pulumi-minio resource (its name and document are not secret). The user is
    made in-cluster by `ObjectUsers` (object_users.py): pulumi-minio keys an IamUser by its access
    key, and resource IDs sit in plaintext in Pulumi state. `ready` is the Job that makes the user
    with the current keys; everything that reads the keys depends on it.
    """

    def __init__(
        self,
        name: str,
        *,
        vault_path: str,
        policy_name: str,
        policy: str,
        secrets: SecretsPlane,
        users: ObjectUsers,
        deliveries: Sequence[tuple[str, str]],
        rotate_days: int,
        provider: pulumi.ProviderResource,
        depends_on: Sequence[pulumi.Resource],
        type_: str = "kfplatform:data:ObjectAccount",
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(type_, name, None, opts)
        secrets.generated(vault_path, ["access_key", "secret_key"], length=KEY_LENGTH, rotate_days=rotate_days)
        self.policy = minio.IamPolicy(
            f"{name}-policy", name=policy_name, policy=policy,
            opts=child(self, provider=provider, depends_on=depends_on),
        )
        self.ready = users.account(
            policy_name=policy_name, vault_path=vault_path, rotate_days=rotate_days,
            depends_on=[self.policy, *depends_on], parent=self,
        )
        for namespace, secret_name in deliveries:
            secrets.deliver(
                namespace, secret_name, vault_path, {"accesskey": "access_key", "secretkey": "secret_key"},
                depends_on=[self.ready],
            )
        self.register_outputs({"policy": policy_name})


class ObjectStore(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: ObjectStoreConfig,
        *,
        namespace: str,
        consumer_namespace: str,
        endpoints: DataEndpoints,
        storage_class: StorageClassConfig,
        secrets: SecretsPlane,
        mirror: str,
        pull_secret: str,
        zones: Sequence[str],
        topology_key: str,
        operator: pulumi.Resource,
        provider: pulumi.ProviderResource,
        protect: bool,
        monitoring_namespace: str,
        monitoring_ready: Sequence[pulumi.Resource],
        runbook_base_url: str,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:data:ObjectStore", name, None, opts)
        self.config = config
        root_path = platform_path("object-store", "root")
        # Root credentials are not rotated: MinIO reads them at start, and the runner's MINIO_USER /
        # MINIO_PASSWORD (providers.py) must change with them (rotate by hand, docs/data-tier.md).
        secrets.generated(root_path, ["user", "password"], length=KEY_LENGTH, rotate=False)
        env = secrets.deliver(
            namespace, CONFIG_SECRET, root_path, {"rootUser": "user", "rootPassword": "password"},
            template_data={"config.env": config_env(config)}, depends_on=depends_on,
        )
        self.tenant = custom_resource(
            MINIO_TENANT,
            api_version="minio.min.io/v2",
            kind="Tenant",
            metadata=meta(
                MINIO_TENANT, namespace, component="object-store",
                # pulumi-minio resources below depend on this: `up` waits for an initialised Tenant.
                annotations={
                    "pulumi.com/waitFor": "jsonpath={.status.currentState}=Initialized",
                    "pulumi.com/timeoutSeconds": "1800",
                },
            ),
            spec=tenant_spec(
                config, mirror=mirror, pull_secret=pull_secret, storage_class=storage_class.name, zones=zones,
                topology_key=topology_key,
            ),
            opts=child(self, depends_on=[operator, env, *depends_on], protect=protect),
        )
        self._disruption_budgets(config, namespace, depends_on)
        self.buckets = self._buckets(config, provider, protect)
        # Every ObjectAccount's user (this one's, each team's, the backups' and the audit writer's);
        # the platform calls `users.finish()` after the last account (the reconciling CronJob).
        self.users = ObjectUsers(
            "object-users", namespace=namespace, object_store_host=endpoints.object_store_host,
            object_store_port=endpoints.object_store_port, secrets=secrets, mirror=mirror, pull_secret=pull_secret,
            grace_hours=config.key_grace_hours, monitoring_namespace=monitoring_namespace,
            monitoring_ready=monitoring_ready, runbook_base_url=runbook_base_url, depends_on=[self.tenant, *depends_on],
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.platform_account = ObjectAccount(
            "kfp-object-store",
            vault_path=platform_path("object-store", "kfp"),
            policy_name="kfp-artifacts",
            policy=platform_artifact_policy(endpoints.artifact_bucket),
            secrets=secrets,
            users=self.users,
            deliveries=[(consumer_namespace, endpoints.platform_artifact_secret)],
            rotate_days=config.access_key_max_age_days,
            provider=provider,
            depends_on=[self.buckets["artifacts"]],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"tenant": MINIO_TENANT, "buckets": config.buckets.model_dump(by_alias=True)})

    def _disruption_budgets(
        self, config: ObjectStoreConfig, namespace: str, depends_on: Sequence[pulumi.Resource]
    ) -> None:
        # The operator stopped creating PDBs (minio/operator#2338): one per pool here, allowing as
        # many servers down as writes survive, one at a time. None where no server may go (it
        # would block every drain).
        for pool in config.pools:
            if servers_tolerated(pool.servers, pool.volumes_per_server, config.effective_parity) >= 1:
                k8s.policy.v1.PodDisruptionBudget(
                    f"minio-{pool.name}-pdb",
                    metadata=meta(f"{MINIO_TENANT}-{pool.name}", namespace, component="object-store"),
                    spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                        max_unavailable=1,
                        selector=k8s.meta.v1.LabelSelectorArgs(
                            match_labels={TENANT_LABEL: MINIO_TENANT, POOL_LABEL: pool.name}
                        ),
                    ),
                    opts=child(self, depends_on=depends_on),
                )

    def _buckets(
        self, config: ObjectStoreConfig, provider: pulumi.ProviderResource, protect: bool
    ) -> dict[str, minio.S3Bucket]:
        """The artifacts, backups and audit buckets (versioned; the audit bucket object-locked)."""
        ready = [self.tenant]
        names = config.buckets
        buckets: dict[str, minio.S3Bucket] = {}
        for role, bucket in (("artifacts", names.artifacts), ("backups", names.backups), ("audit", names.audit)):
            buckets[role] = minio.S3Bucket(
                f"bucket-{role}",
                bucket=bucket,
                acl="private",
                force_destroy=False,
                # Object locking can only be chosen when a bucket is created: the audit bucket is WORM.
                object_locking=role == "audit",
                opts=child(self, provider=provider, depends_on=ready, protect=protect),
            )
            versioning = minio.S3BucketVersioning(
                f"bucket-{role}-versioning",
                bucket=buckets[role].bucket,
                versioning_configuration=minio.S3BucketVersioningVersioningConfigurationArgs(status="Enabled"),
                opts=child(self, provider=provider, depends_on=[buckets[role]]),
            )
            days = getattr(config.noncurrent_version_days, role, None)
            if days is not None:
                minio.IlmPolicy(
                    f"bucket-{role}-lifecycle",
                    bucket=buckets[role].bucket,
                    rules=[noncurrent_expiry_rule(days)],
                    opts=child(self, provider=provider, depends_on=[versioning]),
                )
        return buckets
