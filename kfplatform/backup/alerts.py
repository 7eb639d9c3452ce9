"""Backup alerts (PrometheusRule), in the label contract of kfplatform/alerts.py.

Metric names as their sources define them at the pinned versions:
- Velero v1.18.1, pkg/metrics/metrics.go (namespace `velero`, label `schedule`):
  `velero_backup_failure_total`, `velero_backup_partial_failure_total`,
  `velero_backup_last_successful_timestamp`.
- mariadb-operator 26.6.0 exports no backup metrics of its own (only the ServiceMonitor of
  mysqld-exporter); its backups are Jobs (PhysicalBackup: `<name>-<time>`, physicalbackup_controller.go)
  and, for a scheduled logical Backup, a CronJob named like the Backup (backup_controller.go). So they
  are watched through kube-state-metrics v2.20.0 (internal/store/job.go, cronjob.go):
  `kube_job_status_failed`, `kube_job_status_completion_time`, `kube_cronjob_status_last_successful_time`.
- The binlog archiver (pitr.py) reports its own state through its readiness probe (ready = a round
  found everything the server had one round earlier in the bucket, within maxLagMinutes), seen by
  kube-state-metrics v2.20.0 internal/store/deployment.go: `kube_deployment_status_replicas_ready`.
  mysqld_exporter v0.15.1 as mariadb-operator 26.6.0 runs it (only `--config.my-cnf`,
  pkg/builder/deployment_builder.go) has its default collectors only, and the processlist,
  binlog_size and slave_hosts collectors are off by default (mysqld_exporter.go `scrapers` at
  v0.15.1): nothing about a binlog-dump client reaches Prometheus, so the archiver's own state is
  the signal.
- MinIO RELEASE.2025-04-22T22-12-26Z, cmd/metrics-v2.go, bucket metrics (/minio/v2/metrics/bucket):
  `minio_bucket_replication_last_hour_failed_count{bucket,targetArn}`,
  `minio_bucket_replication_latency_ms{bucket,operation,range,targetArn}`.
"""
from __future__ import annotations

from ..alerts import PLATFORM_TEAM, alert_rule, runbook_url
from .config import BackupConfig, cron_interval_seconds
from .database import LOGICAL_BACKUP, PHYSICAL_BACKUP
from .pitr import ARCHIVER
from .replication import JOB_NAME
from .velero import PLATFORM_SCHEDULE, TENANTS_SCHEDULE, VOLUMES_SCHEDULE

RULE_NAME = "kfplatform-backups"
# Headings of docs/runbook.md (appended by this branch); every runbook_url lands on one of them.
H_VELERO_FAILED = "Backups: a Velero backup failed"
H_VELERO_STALE = "Backups: the newest Velero backup is too old"
H_GALERA_FAILED = "Backups: a Galera backup job failed"
H_GALERA_STALE = "Backups: the newest Galera backup is too old"
H_REPLICATION = "Backups: artifact replication fails or lags"
H_BINLOG = "Backups: binlog archiving stopped or lags"
HEADINGS = (H_VELERO_FAILED, H_VELERO_STALE, H_GALERA_FAILED, H_GALERA_STALE, H_REPLICATION, H_BINLOG)
# A backup is late when no success came within one schedule interval plus this grace (a run takes time).
GRACE_SECONDS = 2 * 3600


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:g}h"


def _duration(seconds: int) -> str:
    """A Prometheus `for:` of whole minutes."""
    return f"{-(-seconds // 60)}m"


