"""Configuration of backups and the restore drill (`kubeflow-platform:backup`, `TenantConfig.backup`).

Prod backs up; the sandbox restores. Rules that make a drill safe (the sandbox reads prod's backups
with read-only credentials only, prod is never bootstrapped from a backup by configuration) are
checked here, so the error names the key that must change.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from ..config.base import DnsLabel, Model, duration_seconds, is_prod
from ..config.urls import url_problem
from ..data.config import BucketName, HostPort

VAULT_BACKUP_PATH = re.compile(r"^platform/backup/[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# Vault paths of credentials that can WRITE prod's object store: a restore source naming one of
# them would let the sandbox overwrite or delete prod's backups (refused in RestoreConfig).
VELERO_WRITER_PATH = "platform/backup/velero"
GALERA_WRITER_PATH = "platform/backup/galera"
REPLICATION_PATH = "platform/backup/replication"
DRILL_READER_PATH = "platform/backup/drill-reader"  # prod: Get/List on the backups bucket, nothing else
# The sandbox's own MinIO accounts for the drill (generated in the sandbox's Vault, drill_copy.py):
# the copy Job's writer of velero/backups|kopia/*, and Velero's reader that writes velero/restores/*.
DRILL_COPY_PATH = "platform/backup/drill-copy"
DRILL_RESTORE_PATH = "platform/backup/drill-restore"
SANDBOX_DRILL_PATHS = frozenset({DRILL_COPY_PATH, DRILL_RESTORE_PATH})
WRITE_PATHS = frozenset({
    VELERO_WRITER_PATH, GALERA_WRITER_PATH, REPLICATION_PATH,
    "platform/object-store/root", "platform/object-store/kfp",
})
# Where the sandbox reads the read-only keys (copied from prod's DRILL_READER_PATH by a person).
DEFAULT_RESTORE_CREDENTIALS = "platform/backup/prod-read-only"
# Backups of the volumes Schedule (velero.VOLUMES_SCHEDULE, in-cluster or `-offsite`): Velero names
# a scheduled backup `<schedule>-<YYYYMMDDhhmmss>` (pkg/apis/velero/v1/schedule_types.go
# TimestampedName at v1.18.1, the time the controller submits it).
VOLUMES_BACKUP_PREFIX = "kfplatform-tenant-volumes-"
# The tenants and volumes Schedules share one cron: their backups of one run are submitted within
# a minute or two; an hour apart they are not the same run.
SAME_RUN_SECONDS = 3600
_SCHEDULED_TIME = re.compile(r"-(?P<time>[0-9]{14})$")


def scheduled_time(name: str) -> datetime | None:
    """The submission time in a scheduled backup's name (UTC), or None (a hand-made name)."""
    match = _SCHEDULED_TIME.search(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match["time"], "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def run_gap_seconds(a: str, b: str) -> int | None:
    """Seconds between the times in two scheduled backups' names; None if one has no such time."""
    ta, tb = scheduled_time(a), scheduled_time(b)
    return None if ta is None or tb is None else int(abs((ta - tb).total_seconds()))




# Cron, as Velero v1.18.1 reads `Schedule.spec.schedule` (pkg/controller/schedule_controller.go:
# `cron.ParseStandard`, github.com/robfig/cron/v3 v3.0.1 in its go.mod); robfig/cron v3.0.1
# parser.go `getRange` and spec.go: five fields, each a list of `*`, `?` (day fields), N, N-M,
# with `/step` (step >= 1; `N/step` is N-max/step), within minute 0-59, hour 0-23, day 1-31,
# month 1-12, weekday 0-6; a range never runs backwards; when both day fields are restricted a day
# matches either (`dayMatches`), when one is `*` both must match; and a schedule with no run within
# five years never runs (spec.go `yearLimit`). The subset accepted here has no month or weekday
# names, no `@daily`/`@every` descriptors and no `TZ=` prefix (schedules run in UTC).
CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("weekday", 0, 6))
CRON_ITEM = re.compile(r"(?P<range>\*|\?|(?P<start>[0-9]{1,2})(-(?P<end>[0-9]{1,2}))?)(/(?P<step>[0-9]{1,2}))?")
CRON_EXAMPLE = "'0 2 * * *' (minute hour day-of-month month weekday)"


