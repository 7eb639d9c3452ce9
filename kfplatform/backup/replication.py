"""Replication of the artifact bucket to the DR location: a CronJob running `mc`.

pulumi-minio 0.17.1 has no bucket-replication resource (FACTS.md), so a Job applies MinIO's own
server-side bucket replication rule and re-applies it on every run: `mc replicate add` when the
rule (id REPLICATION_RULE) is absent, `mc replicate update` when present, so a run is idempotent
and also repairs a rule someone removed. MinIO then replicates every new object version itself;
`existing-objects` makes it copy what was there before the rule. Flags as in minio/mc
RELEASE.2025-08-13T08-35-41Z: cmd/replicate-add.go (`--remote-bucket`, `--priority`, `--id`,
`--replicate`; `--remote-bucket dr/<bucket>` is an alias path, which `extractCredentialURL` expands
through `mustExpandAlias` at that tag; older releases took only `https://KEY:SECRET@host/bucket`),
cmd/replicate-update.go (`--id`, `--state`, `--replicate`), cmd/replicate-list.go
(`--json`), cmd/version-enable.go, cmd/alias-set.go; the CA directory `certs/CAs` under
`--config-dir` is cmd/globals.go's `globalMCCAsDir`.
"""
from __future__ import annotations

from . import mc

JOB_NAME = "artifact-replication"
SOURCE_SECRET = "replication-source"  # keys accesskey/secretkey: the replication MinIO account
TARGET_SECRET = "replication-target"  # keys accesskey/secretkey: the DR store's account (Vault, by people)
REPLICATION_RULE = "kfplatform-dr"
REPLICATE = "existing-objects,delete,delete-marker,metadata-sync"
CONFIG_DIR = mc.CONFIG_DIR


def script(*, source_url: str, source_bucket: str, target_url: str, target_bucket: str) -> str:
    """The job's shell script: set both aliases, version the DR bucket, add or update the rule."""
    rule = (
        f"src/{source_bucket} --id {REPLICATION_RULE} --remote-bucket dr/{target_bucket} "
        f"--replicate {REPLICATE} --priority 1"
    )
    return "\n".join([
        "set -eu",
        f'mc() {{ command mc --config-dir {CONFIG_DIR} --quiet "$@"; }}',
        f'mc alias set src {source_url} "$SRC_ACCESS_KEY" "$SRC_SECRET_KEY" >/dev/null',
        f'mc alias set dr {target_url} "$DR_ACCESS_KEY" "$DR_SECRET_KEY" >/dev/null',
        # Replication needs versioning on both sides (the source bucket is versioned by object_store.py).
        f"mc version enable dr/{target_bucket}",
        # The image is ubi9/ubi-micro plus mc (minio/mc Dockerfile.release at the tag): no grep, so
        # the rule is looked for with the shell's own `case`.
        # `mc replicate ls` exits non-zero when the bucket has no replication configuration yet
        # (cmd/replicate-list.go: "replication configuration not set"): that is the first run.
        f'rules=$(mc replicate ls src/{source_bucket} --json 2>/dev/null) || rules=""',
        'case "$rules" in',
        f'  *\\"{REPLICATION_RULE}\\"*) mc replicate update {rule} --state enable ;;',
        f"  *) mc replicate add {rule} ;;",
        "esac",
        f"mc replicate ls src/{source_bucket} --json",
        "",
    ])


def cronjob_spec(
    *, cron: str, mirror: str, pull_secret: str, source_url: str, source_bucket: str, target_url: str,
    target_bucket: str, ca_configmap: str, ca_key: str,
) -> dict:
    container = mc.container(
        script=script(source_url=source_url, source_bucket=source_bucket, target_url=target_url, target_bucket=target_bucket),
        env=[*mc.keys_env("SRC", SOURCE_SECRET), *mc.keys_env("DR", TARGET_SECRET)],
        mirror=mirror,
        resources={"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    )
    return {
        "schedule": cron,
        "concurrencyPolicy": "Forbid",
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {"spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": 600,
            "template": {"spec": {
                "restartPolicy": "Never",
                "imagePullSecrets": [{"name": pull_secret}],
                "containers": [container],
                "volumes": mc.volumes(ca_configmap, ca_key),
            }},
        }},
    }