def backup_rules(
    config: BackupConfig, *, velero_namespace: str, database_namespace: str, artifact_bucket: str,
    runbook_base_url: str,  # the stack's observability.runbookBaseUrl
) -> list[dict]:
    url = lambda heading: runbook_url(runbook_base_url, heading)  # noqa: E731
    rules: list[dict] = []
    team = PLATFORM_TEAM
    if config.schedules is not None:
        ours = f"({PLATFORM_SCHEDULE}|{TENANTS_SCHEDULE}|{VOLUMES_SCHEDULE})(-offsite)?"
        rules.append(alert_rule(
            "VeleroBackupFailed",
            f'increase(velero_backup_failure_total{{schedule=~"{ours}"}}[2h]) > 0'
            f' or increase(velero_backup_partial_failure_total{{schedule=~"{ours}"}}[2h]) > 0',
            for_="0m", severity="ticket", slo="backup_success", team=team, name="velero",
            summary="Velero backup of schedule {{ $labels.schedule }} failed or partially failed",
            runbook=url(H_VELERO_FAILED),
        ))
        for key, selector in (("platform", f'schedule=~"{PLATFORM_SCHEDULE}(-offsite)?"'),
                              ("tenants", f'schedule=~"({TENANTS_SCHEDULE}|{VOLUMES_SCHEDULE})(-offsite)?"')):
            schedule = getattr(config.schedules, key)
            limit = cron_interval_seconds(schedule.cron) + GRACE_SECONDS
            rules.append(alert_rule(
                f"VeleroBackupTooOld{key.capitalize()}",
                f"time() - velero_backup_last_successful_timestamp{{{selector}}} > {limit}",
                for_="15m", severity="page", slo="backup_freshness", team=team, name="velero",
                summary=f"No successful backup of {{{{ $labels.schedule }}}} for more than {_hours(limit)} "
                        f"(schedule {schedule.cron})",
                runbook=url(H_VELERO_STALE),
            ))
            # The gauge above exists only after a first success (and again after a restart of Velero
            # once one succeeds): a location broken from day one would otherwise never alert.
            rules.append(alert_rule(
                f"VeleroBackupNeverSucceeded{key.capitalize()}",
                f"absent(velero_backup_last_successful_timestamp{{{selector}}})",
                for_=_duration(limit), severity="page", slo="backup_freshness", team=team, name="velero",
                summary=f"No successful {key} backup for {_hours(limit)} (schedule {schedule.cron}), none since Velero started",
                runbook=url(H_VELERO_STALE),
            ))
    if config.galera is not None:
        ns = database_namespace
        rules.append(alert_rule(
            "GaleraBackupJobFailed",
            f'kube_job_status_failed{{namespace="{ns}",job_name=~"({PHYSICAL_BACKUP}|{LOGICAL_BACKUP}).*"}} > 0',
            for_="0m", severity="ticket", slo="backup_success", team=team, name="galera",
            summary="Galera backup job {{ $labels.job_name }} failed",
            runbook=url(H_GALERA_FAILED),
        ))
        physical = cron_interval_seconds(config.galera.physical.cron) + GRACE_SECONDS
        logical = cron_interval_seconds(config.galera.logical.cron) + 3600
        copies = [("", "in-cluster")] + ([("-offsite", "off-site")] if config.offsite is not None else [])
        for suffix, where in copies:
            # Job names are `<PhysicalBackup>-<yyyymmddhhmmss>`: the digit keeps the two copies apart.
            completed = f'kube_job_status_completion_time{{namespace="{ns}",job_name=~"{PHYSICAL_BACKUP}{suffix}-[0-9]+"}}'
            rules.append(alert_rule(
                f"GaleraPhysicalBackupTooOld{suffix.title().replace('-', '')}",
                f"(time() - max({completed}) > {physical}) or absent({completed})",
                for_="30m", severity="page", slo="backup_freshness", team=team, name="galera",
                summary=f"No {where} Galera physical backup completed for more than {_hours(physical)} "
                        f"(schedule {config.galera.physical.cron})",
                runbook=url(H_GALERA_STALE),
            ))
            # The finest restore points while binlog archiving is unavailable for Galera (config.py):
            # this alert bounds the data loss a restore would cost.
            rules.append(alert_rule(
                f"GaleraLogicalBackupTooOld{suffix.title().replace('-', '')}",
                f'time() - kube_cronjob_status_last_successful_time{{namespace="{ns}",cronjob="{LOGICAL_BACKUP}{suffix}"}}'
                f" > {logical}",
                for_="15m", severity="page", slo="backup_freshness", team=team, name="galera",
                summary=f"No {where} logical backup of KFP/MLMD for more than {_hours(logical)}: "
                        "a restore would lose that much run history",
                runbook=url(H_GALERA_STALE),
            ))
            # kube-state-metrics exports the last success only once there has been one.
            rules.append(alert_rule(
                f"GaleraLogicalBackupNeverSucceeded{suffix.title().replace('-', '')}",
                f'absent(kube_cronjob_status_last_successful_time{{namespace="{ns}",cronjob="{LOGICAL_BACKUP}{suffix}"}})',
                for_=_duration(logical), severity="page", slo="backup_freshness", team=team, name="galera",
                summary=f"No {where} logical backup of KFP/MLMD has ever succeeded ({_hours(logical)} allowed)",
                runbook=url(H_GALERA_STALE),
            ))
    if config.galera is not None and config.galera.point_in_time_recovery is not None:
        rules += binlog_archive_rules(config, database_namespace=database_namespace, url=url(H_BINLOG))
    if config.replication is not None:
        lag_ms = config.replication.max_lag_minutes * 60_000
        job_limit = 2 * cron_interval_seconds(config.replication.cron) + 600
        rules += [
            alert_rule(
                "ArtifactReplicationFailing",
                f'sum by (bucket) (minio_bucket_replication_last_hour_failed_count{{bucket="{artifact_bucket}"}}) > 0',
                for_="15m", severity="ticket", slo="replication", team=team, name="minio",
                summary=f"Objects of {artifact_bucket} failed to replicate to the DR location in the last hour",
                runbook=url(H_REPLICATION),
            ),
            alert_rule(
                "ArtifactReplicationLagging",
                f'max by (bucket) (minio_bucket_replication_latency_ms{{bucket="{artifact_bucket}"}}) > {lag_ms}',
                for_="30m", severity="ticket", slo="replication", team=team, name="minio",
                summary=f"Replication of {artifact_bucket} to the DR location takes more than "
                        f"{config.replication.max_lag_minutes} minutes",
                runbook=url(H_REPLICATION),
            ),
            alert_rule(
                "ArtifactReplicationJobNotSucceeding",
                f'time() - kube_cronjob_status_last_successful_time{{namespace="{velero_namespace}",cronjob="{JOB_NAME}"}}'
                f" > {job_limit}",
                for_="15m", severity="ticket", slo="replication", team=team, name="minio",
                summary="The job that keeps the artifact bucket's replication rule in place has not succeeded recently",
                runbook=url(H_REPLICATION),
            ),
            alert_rule(
                "ArtifactReplicationJobNeverSucceeded",
                f'absent(kube_cronjob_status_last_successful_time{{namespace="{velero_namespace}",cronjob="{JOB_NAME}"}})',
                for_=_duration(job_limit), severity="ticket", slo="replication", team=team, name="minio",
                summary="The job that sets the artifact bucket's replication rule has never succeeded",
                runbook=url(H_REPLICATION),
            ),
        ]
    return rules