def _cron_field(text: str, name: str, low: int, high: int, days: bool) -> tuple[frozenset[int], bool]:
    """The values one field selects, and whether it is unrestricted (`*`/`?` without a step > 1)."""
    values: set[int] = set()
    star = False
    for item in text.split(","):
        match = CRON_ITEM.fullmatch(item)
        if match is None or (match["range"] == "?" and not days):
            raise ValueError(f"{name} {item!r} is not N, N-M, * or */S")
        step = int(match["step"]) if match["step"] is not None else 1
        if step == 0:
            raise ValueError(f"{name} {item!r}: the step must be at least 1")
        if match["start"] is None:
            start, end = low, high
            star = star or step == 1
        else:
            start = int(match["start"])
            end = int(match["end"]) if match["end"] is not None else (high if match["step"] is not None else start)
        if start < low or end > high:
            raise ValueError(f"{name} {item!r} is outside {low}-{high}")
        if start > end:
            raise ValueError(f"{name} {item!r}: the range runs backwards")
        values.update(range(start, end + 1, step))
    return frozenset(values), star


@lru_cache(maxsize=256)
def parse_cron(value: str) -> tuple[frozenset[int], ...] | tuple:
    """(minutes, hours, days of month, months, weekdays, day-of-month unrestricted, weekday
    unrestricted) of a cron expression; ValueError naming the field that is wrong."""
    fields = value.split(" ")
    if len(fields) != 5 or any(not f for f in fields):
        raise ValueError(f"{value!r} is not a 5-field cron expression like {CRON_EXAMPLE}, one space apart")
    parsed = []
    stars = []
    for text, (name, low, high) in zip(fields, CRON_FIELDS):
        try:
            values, star = _cron_field(text, name, low, high, days=name in ("day of month", "weekday"))
        except ValueError as e:
            raise ValueError(f"{value!r} is not a 5-field cron expression like {CRON_EXAMPLE}: {e}") from None
        parsed.append(values)
        stars.append(star)
    return (*parsed, stars[2], stars[4])


# Runs are counted over 28 years (the calendar's weekday-and-leap-year cycle between 1901 and
# 2099), from a fixed date, so the result never depends on when the program runs.
_CYCLE_START = date(2001, 1, 1)
_CYCLE_DAYS = (date(2029, 1, 1) - _CYCLE_START).days


@lru_cache(maxsize=256)
def cron_interval_seconds(cron: str) -> int:
    """The longest gap between two runs of `cron` (UTC), exactly; ValueError if it never runs.

    Drives the freshness alerts and the retention check (a backup must outlive the gap to the
    next one). A schedule with no run in five years (`0 0 31 2 *`) is refused: Velero never runs it.
    """
    minutes, hours, doms, months, dows, dom_star, dow_star = parse_cron(cron)
    times = sorted(h * 60 + m for h in hours for m in minutes)
    if dom_star and dow_star and len(months) == 12:
        day_gaps = [1]
    else:
        fire_days = []
        for offset in range(_CYCLE_DAYS):
            day = _CYCLE_START + timedelta(days=offset)
            if day.month not in months:
                continue
            dom_match, dow_match = day.day in doms, (day.weekday() + 1) % 7 in dows
            if (dom_match and dow_match) if (dom_star or dow_star) else (dom_match or dow_match):
                fire_days.append(offset)
        gaps = [b - a for a, b in zip(fire_days, fire_days[1:])]
        if not gaps or max(gaps) > 5 * 366:
            raise ValueError(
                f"{cron!r} never runs (no such date, or none within five years; robfig/cron gives up after five)"
            )
        day_gaps = gaps
    within = [b - a for a, b in zip(times, times[1:])]
    across = max(day_gaps) * 1440 - times[-1] + times[0]
    return max([across, *within]) * 60


def _cron(value: str) -> str:
    cron_interval_seconds(value)  # parses, and refuses a schedule that never runs
    return value


def _at_least_a_day(value: str, what: str) -> str:
    """A retention of at least 24h (a daily schedule would otherwise keep nothing restorable)."""
    if duration_seconds(value) < 86400:
        raise ValueError(f"{value!r}: keep {what} at least 24h (a daily schedule would keep nothing restorable)")
    return value


def _outlives(ttl: str, cron: str, ttl_key: str) -> str | None:
    """Why backups kept `ttl` do not outlive the longest gap between runs of `cron` (or None)."""
    try:
        gap = cron_interval_seconds(cron)
    except ValueError:
        return None  # reported at the cron
    if duration_seconds(ttl) <= gap:
        return (
            f"{ttl_key} {ttl} does not outlive the longest gap between runs of {cron!r} ({gap // 3600}h"
            f"{f'{gap % 3600 // 60}m' if gap % 3600 else ''}): the last backup would expire before the next "
            f"one exists; keep backups longer than {gap // 3600}h"
        )
    return None


