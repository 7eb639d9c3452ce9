"""The drill's own copy of prod's backups (sandbox), and the wait for Velero to sync it.

Why a copy: Velero v1.18.1 writes each Restore's log into the location of the Restore's backup,
whatever that location's accessMode (pkg/controller/restore_controller.go at v1.18.1: a failed
`PutRestoreLog` is appended to `restoreErrors.Velero`, so the Restore ends `PartiallyFailed`;
velero#1978). The sandbox may never write into prod's bucket (issue 12), so it restores from a
location on its OWN backups bucket, into which a Job first copies, with prod's read-only keys,
exactly what the drill's Restores read:

- `velero/backups/<backup>/` of each backup a Restore names (the backup's metadata, contents,
  PodVolumeBackups list...: pkg/persistence/object_store_layout.go getBackupDir at v1.18.1);
- `velero/kopia/<namespace>/` of each namespace restored with its volumes: the kopia repository
  Velero's node agent reads (pkg/repository/provider/unified_repo.go getStorageVariables at
  v1.18.1: `<location prefix>/<repository type>/<volume namespace>/`, the type `kopia`,
  pkg/repository/manager/manager.go). A repository holds every snapshot of that namespace still
  kept in prod (kopia deduplicates across them), so the whole repository is copied.

Kopia repositories first, backups last: a Backup Velero can see never names data not yet copied.
The Job's name is derived from what it copies, so another backup makes another Job (a Job's pod
template is immutable) and Pulumi waits for it to complete (pulumi-kubernetes' Job await: the
`Complete` condition, failing at once on `Failed`).

Then the location (ReadOnly: Velero runs no backup, garbage collection or repository maintenance
there; backup_repository_controller.go skips maintenance for ReadOnly) becomes Available, Velero
syncs the copied backups on its `backupSyncPeriod`, and a second Job waits until each Backup
object exists and is `Completed` before the Restores are created: a Restore whose Backup is not
synced yet ends `FailedValidation` ("Error retrieving backup", restore_controller.go), for good.

mc, as at minio/mc RELEASE.2025-08-13T08-35-41Z: `mc mirror --overwrite SRC/ DST/` copies a folder,
overwriting objects that differ in size, skipping those already there with the same size (cmd/
difference.go: a retried Job resumes; kopia's blobs are immutable), deleting nothing (`--remove` is
not given), and refuses a source that is not a folder (cmd/mirror-main.go, cmd/mirror-url.go
checkMirrorSyntax); `mc stat`
exits non-zero for a missing object (cmd/stat-main.go); CAs under `--config-dir`'s `certs/CAs` are
loaded with minio/pkg's `certs.GetRootCAs` (cmd/certs.go loadRootCAs, whose comment says system and
user CAs are loaded together except on Windows): prod's endpoint has a public certificate, the
sandbox's MinIO the cluster CA, mounted there (as replication.py does for the DR endpoint).
"""
from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from typing import Sequence

from ..compliance import releases as compliance_releases
from . import mc
from .velero import BUCKET_PREFIX, VOLUMES_RESTORE, DrillRestore

SOURCE_SECRET = "drill-copy-source"  # accesskey/secretkey: prod's read-only drill keys
TARGET_SECRET = "drill-copy-target"  # accesskey/secretkey: the sandbox's drill-copy account
SYNC_WAITER = "drill-backups-synced"  # ServiceAccount, Role, RoleBinding and Job name
CONFIG_DIR = mc.CONFIG_DIR
COPY_DEADLINE_S = 4 * 3600  # the Job's activeDeadlineSeconds; Pulumi waits as long
SYNC_DEADLINE_S = 600  # Velero syncs every backupSyncPeriod (30 s here): ten minutes is plenty
SYNC_POLL_S = 5
SYNC_PERIOD = "30s"
KOPIA_FORMAT_BLOB = "kopia.repository"  # kopia's format blob, the first object of a repository


@dataclass(frozen=True)
class CopyPlan:
    """What the drill's Restores read from prod's bucket, copied into the sandbox's bucket."""

    source_endpoint: str  # prod's object store, host:port (TLS)
    source_bucket: str
    target_url: str  # the sandbox's MinIO, https://host:port
    target_bucket: str
    backups: tuple[str, ...]
    kopia_namespaces: tuple[str, ...]

    @property
    def digest(self) -> str:
        key = "\n".join([self.source_endpoint, self.source_bucket, *self.backups, "--", *self.kopia_namespaces])
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    @property
    def job_name(self) -> str:
        """`drill-copy-<hash>`: another backup, namespace or source makes another Job."""
        return f"drill-copy-{self.digest}"

    @property
    def sync_job_name(self) -> str:
        return f"{SYNC_WAITER}-{self.digest}"


def copy_plan(
    *, source_endpoint: str, source_bucket: str, target_url: str, target_bucket: str, restores: Sequence[DrillRestore],
) -> CopyPlan:
    """Every backup a Restore names; the kopia repositories of the namespaces restored with volumes."""
    backups = sorted({r.backup for r in restores})
    kopia = sorted({ns for r in restores if r.role == VOLUMES_RESTORE for ns in r.namespaces})
    return CopyPlan(source_endpoint, source_bucket, target_url, target_bucket, tuple(backups), tuple(kopia))