def binlog_archive_rules(config: BackupConfig, *, database_namespace: str, url: str) -> list[dict]:
    """The archive lags (not ready: transactions older than maxLagMinutes are not in the bucket) and,
    three times that long or with no archiver at all, archiving has stopped: the point-in-time
    promise is broken and the data-loss bound is back to the hourly logical backup."""
    archive = config.galera.point_in_time_recovery
    lag = archive.max_lag_minutes
    ready = f'kube_deployment_status_replicas_ready{{namespace="{database_namespace}",deployment="{ARCHIVER}"}}'
    return [
        alert_rule(
            "GaleraBinlogArchiveLagging", f"{ready} < 1",
            for_="5m", severity="ticket", slo="backup_freshness", team=PLATFORM_TEAM, name="galera",
            summary=f"The Galera binlog archive lacks transactions older than {lag} minutes "
                    "(the archiver is not ready): a point-in-time restore would miss them",
            runbook=url,
        ),
        alert_rule(
            "GaleraBinlogArchivingStopped", f"({ready} < 1) or absent({ready})",
            for_=_duration(3 * lag * 60), severity="page", slo="backup_freshness", team=PLATFORM_TEAM, name="galera",
            summary=f"Binlog archiving stopped: nothing archived for {3 * lag} minutes; the cluster's binlogs "
                    "expire after 7 days, and until then a restore loses up to an hour of KFP and ML Metadata",
            runbook=url,
        ),
    ]