class VeleroSchedule(Model):
    """One Velero Schedule: when, and how long its backups are kept."""

    cron: str
    ttl: str = "720h"
    # Also write each backup to the off-cluster location (`offsite`), as a second Schedule.
    offsite: bool = False

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        return _cron(value)

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: str) -> str:
        return _at_least_a_day(value, "backups")

    @model_validator(mode="after")
    def _ttl_outlives_the_schedule(self) -> "VeleroSchedule":
        if (why := _outlives(self.ttl, self.cron, "ttl")) is not None:
            raise ValueError(why)
        return self


class VeleroSchedules(Model):
    # Cluster-scoped platform state and the platform's namespaces (Kubeflow, Istio, auth...).
    platform: VeleroSchedule = VeleroSchedule(cron="0 1 * * *")
    # Every tenant namespace (Profiles, InferenceServices, notebooks' claims; volumes where the team opts in).
    tenants: VeleroSchedule = VeleroSchedule(cron="30 1 * * *")


class OffsiteLocation(Model):
    """A second, off-cluster S3 location for disaster recovery (another site or cloud)."""

    name: DnsLabel = "offsite"
    endpoint: str  # https://host[:port]

    @field_validator("name")
    @classmethod
    def _not_a_platform_location(cls, value: str) -> str:
        # velero.PRIMARY_LOCATION / RESTORE_LOCATION: a second BackupStorageLocation of that name would
        # replace the first (and the `-offsite` schedules would write to the in-cluster store).
        if value in ("default", "drill-copy"):
            raise ValueError(f"{value!r} is the name of the platform's own location (default, drill-copy); pick another")
        return value
    bucket: BucketName
    # The S3 region (Velero's BackupStorageLocation `config.region`): lower-case letters, digits, '-'.
    region: DnsLabel = "us-east-1"
    # Bucket the artifact bucket is replicated to (at `endpoint`), when replication is on.
    artifacts_bucket: BucketName | None = None
    # Vault KV path with `access_key` and `secret_key` for the DR store (people write it: `bao kv put`).
    credentials_path: str = "platform/backup/offsite"

    @field_validator("endpoint")
    @classmethod
    def _https(cls, value: str) -> str:
        if url_problem(value, path=False) is not None or value.endswith("/"):
            why = url_problem(value, path=False) or "no trailing '/'"
            raise ValueError(f"{why}: give an https:// URL with host[:port] and no path (backups leave the cluster over TLS)")
        return value

    @field_validator("credentials_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not VAULT_BACKUP_PATH.fullmatch(value) or value in WRITE_PATHS | SANDBOX_DRILL_PATHS:
            raise ValueError(f"{value!r}: give a path of its own under platform/backup/ (e.g. platform/backup/offsite)")
        return value


class DatabaseBackup(Model):
    cron: str
    max_retention: str = "720h"

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        return _cron(value)

    @field_validator("max_retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        return _at_least_a_day(value, "database backups")

    @model_validator(mode="after")
    def _retention_outlives_the_schedule(self) -> "DatabaseBackup":
        if (why := _outlives(self.max_retention, self.cron, "maxRetention")) is not None:
            raise ValueError(why)
        return self


class BinlogArchive(Model):
    """Binlog archiving for point-in-time recovery (`galera.pointInTimeRecovery`; kfplatform/backup/pitr.py).

    mariadb-operator 26.6.0's `PointInTimeRecovery` archives binlogs for asynchronous replication
    only, not Galera (its docs/pitr.md "Supported MariaDB versions and topologies" at tag v26.6.0;
    internal/controller/mariadb_controller_pitr.go: "TODO: handle galera"): the platform's own
    archiver streams them into the backups bucket under galera/binlog/ instead.
    """

    # Seconds between upload rounds: the archive trails the cluster by about one round (the RPO).
    upload_interval_seconds: int = Field(default=60, ge=10, le=3600)
    # How long archived binlogs are kept: at least galera.physical.maxRetention (checked below), so
    # every base backup still kept can be rolled forward.
    retention: str = "720h"
    # The archiver reports not ready when the bucket lacks transactions older than this (alert
    # GaleraBinlogArchiveLagging); at least two rounds.
    max_lag_minutes: int = Field(default=10, ge=1, le=1440)

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        return _at_least_a_day(value, "archived binlogs")

    @model_validator(mode="after")
    def _lag_spans_two_rounds(self) -> "BinlogArchive":
        if self.max_lag_minutes * 60 < 2 * self.upload_interval_seconds:
            raise ValueError(
                f"maxLagMinutes {self.max_lag_minutes} is shorter than two upload rounds "
                f"(uploadIntervalSeconds {self.upload_interval_seconds}): a healthy archiver would alert"
            )
        return self


class GaleraBackups(Model):
    # mariabackup of one replica (never the primary): the base of every restore.
    physical: DatabaseBackup = DatabaseBackup(cron="0 3 * * *")
    # mariadb-dump of KFP's and ML Metadata's databases: portable, and the finer restore points.
    logical: DatabaseBackup = DatabaseBackup(cron="15 * * * *", max_retention="168h")
    # Archive the binlogs, so KFP's and ML Metadata's databases can be restored to any second since
    # the oldest kept logical backup. `true` takes the defaults; `false` or absent: no archive.
    point_in_time_recovery: BinlogArchive | None = None

    @field_validator("point_in_time_recovery", mode="before")
    @classmethod
    def _yes_no(cls, value: object) -> object:
        if value is True:
            return {}
        if value is False:
            return None
        return value

    @field_validator("point_in_time_recovery")
    @classmethod
    def _outlives_physical_backups(cls, value: BinlogArchive | None, info: ValidationInfo) -> BinlogArchive | None:
        physical = info.data.get("physical")
        if value is not None and physical is not None:
            if duration_seconds(value.retention) < duration_seconds(physical.max_retention):
                raise ValueError(
                    f"retention {value.retention} is shorter than galera.physical.maxRetention "
                    f"{physical.max_retention}: keep archived binlogs at least as long as the backups they roll forward"
                )
        return value


class Replication(Model):
    """The artifact bucket replicated to the off-cluster location (MinIO bucket replication)."""

    # How often the job re-applies the replication rule (idempotent; also repairs a removed rule).
    cron: str = "*/30 * * * *"
    # Alert when an object waits longer than this to reach the DR copy (MinIO's replication latency).
    max_lag_minutes: int = Field(default=30, ge=1, le=1440)

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        return _cron(value)


class RestoreConfig(Model):
    """The sandbox's restore drill: bring the data tier and namespaces up from one of prod's backups."""

    backup: DnsLabel  # the Velero backup of the teams' objects, e.g. kfplatform-tenants-20261201013012
    # The same run's backup of the opted-in teams' namespaces with their volumes' contents
    # (kfplatform-tenant-volumes-...): required when a restored team opts in, refused otherwise
    # (checks.py). Those namespaces are restored from it alone. Empty text means unset (what
    # `pulumi config set --path ... ''` writes when no team opts in).
    volumes_backup: DnsLabel | None = None
    # Restore the database to this instant (UTC, ISO 8601, quoted); default: its newest physical backup.
    point_in_time: datetime | None = None
    # Prod's object store as the sandbox's pods (the copy Job, the database bootstrap, the point-in-time Job) and
    # `drill-backups` reach it (host:port, TLS), and its backups bucket.
    endpoint: HostPort
    bucket: BucketName = "kfp-backups"
    # READ-ONLY keys (prod's drill-reader account), copied into the sandbox's Vault by a person; used
    # by the copy Job, the database bootstrap, the point-in-time Job and `drill-backups`, never by the
    # sandbox's Velero.
    credentials_path: str = DEFAULT_RESTORE_CREDENTIALS
    # Namespaces the Velero Restore brings back; default: every tenant namespace.
    namespaces: list[DnsLabel] = []

    @field_validator("credentials_path")
    @classmethod
    def _read_only(cls, value: str) -> str:
        if value in WRITE_PATHS:
            raise ValueError(
                f"{value!r} holds credentials that can write prod's object store; the sandbox reads prod's backups "
                f"with the read-only drill account only (prod {DRILL_READER_PATH}, copied to {DEFAULT_RESTORE_CREDENTIALS})"
            )
        if value in SANDBOX_DRILL_PATHS:
            raise ValueError(
                f"{value!r} holds the sandbox's own generated drill keys (its MinIO), not prod's; name the copy of "
                f"prod's read-only drill keys (default {DEFAULT_RESTORE_CREDENTIALS})"
            )
        if not VAULT_BACKUP_PATH.fullmatch(value):
            raise ValueError(f"{value!r}: give a Vault path under platform/backup/ (default {DEFAULT_RESTORE_CREDENTIALS})")
        return value

    @field_validator("volumes_backup", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("backup")
    @classmethod
    def _not_the_volumes_backup(cls, value: str) -> str:
        if value.startswith(VOLUMES_BACKUP_PREFIX):
            raise ValueError(
                f"{value!r} is the volumes schedule's backup: name the tenants backup (kfplatform-tenants-<time>) "
                "here and this one in volumesBackup"
            )
        return value

    @field_validator("volumes_backup")
    @classmethod
    def _a_volumes_backup_of_the_same_run(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not value.startswith(VOLUMES_BACKUP_PREFIX):
            raise ValueError(
                f"{value!r} is not a backup of the volumes schedule: name a {VOLUMES_BACKUP_PREFIX}<time> backup "
                "(it holds the opted-in namespaces whole, with their volumes' contents)"
            )
        backup = info.data.get("backup")  # validated first (declared first); absent if it was refused
        gap = run_gap_seconds(backup, value) if backup else None
        if gap is not None and gap > SAME_RUN_SECONDS:
            raise ValueError(
                f"{value!r} was taken {gap // 3600}h{gap % 3600 // 60:02d}m apart from backup {backup!r}: name the volumes backup of "
                f"the same run (both schedules share one cron; at most {SAME_RUN_SECONDS // 60} min apart), or "
                "the teams would come back from different nights"
            )
        return value

    @field_validator("point_in_time", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        if value == "":  # `pulumi config set --path ... ''`: unset, the newest physical backup
            return None
        # Pydantic would read a number as seconds since 1970 (`pointInTime: 0` is 1970-01-01): a
        # restore point is written as ISO 8601 text with its zone, nothing else.
        if value is not None and not isinstance(value, (str, datetime)):
            raise ValueError(f"{value!r}: give the instant as quoted ISO 8601 text with its zone, e.g. '2026-11-30T22:00:00Z'")
        return value

    @field_validator("namespaces")
    @classmethod
    def _once(cls, value: list[str]) -> list[str]:
        twice = sorted({n for n in value if value.count(n) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} listed twice")
        return value

    @field_validator("point_in_time")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()!r}: give the time zone (e.g. 2026-11-30T22:00:00Z)")
        return value.astimezone(timezone.utc)

class BackupConfig(Model):
    """Everything under `kubeflow-platform:backup`."""

    # `openshift`: OADP's DataProtectionApplication (the OADP operator is installed by OLM) instead of
    # the Velero Helm chart.
    distribution: Literal["kubernetes", "openshift"] = "kubernetes"
    # Velero Schedules and Galera backups of this stack; None (the sandbox): this stack backs nothing up.
    schedules: VeleroSchedules | None = None
    galera: GaleraBackups | None = None
    offsite: OffsiteLocation | None = None
    # Replicate the artifact bucket to `offsite.artifactsBucket`.
    replication: Replication | None = None
    # Prod: a MinIO account that may only read the backups bucket, for the sandbox's drills.
    drill_reader: bool = False
    # Sandbox: restore from one of prod's backups (docs/restore-drill.md).
    restore: RestoreConfig | None = None
    alerts: bool = True

    @field_validator("restore")
    @classmethod
    def _not_in_prod(cls, value: RestoreConfig | None, info: ValidationInfo) -> RestoreConfig | None:
        if value is not None and is_prod(info):
            raise ValueError(
                "prod is never bootstrapped from a backup by configuration; restore prod by hand (docs/backups.md)"
            )
        return value

    @model_validator(mode="after")
    def _coherent(self, info: ValidationInfo) -> "BackupConfig":
        if is_prod(info):
            if self.schedules is None or self.galera is None:
                raise ValueError("prod must back up: set schedules and galera (defaults: daily, 30 days)")
            if self.offsite is None:
                raise ValueError("prod needs an off-cluster location (offsite) so a lost site is not a lost platform")
        if self.restore is not None:
            writers = [k for k in ("schedules", "galera", "replication", "drill_reader") if getattr(self, k)]
            if writers:
                keys = ", ".join(to_camel(k) for k in writers)
                raise ValueError(
                    f"restore with {keys}: a stack restoring from prod's backups does not back up itself "
                    "(its Velero only restores, from its own copy of prod's backups, with keys that may write "
                    "restore logs only); remove those keys"
                )
        if self.replication is not None and (self.offsite is None or self.offsite.artifacts_bucket is None):
            raise ValueError("replication needs offsite.artifactsBucket: the DR bucket the artifact bucket is copied to")
        if self.schedules is not None and self.offsite is None:
            for key in ("platform", "tenants"):
                if getattr(self.schedules, key).offsite:
                    raise ValueError(f"schedules.{key}.offsite: no offsite location is configured")
        return self

    @property
    def velero_needed(self) -> bool:
        return self.schedules is not None or self.restore is not None


class TenantBackup(Model):
    """A team's backup opt-ins (`backup:` in its tenant file)."""

    # Back up the contents of the team's volumes (notebooks' home directories...) with Velero's file
    # system backup; without it only the claims' definitions are kept.
    notebook_volumes: bool = False
