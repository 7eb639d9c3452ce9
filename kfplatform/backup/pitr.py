"""Galera point-in-time recovery: binlog archiving and the restore to an instant.

mariadb-operator 26.6.0's `PointInTimeRecovery` does not archive Galera's binlogs (docs/pitr.md
"Supported MariaDB versions and topologies" at tag v26.6.0: asynchronous replication only;
internal/controller/mariadb_controller_pitr.go: "TODO: handle galera"), so the platform does it:

- every Galera node writes binlogs with one GTID sequence for the cluster (data/galera.py
  binlog_settings: wsrep_gtid_mode, a fixed wsrep_gtid_domain_id, log_slave_updates, one server_id);
- the archiver (a Deployment of one pod in the database namespace) streams them as a replication
  client, `mariadb-binlog --read-from-remote-server --raw --stop-never --start-position=<GTID>`
  (scripts/binlog-archive.sh), and copies them with `mc`, in segments of whole transactions written
  once each, into the backups bucket under `galera/binlog/` with the galera-backup MinIO account
  (its policy already covers `galera/*`);
- the hourly logical backup records its GTID position (`--master-data=2 --gtid`,
  LOGICAL_BACKUP_ARGS), so a restore knows where in the binlogs its snapshot stands;
- the sandbox's `backup.restore.pointInTime` runs scripts/pitr-restore.sh in a Job: the newest
  logical backup at or before the point, then the archived binlogs from its GTID to the point.

What each script relies on was run against Debian's MariaDB 10.11 with galera-4 in
tests/backup/test_pitr_servers.py; the options exist in 11.8 too (see the docs/backups.md section).
"""
from __future__ import annotations

import hashlib
import pathlib
import shlex

import pulumi

from ..data.galera import GTID_DOMAIN_ID, SERVER_ID
from ..secrets.plane import ROTATION_ANNOTATION

SCRIPTS = pathlib.Path(__file__).parent / "scripts"
ARCHIVE_SCRIPT = SCRIPTS / "binlog-archive.sh"
RESTORE_SCRIPT = SCRIPTS / "pitr-restore.sh"

GTID_DOMAIN = GTID_DOMAIN_ID
GTID_SERVER_ID = SERVER_ID
BINLOG_PREFIX = "galera/binlog"
ARCHIVER = "galera-binlog-archiver"
ARCHIVER_USER = "binlog-archiver"
# A binlog dump (COM_BINLOG_DUMP) needs REPLICATION SLAVE and nothing else; reading
# @@gtid_binlog_pos needs no privilege. Granted on *.* (a global privilege): a Grant with database
# and table "*" becomes `GRANT REPLICATION SLAVE ON *.* TO ...` (mariadb-operator v26.6.0
# pkg/sql/sql.go Grant/escapeWildcard: "*" stays unquoted). Tested: the archiver runs with exactly
# this grant in tests/backup/test_pitr_servers.py.
ARCHIVER_PRIVILEGES = ("REPLICATION SLAVE",)
# mariadb-binlog registers as a replica with this id while it waits (--stop-never-slave-server-id);
# it must differ from the nodes' server_id (data/galera.py SERVER_ID).
ARCHIVER_REPLICA_ID = 4000
# mariadb-dump options that write the snapshot's GTID position as a comment
# (`-- SET GLOBAL gtid_slave_pos='<D>-<S>-<N>'`; `--master-data=2` comments the CHANGE MASTER out,
# `--gtid` makes it the GTID form). With --single-transaction (which mariadb-operator always passes,
# pkg/command/backup.go mariadbDumpArgs at v26.6.0) the position is the snapshot's, taken without a
# global lock. Passed through the Backup CRD's `args` (ExtraOpts, merged by mariadbDumpArgs).
LOGICAL_BACKUP_ARGS = ("--master-data=2", "--gtid")


def archiver_environment(*, hosts: str, archive: str, interval_seconds: float, retention_hours: int) -> dict[str, str]:
    """The archiver's settings (everything but secrets and the work directory)."""
    return {
        "BINLOG_HOSTS": hosts,
        "BINLOG_USER": ARCHIVER_USER,
        "GTID_DOMAIN": str(GTID_DOMAIN),
        "GTID_SERVER_ID": str(GTID_SERVER_ID),
        "ARCHIVE": archive,
        "INTERVAL": f"{interval_seconds:g}",
        "SLAVE_ID": str(ARCHIVER_REPLICA_ID),
        "PRUNE_OLDER_THAN": f"{retention_hours}h",
    }


def restore_environment(*, archive: str, logical: str, point: str, databases: tuple[str, ...], host: str) -> dict[str, str]:
    return {
        "ARCHIVE": archive,
        "LOGICAL": logical,
        "POINT": point,
        "DATABASES": " ".join(shlex.quote(d) for d in databases),
        "GTID_DOMAIN": str(GTID_DOMAIN),
        "TARGET_HOST": host,
    }


