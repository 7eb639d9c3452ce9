"""The MinIO accounts of the backup box and their policies (least privilege, evaluated in tests).

| account       | may                                                                 | used by |
|---------------|---------------------------------------------------------------------|---------|
| velero        | list the backups bucket; read/write/delete objects under `velero/*` | Velero (prod) |
| galera-backup | list the backups bucket; read/write/delete objects under `galera/*` | mariadb-operator's backup jobs |
| replication   | read the artifact bucket and set its replication rule and target    | the `mc` replication job |
| drill-reader  | list and read the backups bucket; nothing else, nowhere else        | the sandbox's restore drill |

The sandbox's own MinIO (a restoring stack, `backup.restore`) has two more, on ITS backups bucket:

| account       | may                                                                 | used by |
|---------------|---------------------------------------------------------------------|---------|
| drill-copy    | list the bucket; read/write `velero/backups/*` and `velero/kopia/*` (no delete) | the drill's copy Job (drill_copy.py) |
| drill-restore | list the bucket; read `velero/*`; write/delete `velero/restores/*` only | the sandbox's Velero (restore logs and results) |
"""
from __future__ import annotations

from ..data.object_store import bucket_arn, policy_document

LIST_ACTIONS = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
WRITE_ACTIONS = [
    "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload",
]
READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]


def prefix_writer_policy(bucket: str, prefix: str) -> str:
    """Objects under `prefix/` of `bucket` only (Velero's or Galera's part of the backups bucket)."""
    return policy_document([
        {"Sid": "Bucket", "Effect": "Allow", "Action": LIST_ACTIONS, "Resource": [bucket_arn(bucket)]},
        {"Sid": "Objects", "Effect": "Allow", "Action": WRITE_ACTIONS, "Resource": [bucket_arn(bucket, f"{prefix}/*")]},
    ])


def read_only_policy(bucket: str) -> str:
    """List and read `bucket`: what the sandbox's drill needs from prod, and no more."""
    return policy_document([
        {"Sid": "Bucket", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": [bucket_arn(bucket)]},
        {"Sid": "Objects", "Effect": "Allow", "Action": READ_ACTIONS, "Resource": [bucket_arn(bucket, "*")]},
    ])


def drill_copy_policy(bucket: str, prefix: str) -> str:
    """The drill's copy Job in the sandbox: stage backups and kopia repositories, delete nothing.

    `mc mirror --overwrite` lists and stats the target and puts objects (multipart for large kopia
    packs); it never deletes without `--remove` (minio/mc cmd/mirror-main.go at
    RELEASE.2025-08-13T08-35-41Z), and it creates a bucket only when the target is a whole alias."""
    objects = [bucket_arn(bucket, f"{prefix}/backups/*"), bucket_arn(bucket, f"{prefix}/kopia/*")]
    return policy_document([
        {"Sid": "Bucket", "Effect": "Allow", "Action": LIST_ACTIONS, "Resource": [bucket_arn(bucket)]},
        {"Sid": "Objects", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
         "Resource": objects},
    ])


def drill_restore_policy(bucket: str, prefix: str) -> str:
    """The sandbox's Velero on its drill location: read everything under `prefix/`, write only
    `prefix/restores/*`, where Velero v1.18.1 puts each Restore's log and results
    (pkg/persistence/object_store_layout.go getRestoreLogKey/getRestoreResultsKey:
    `<prefix>/restores/<restore>/restore-<restore>-logs.gz`), and deletes them with the Restore
    (restore_controller.go deleteExternalResources: DeleteRestore). Velero's backups and kopia
    repositories stay as the copy Job staged them."""
    return policy_document([
        {"Sid": "Bucket", "Effect": "Allow", "Action": LIST_ACTIONS, "Resource": [bucket_arn(bucket)]},
        {"Sid": "Read", "Effect": "Allow", "Action": READ_ACTIONS, "Resource": [bucket_arn(bucket, f"{prefix}/*")]},
        {"Sid": "RestoreLogs", "Effect": "Allow", "Action": WRITE_ACTIONS,
         "Resource": [bucket_arn(bucket, f"{prefix}/restores/*")]},
    ])


def replication_policy(bucket: str) -> str:
    """Read the artifact bucket and manage its replication configuration and remote target.

    `mc replicate add` sets a bucket target and the bucket's replication configuration; MinIO itself
    then copies objects with that target. Setting a target is an admin call that MinIO authorizes with
    `policy.SetBucketTargetAction` (`admin:SetBucketTarget`; cmd/admin-bucket-handlers.go at
    RELEASE.2025-04-22T22-12-26Z, the pinned server), listing targets with `admin:GetBucketTarget`.
    """
    return policy_document([
        {"Sid": "Bucket", "Effect": "Allow",
         "Action": [*LIST_ACTIONS, "s3:GetBucketVersioning", "s3:GetReplicationConfiguration",
                    "s3:PutReplicationConfiguration", "s3:GetBucketObjectLockConfiguration"],
         "Resource": [bucket_arn(bucket)]},
        {"Sid": "Objects", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectVersionTagging", "s3:GetObjectRetention",
                    "s3:GetObjectLegalHold", "s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
         "Resource": [bucket_arn(bucket, "*")]},
        {"Sid": "Target", "Effect": "Allow", "Action": ["admin:SetBucketTarget", "admin:GetBucketTarget"],
         "Resource": [bucket_arn(bucket)]},
    ])