def copy_script(plan: CopyPlan) -> str:
    """The copy Job's shell script (run by tests with a fake `mc` on PATH)."""
    src = f"prod/{plan.source_bucket}/{BUCKET_PREFIX}"
    dst = f"drill/{plan.target_bucket}/{BUCKET_PREFIX}"
    backups = " ".join(shlex.quote(b) for b in plan.backups)
    namespaces = " ".join(shlex.quote(n) for n in plan.kopia_namespaces)
    lines = [
        "set -eu",
        f'mc() {{ command mc --config-dir {CONFIG_DIR} --quiet "$@"; }}',
        'started=$(date +%s)',
        f'mc alias set prod https://{plan.source_endpoint} "$PROD_ACCESS_KEY" "$PROD_SECRET_KEY" >/dev/null',
        f'mc alias set drill {plan.target_url} "$DRILL_ACCESS_KEY" "$DRILL_SECRET_KEY" >/dev/null',
        # A backup that is not in prod's bucket fails the Job (and `pulumi up`) before anything is copied.
        f"for backup in {backups}; do",
        f'  if ! mc stat "{src}/backups/$backup/velero-backup.json" >/dev/null; then',
        f'    echo "backup $backup is not in prod\'s bucket ({src}/backups/$backup/velero-backup.json)" >&2',
        "    exit 1",
        "  fi",
        "done",
    ]
    if plan.kopia_namespaces:
        lines += [
            f"for namespace in {namespaces}; do",
            f'  if mc stat "{src}/kopia/$namespace/{KOPIA_FORMAT_BLOB}" >/dev/null 2>&1; then',
            f'    mc mirror --overwrite "{src}/kopia/$namespace/" "{dst}/kopia/$namespace/"',
            "  else",
            # Velero makes a namespace's repository with its first volume backup: none, nothing to copy.
            '    echo "note: prod has no kopia repository for $namespace (no volume of it was backed up)"',
            "  fi",
            "done",
        ]
    lines += [
        f"for backup in {backups}; do",
        f'  mc mirror --overwrite "{src}/backups/$backup/" "{dst}/backups/$backup/"',
        "done",
        'echo "copied in $(( $(date +%s) - started ))s"',
        "",
    ]
    return "\n".join(lines)


def sync_script(*, namespace: str, backups: Sequence[str], deadline_s: int = SYNC_DEADLINE_S, poll_s: int = SYNC_POLL_S) -> str:
    """The wait Job's script: each Backup exists in the sandbox and is Completed, or the Job fails.

    `kubectl get --ignore-not-found -o jsonpath=...` prints nothing and exits 0 while the object is
    absent, on every kubectl the image may carry (no `wait --for=create`, which needs >= 1.31)."""
    names = " ".join(shlex.quote(b) for b in backups)
    return "\n".join([
        "set -eu",
        f"deadline=$(( $(date +%s) + {deadline_s} ))",
        f"for backup in {names}; do",
        "  while :; do",
        f"    phase=$(kubectl -n {shlex.quote(namespace)} get backups.velero.io \"$backup\" --ignore-not-found "
        "-o jsonpath='{.status.phase}')",
        '    if [ "$phase" = Completed ]; then echo "backup $backup synced: Completed"; break; fi',
        '    if [ -n "$phase" ]; then echo "backup $backup synced but $phase, not Completed" >&2; exit 1; fi',
        '    if [ "$(date +%s)" -ge "$deadline" ]; then',
        f'      echo "backup $backup not synced by Velero after {deadline_s}s: kubectl -n {namespace} get bsl" >&2; exit 1',
        "    fi",
        f"    sleep {poll_s}",
        "  done",
        "done",
        "",
    ])


def copy_job_spec(plan: CopyPlan, *, mirror: str, pull_secret: str, ca_configmap: str, ca_key: str) -> dict:
    container = mc.container(
        script=copy_script(plan), env=[*mc.keys_env("PROD", SOURCE_SECRET), *mc.keys_env("DRILL", TARGET_SECRET)],
        mirror=mirror, resources={"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    )
    return {
        "backoffLimit": 2,  # mc mirror --overwrite resumes: a retry copies what is still missing
        "activeDeadlineSeconds": COPY_DEADLINE_S,
        "template": {"spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "imagePullSecrets": [{"name": pull_secret}],
            "containers": [container],
            "volumes": mc.volumes(ca_configmap, ca_key),
        }},
    }


def sync_job_spec(*, namespace: str, backups: Sequence[str], mirror: str, pull_secret: str) -> dict:
    # cgr.dev/chainguard/kubectl:latest-dev carries /bin/sh (sigstore/helm-charts policy-controller-0.10.6
    # templates/webhook/cleanup-leases.yaml runs `/bin/sh -c kubectl ...` in it); its digest is a placeholder.
    container = {
        "name": "kubectl",
        "image": compliance_releases.LEASES_CLEANUP.ref(mirror),
        "command": ["/bin/sh", "-c", sync_script(namespace=namespace, backups=backups)],
        # kubectl keeps its discovery cache under $HOME/.kube/cache: a writable HOME on a read-only root.
        "env": [{"name": "HOME", "value": "/tmp"}],
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": dict(mc.SECURITY),
    }
    return {
        "backoffLimit": 0,
        "activeDeadlineSeconds": SYNC_DEADLINE_S + 120,
        "template": {"spec": {
            "restartPolicy": "Never",
            "serviceAccountName": SYNC_WAITER,
            "imagePullSecrets": [{"name": pull_secret}],
            "containers": [container],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        }},
    }


def sync_role_rules() -> list[dict]:
    """Read Backups in the backup namespace, nothing else (a Role, not a ClusterRole)."""
    return [{"apiGroups": ["velero.io"], "resources": ["backups"], "verbs": ["get", "list", "watch"]}]