# --- Kubernetes objects (built in component.py) ---------------------------------------------------
ARCHIVER_SECRET = "binlog-archiver"  # the archiver's database password (key `password`)
ARCHIVER_VAULT_NAME = "binlog-archiver"  # platform/database/binlog-archiver
SCRIPTS_CONFIGMAP = "galera-pitr-scripts"
RESTORE_JOB = "galera-point-in-time-restore"
# mariadb-operator v26.6.0 api/v1alpha1/mariadb_keys.go TLSCABundleSecretKeyRef: `<name>-ca-bundle`,
# key `ca.crt`; the server certificate names the pods' headless-service names
# (mariadb_types.go TLSServerDNSNames: HeadlessServiceNameVariants of `<name>-internal`).
def ca_bundle_secret(mariadb: str) -> str:
    return f"{mariadb}-ca-bundle"


# Both scripts run in the pinned mariadb:11.8.5 image: MariaDB/mariadb-docker commit e95d4ed
# ("11.8.5 out of band release") 11.8/Dockerfile is `FROM ubuntu:noble` (bash, coreutils, mawk,
# gzip), installs ca-certificates (mc's system roots for prod's public endpoint in the drill) and
# mariadb-server with its clients; mariadb-operator 26.6.0 runs mariadb-dump and mariadb-binlog
# from the MariaDB image in its own Backup/Restore Jobs (pkg/command/backup.go). `mc` is copied in
# from the pinned mc image (/usr/bin/mc in minio/mc's Dockerfile.release at its release tag).
WORK = "/work"
TOOLS = "/tools"
MC_CONFIG = f"{WORK}/mc"
# The official mariadb image makes `mysql` uid 999 (data/galera.py MARIADB_UID).
UID = 999
PATH = f"{TOOLS}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# mariadb clients: TLS with the cluster's CA, and the server's name checked.
CLIENT_ARGS = "--ssl --ssl-ca=/tls/ca.crt --ssl-verify-server-cert"


def _restricted_container() -> dict:
    return {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID,
    }


def _pod_security() -> dict:
    return {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"}}


def _mc_init(mc_image: str) -> dict:
    """mc from the pinned mc image, copied next to the mariadb tools (the scripts need both)."""
    return {
        "name": "mc", "image": mc_image, "command": ["/bin/sh", "-c", f"cp /usr/bin/mc {TOOLS}/mc"],
        "volumeMounts": [{"name": "tools", "mountPath": TOOLS}],
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
        "securityContext": _restricted_container(),
    }


def _s3_env(url: str, secret: str, access_key: str, secret_key: str) -> list[dict]:
    return [
        {"name": "S3_URL", "value": url},
        {"name": "S3_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": secret, "key": access_key}}},
        {"name": "S3_SECRET_KEY", "valueFrom": {"secretKeyRef": {"name": secret, "key": secret_key}}},
        {"name": "MC_CONFIG_DIR", "value": MC_CONFIG},
    ]


def _env(values: dict[str, str]) -> list[dict]:
    return [{"name": k, "value": v} for k, v in values.items()]


