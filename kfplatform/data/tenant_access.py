"""TenantObjectAccess: a team's own MinIO user, able to touch only that team's artifact prefixes.

KFP reads a namespace's artifacts with the credentials in its `mlpipeline-minio-artifact` Secret;
here that Secret holds keys whose policy covers `artifacts/<team>/` (Argo's v1 key format) and
`private-artifacts/<team>/` (the v2 pipeline root) of the artifact bucket, nothing else. A leaked
key exposes one team's history, and is replaced by the first `pulumi up` after its maximum age (the
previous key is removed once `previousKeyGraceHours` passed: object_users.py).
"""
from __future__ import annotations

import pulumi

from ..secrets.plane import SecretsPlane, tenant_path
from .endpoints import DataEndpoints, tenant_artifact_prefixes
from .object_store import OBJECT_ACTIONS, ObjectAccount, bucket_arn, policy_document
from .object_users import ObjectUsers


def tenant_policy(bucket: str, tenant: str) -> str:
    prefixes = tenant_artifact_prefixes(tenant)
    return policy_document([
        {
            "Sid": "ListOwnPrefixes", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket_arn(bucket)],
            "Condition": {"StringLike": {"s3:prefix": [p for prefix in prefixes for p in (prefix, prefix + "*")]}},
        },
        {"Sid": "Bucket", "Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": [bucket_arn(bucket)]},
        {"Sid": "OwnObjects", "Effect": "Allow", "Action": OBJECT_ACTIONS,
         "Resource": [bucket_arn(bucket, prefix + "*") for prefix in prefixes]},
        # A pipeline reads a dataset at the S3 version id its manifest pins (GET ?versionId=),
        # which S3 and MinIO authorize as s3:GetObjectVersion (docs/workloads.md).
        {"Sid": "OwnObjectVersions", "Effect": "Allow", "Action": ["s3:GetObjectVersion"],
         "Resource": [bucket_arn(bucket, prefix + "*") for prefix in prefixes]},
    ])


class TenantObjectAccess(ObjectAccount):
    def __init__(
        self,
        tenant: str,
        *,
        endpoints: DataEndpoints,
        secrets: SecretsPlane,
        users: ObjectUsers,
        rotate_days: int,
        provider: pulumi.ProviderResource,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(
            f"{tenant}-object-store",
            vault_path=tenant_path(tenant, "object-store"),
            policy_name=f"tenant-{tenant}",
            policy=tenant_policy(endpoints.artifact_bucket, tenant),
            secrets=secrets,
            users=users,
            deliveries=[(tenant, endpoints.tenant_artifact_secret)],
            rotate_days=rotate_days,
            provider=provider,
            depends_on=depends_on,
            type_="kfplatform:data:TenantObjectAccess",
            opts=opts,
        )
        # The CA that signs the object store's certificate, as the Secret KFP 2.15 mounts at
        # /kfp/certs in the team's pipeline pods (kubeflow/pipelines.py). ESO copies it from the
        # namespace's `kube-root-ca.crt`; the team's own key is read only because ESO requires an
        # ExternalSecret to read something, and is not written into this Secret.
        self.ca_bundle = secrets.deliver(
            tenant, endpoints.object_store_ca_secret, tenant_path(tenant, "object-store"), {"access_key": "access_key"},
            template_from_configmaps={endpoints.object_store_ca_configmap: [endpoints.object_store_ca_key]},
        )
