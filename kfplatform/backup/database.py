"""Galera backups with mariadb-operator 26.6.0 (CRDs in ../shared/crds): physical and logical.

- `PhysicalBackup` (mariabackup) of a replica, never the primary (`target: Replica`), to the
  backups bucket under `galera/physical/`, kept `maxRetention`. The base of every restore, and
  what a new cluster is bootstrapped from (`MariaDB.spec.bootstrapFrom`).
- `Backup` (logical, mariadb-dump) of KFP's and ML Metadata's databases only, under
  `galera/logical/`: portable across MariaDB versions, and hourly restore points.
- No `PointInTimeRecovery` CR: at 26.6.0 it archives binlogs for asynchronous replication only
  (docs/pitr.md at v26.6.0); the platform archives Galera's binlogs itself (pitr.py), and every
  logical backup records its GTID position (pitr.LOGICAL_BACKUP_ARGS) for the roll-forward.
Both write with the `galera-backup` MinIO account, whose policy reaches `galera/*` only; with an
off-site location each has an `-offsite` twin writing the same to the DR site (its own keys), so a
lost site does not take the database's backups with it.
"""
from __future__ import annotations

from datetime import datetime

from .config import GaleraBackups
from .pitr import LOGICAL_BACKUP_ARGS

PHYSICAL_BACKUP = "galera-physical"
LOGICAL_BACKUP = "galera-logical"
S3_SECRET = "galera-backup-s3"
ACCESS_KEY = "access-key-id"
SECRET_KEY = "secret-access-key"
CA_SECRET = "object-store-ca"  # the cluster CA that signs MinIO's certificate, delivered from Vault
CA_KEY = "ca.crt"
PREFIX = "galera"
PHYSICAL_PREFIX = f"{PREFIX}/physical"
LOGICAL_PREFIX = f"{PREFIX}/logical"
# The databases a logical backup carries: KFP's run history and ML Metadata's lineage (endpoints.py).
LOGICAL_DATABASES = ("mlpipeline", "metadb")


def s3_storage(
    *, bucket: str, prefix: str, endpoint: str, secret: str, ca_secret: str | None, region: str = "us-east-1",
) -> dict:
    tls: dict = {"enabled": True}
    if ca_secret:
        tls["caSecretKeyRef"] = {"name": ca_secret, "key": CA_KEY}
    return {
        "s3": {
            "bucket": bucket, "prefix": prefix, "endpoint": endpoint, "region": region,
            "accessKeyIdSecretKeyRef": {"name": secret, "key": ACCESS_KEY},
            "secretAccessKeySecretKeyRef": {"name": secret, "key": SECRET_KEY},
            "tls": tls,
        }
    }


OFFSITE_SUFFIX = "-offsite"
OFFSITE_SECRET = "galera-backup-offsite"  # the DR site's keys (platform/backup/offsite)


def physical_backup_spec(
    config: GaleraBackups, *, mariadb: str, bucket: str, endpoint: str, pull_secret: str,
    secret: str = S3_SECRET, ca_secret: str | None = CA_SECRET, region: str = "us-east-1",
) -> dict:
    return {
        "mariaDbRef": {"name": mariadb, "waitForIt": True},
        "target": "Replica",
        "schedule": {"cron": config.physical.cron, "suspend": False, "immediate": True},
        "maxRetention": config.physical.max_retention,
        "compression": "bzip2",
        "storage": s3_storage(
            bucket=bucket, prefix=PHYSICAL_PREFIX, endpoint=endpoint, secret=secret, ca_secret=ca_secret, region=region,
        ),
        "imagePullSecrets": [{"name": pull_secret}],
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
    }


def logical_backup_spec(
    config: GaleraBackups, *, mariadb: str, bucket: str, endpoint: str, pull_secret: str,
    secret: str = S3_SECRET, ca_secret: str | None = CA_SECRET, region: str = "us-east-1",
) -> dict:
    return {
        "mariaDbRef": {"name": mariadb, "waitForIt": True},
        "databases": list(LOGICAL_DATABASES),
        # The snapshot's GTID position, written into the dump (pitr.py): where a roll-forward starts.
        "args": list(LOGICAL_BACKUP_ARGS),
        "schedule": {"cron": config.logical.cron, "suspend": False},
        "maxRetention": config.logical.max_retention,
        "compression": "gzip",
        "storage": s3_storage(
            bucket=bucket, prefix=LOGICAL_PREFIX, endpoint=endpoint, secret=secret, ca_secret=ca_secret, region=region,
        ),
        "imagePullSecrets": [{"name": pull_secret}],
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
    }


def bootstrap_from(*, endpoint: str, bucket: str, secret: str, point_in_time: datetime | None) -> dict:
    """`MariaDB.spec.bootstrapFrom` for the sandbox: prod's physical backups, read-only keys.

    mariadb-operator v26.6.0 docs/physical_backup.md ("Restoration", a Galera example): a new
    `MariaDB` bootstraps from an S3 bucket of physical backups with `backupContentType: Physical`;
    "By default, the operator will match the closest backup available to the current time", and
    `targetRecoveryTime` picks the one closest to that instant instead. Prod's endpoint is reached
    with its public certificate (system trust), so no CA Secret.
    """
    spec: dict = {
        "backupContentType": "Physical",
        **s3_storage(bucket=bucket, prefix=PHYSICAL_PREFIX, endpoint=endpoint, secret=secret, ca_secret=None),
    }
    if point_in_time is not None:
        spec["targetRecoveryTime"] = point_in_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    return spec


def endpoint_of(url: str) -> str:
    """`https://s3.dr.example.com[:port]` -> `s3.dr.example.com:port` (mariadb-operator's `endpoint`)."""
    host = url.split("://", 1)[1]
    return host if ":" in host else f"{host}:443"