def _tool_mounts() -> list[dict]:
    """The scripts, the work directory and the tools (mc) every pod of this module runs with."""
    return [
        {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
        {"name": "work", "mountPath": WORK},
        {"name": "tools", "mountPath": TOOLS, "readOnly": True},
    ]


def _tool_volumes(*, work_size: str) -> list[dict]:
    return [
        {"name": "scripts", "configMap": {"name": SCRIPTS_CONFIGMAP}},
        {"name": "work", "emptyDir": {"sizeLimit": work_size}},
        {"name": "tools", "emptyDir": {"sizeLimit": "256Mi"}},
    ]


def archiver_deployment_spec(
    *, hosts: list[str], bucket: str, store_url: str, s3_secret: str, access_key: str, secret_key: str,
    interval_seconds: int, retention_hours: int, max_lag_minutes: int, mariadb_image: str, mc_image: str,
    pull_secret: str, mariadb: str, ca_configmap: str, ca_key: str, labels: dict[str, str],
    rotation: pulumi.Output[str] | None = None,
) -> dict:
    """One archiver pod (Recreate: two would upload the same transactions twice).

    `rotation`: the plane's marker of the S3 keys' Vault path (secrets/plane.py ROTATION_ANNOTATION).
    The script reads S3_ACCESS_KEY/S3_SECRET_KEY once, at start (`mc alias set`), and the users
    reconciler removes the previous MinIO user after `previousKeyGraceHours` (data/object_users.py):
    without the marker on the pod template the archiver kept the old keys until its uploads were
    refused. With it, the `up` that rotates the keys rolls the pod."""
    stall = max_lag_minutes * 60
    env = _env({
        **archiver_environment(
            hosts=" ".join(f"{h}:3306" for h in hosts), archive=f"backups/{bucket}/{BINLOG_PREFIX}",
            interval_seconds=interval_seconds, retention_hours=retention_hours,
        ),
        "WORK": WORK, "TMPDIR": WORK, "PATH": PATH, "PASSWORD_FILE": "/secrets/password", "CLIENT_ARGS": CLIENT_ARGS,
        "RETRY_SECONDS": "5", "STALL_SECONDS": str(stall),
    }) + _s3_env(store_url, s3_secret, access_key, secret_key)
    container = {
        "name": "archiver", "image": mariadb_image,
        "command": ["/bin/bash", f"/scripts/{ARCHIVE_SCRIPT.name}"],
        "env": env,
        "volumeMounts": [
            *_tool_mounts(),
            {"name": "password", "mountPath": "/secrets", "readOnly": True},
            {"name": "galera-ca", "mountPath": "/tls", "readOnly": True},
            # The cluster CA that signs MinIO's certificate; mc trusts <config dir>/certs/CAs/*.
            {"name": "object-store-ca", "mountPath": f"{MC_CONFIG}/certs/CAs", "readOnly": True},
        ],
        # Ready = a round found everything the server had one round earlier in the bucket, within
        # maxLagMinutes (the script touches WORK/healthy): the archive lag, seen by kube-state-metrics.
        "readinessProbe": {
            "exec": {"command": ["/bin/bash", "-c", f'test $(( $(date +%s) - $(stat -c %Y {WORK}/healthy) )) -lt {stall}']},
            "initialDelaySeconds": 2 * interval_seconds, "periodSeconds": 30, "failureThreshold": 1,
        },
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": _restricted_container(),
    }
    return {
        "replicas": 1,
        "strategy": {"type": "Recreate"},
        "selector": {"matchLabels": labels},
        "template": {
            # A new script rolls the pod (a running bash keeps the script it started with).
            "metadata": {"labels": labels, "annotations": {
                SCRIPT_HASH: script_hash(ARCHIVE_SCRIPT),
                **({ROTATION_ANNOTATION: rotation} if rotation is not None else {}),
            }},
            "spec": {
                "securityContext": _pod_security(),
                "imagePullSecrets": [{"name": pull_secret}],
                "initContainers": [_mc_init(mc_image)],
                "containers": [container],
                "volumes": [
                    *_tool_volumes(work_size="2Gi"),
                    {"name": "password", "secret": {"secretName": ARCHIVER_SECRET, "items": [{"key": "password", "path": "password"}]}},
                    {"name": "galera-ca", "secret": {"secretName": ca_bundle_secret(mariadb), "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"name": "object-store-ca", "configMap": {"name": ca_configmap, "items": [{"key": ca_key, "path": "cluster-ca.crt"}]}},
                ],
            },
        },
    }


def restore_job_spec(
    *, point: str, databases: tuple[str, ...], bucket: str, store_url: str, s3_secret: str, access_key: str,
    secret_key: str, mariadb: str, root_secret: str, root_key: str, mariadb_image: str, mc_image: str, pull_secret: str,
) -> dict:
    """The sandbox's roll-forward of KFP's and MLMD's databases to `point` (read-only keys on prod's bucket)."""
    env = _env({
        **restore_environment(
            archive=f"backups/{bucket}/{BINLOG_PREFIX}", logical=f"backups/{bucket}/galera/logical", point=point,
            databases=databases, host=f"{mariadb}-primary",
        ),
        "TARGET_USER": "root", "WORK": WORK, "TMPDIR": WORK, "PATH": PATH, "CLIENT_ARGS": CLIENT_ARGS,
    }) + [{"name": "MYSQL_PWD", "valueFrom": {"secretKeyRef": {"name": root_secret, "key": root_key}}}] \
        + _s3_env(store_url, s3_secret, access_key, secret_key)
    container = {
        "name": "restore", "image": mariadb_image,
        "command": ["/bin/bash", f"/scripts/{RESTORE_SCRIPT.name}"],
        "env": env,
        "volumeMounts": [
            *_tool_mounts(),
            {"name": "galera-ca", "mountPath": "/tls", "readOnly": True},
        ],
        "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "securityContext": _restricted_container(),
    }
    return {
        "backoffLimit": 0,  # a failed roll-forward is looked at, not retried onto half-loaded data
        "activeDeadlineSeconds": 4 * 3600,
        "template": {"spec": {
            "restartPolicy": "Never",
            "securityContext": _pod_security(),
            "imagePullSecrets": [{"name": pull_secret}],
            "initContainers": [_mc_init(mc_image)],
            "containers": [container],
            "volumes": [
                *_tool_volumes(work_size="20Gi"),
                {"name": "galera-ca", "secret": {"secretName": ca_bundle_secret(mariadb), "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            ],
        }},
    }


SCRIPT_HASH = "kfplatform.io/script-sha256"


def script_hash(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scripts_configmap_data() -> dict[str, str]:
    return {ARCHIVE_SCRIPT.name: ARCHIVE_SCRIPT.read_text(), RESTORE_SCRIPT.name: RESTORE_SCRIPT.read_text()}
