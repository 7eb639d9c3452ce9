"""The restore drill: refuse bad input before anything is touched, then wait for the restore, check
the three criteria, measure the RTO, and log the result next to the previous drill's.

Steps (each timed): preflight (read-only), backups copied into the sandbox (the copy Job that
stages the drilled backups and kopia repositories in the sandbox's own bucket completed; its own
duration is the step's), data tier restored (the `MariaDB` bootstrapped from prod's physical backup
is Ready), namespaces restored (the Velero `Restore` of the tenants backup completed), opted-in
namespaces and volumes restored (the `Restore` of the volumes backup completed and every volume it
holds came back), then the criteria. RTO: from the moment the restore began (the earliest creation
of the copy Job, the `MariaDB` and the Restores) to the moment the last criterion passed.

`newest_backups` (CLI `drill-backups`) finds the newest complete run of prod's tenants and volumes
backups by listing prod's backups bucket itself (S3, GETs only) with the drill reader's read-only
keys, read from the sandbox's Vault: the sandbox's Velero only ever sees the copy of the backups
the last drill staged, so it cannot say what prod has now.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Mapping

import yaml

from ...config.errors import ConfigError
from ...config.loader import load_platform_config
from ...render.run import read_stack_config
from .. import drill_copy, velero
from ..config import SAME_RUN_SECONDS, WRITE_PATHS, duration_seconds, run_gap_seconds
from . import checks, log, s3
from .clients import ApiError, DrillRefused, Http, KubeTarget, kube_client, read_kubeconfig, status_of

PROBE_PIPELINE = pathlib.Path(__file__).with_name("probe_pipeline.yaml")
# One timed step per Restore the stack declares; the tenants step keeps its name, so drill logs compare.
RESTORE_STEPS = {
    velero.TENANTS_RESTORE: "namespaces restored",
    velero.VOLUMES_RESTORE: "opted-in namespaces and volumes restored",
}
COPY_STEP = "backups copied into the sandbox"
EXPERIMENT = "restore-drill"
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"}
DEFAULT_TOLERANCE_S = 26 * 3600  # a daily physical backup plus its grace: history older than this is "lost"


@dataclass
class DrillOptions:
    project: pathlib.Path
    stack: str
    backup: str
    kubeconfig: str
    kfp_url: str
    kfp_namespace: str
    point_in_time: datetime | None = None
    context: str | None = None
    kfp_user: str | None = None  # sent as kubeflow-userid (KFP multi-user mode behind the mesh)
    db_host: str = "127.0.0.1"
    db_port: int = 6033
    db_user: str = "kfp"
    db_password: str | None = None  # from DRILL_DB_PASSWORD, never the command line
    dashboard_url: str | None = None
    tolerance_s: int = DEFAULT_TOLERANCE_S
    wait_timeout_s: float = 3600
    run_timeout_s: float = 1800
    poll_s: float = 10
    log_dir: pathlib.Path | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    dashboard_tls: object | None = None  # an ssl.SSLContext for the gateway, if not publicly trusted


@dataclass
class Preflight:
    target: KubeTarget
    kube: Http
    velero_namespace: str
    database_namespace: str
    since: int
    until: int
    dashboard_url: str
    backup: dict = field(default_factory=dict)
    restores: list = field(default_factory=list)  # velero.DrillRestore: what the stack declared
    copy_job: str = ""  # the copy Job the stack declared for them (drill_copy.CopyPlan.job_name)


MAX_TOLERANCE_HOURS = 24 * 366  # "recent" means within the last year at most


def parse_point_in_time(text: str) -> datetime:
    """`--point-in-time`: an ISO 8601 instant with its zone, in UTC; DrillRefused otherwise."""
    try:
        point = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise DrillRefused(
            f"--point-in-time {text!r} is not an ISO 8601 instant like 2026-11-30T22:00:00Z ({e})"
        ) from None
    if point.tzinfo is None:
        raise DrillRefused(f"--point-in-time {text}: give the time zone (e.g. ...T22:00:00Z)")
    return point.astimezone(timezone.utc)


def argument_problems(backup: str, tolerance_hours: float, db_port: int, kfp_namespace: str = "team-a") -> list[str]:
    """What is wrong with the drill's other arguments, checked before any file or cluster is read."""
    from ...config.base import DNS_LABEL

    problems = []
    if len(backup) > 63 or not DNS_LABEL.fullmatch(backup):
        problems.append(
            f"--backup {backup!r} is not a Velero backup name (a DNS label, e.g. kfplatform-tenants-20261201013012)"
        )
    if len(kfp_namespace) > 63 or not DNS_LABEL.fullmatch(kfp_namespace):
        problems.append(f"--kfp-namespace {kfp_namespace!r} is not a namespace (a DNS label, e.g. team-nlp)")
    if not (0 < tolerance_hours <= MAX_TOLERANCE_HOURS):  # also refuses nan and inf
        problems.append(f"--tolerance-hours {tolerance_hours}: give hours above 0 and at most {MAX_TOLERANCE_HOURS}")
    if not 1 <= db_port <= 65535:
        problems.append(f"--db-port {db_port} is not a port (1..65535)")
    return problems


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].lower()


def _sandbox_config(project: pathlib.Path, stack_name: str, backup_hint: str):
    """(config, stack file name, prod's raw config) of a sandbox stack that restores; DrillRefused otherwise."""
    if stack_name == "prod":
        raise DrillRefused("the drill restores into the sandbox; it never runs against prod (--stack sandbox)")
    try:
        raw, _ = read_stack_config(project, stack_name)
        config = load_platform_config(stack_name, raw, project)
        prod_raw, _ = read_stack_config(project, "prod")
    except ConfigError as e:
        raise DrillRefused(str(e)) from None
    stack_file = f"Pulumi.{stack_name}.yaml"
    if config.stack.is_prod:
        raise DrillRefused(f"{stack_file}: environment is prod; the drill runs against the sandbox only")
    if config.stack.backup.restore is None:
        raise DrillRefused(
            f"{stack_file}: kubeflow-platform:backup.restore is not set, so the sandbox starts empty; set "
            f"backup.restore.backup: {backup_hint} and run `pulumi up --stack {stack_name}` first"
        )
    if config.stack.backup.restore.credentials_path in WRITE_PATHS:  # the model refuses it too; never rely on one check
        raise DrillRefused(f"{stack_file}: backup.restore.credentialsPath names prod's write credentials")
    return config, stack_file, prod_raw


def _sandbox_client(config, stack_file: str, prod_raw: dict, kubeconfig: str, context: str | None) -> tuple[KubeTarget, Http]:
    """The sandbox's API server from the kubeconfig, never prod's: checked before any request is sent."""
    target, cluster, user = read_kubeconfig(kubeconfig, context)
    prod_context = prod_raw.get("kubernetes:context")
    prod_host = json.loads(prod_raw["kubeflow-platform:secrets"])["vault"]["kubernetes"]["host"]
    sandbox_host = config.stack.secrets.vault.kubernetes.host
    if target.context == prod_context or _host(target.server) == _host(prod_host):
        raise DrillRefused(
            f"kubeconfig {kubeconfig}: context {target.context!r} (server {target.server}) is prod's "
            f"(Pulumi.prod.yaml: kubernetes:context {prod_context}, API server {prod_host}); the drill never touches prod"
        )
    if _host(target.server) != _host(sandbox_host):
        raise DrillRefused(
            f"kubeconfig {kubeconfig}: context {target.context!r} points at {target.server}, not the sandbox's "
            f"API server {sandbox_host} ({stack_file}: secrets.vault.kubernetes.host)"
        )
    return target, kube_client(cluster, user, target.server)


def _expired(backup: dict, now: float) -> bool:
    status = backup.get("status", {})
    expiration, ttl = status.get("expiration"), backup.get("spec", {}).get("ttl")
    if expiration and _parse_time(expiration).timestamp() <= now:
        return True
    return bool(ttl) and _started(backup).timestamp() + duration_seconds(ttl) <= now


def _started(backup: dict) -> datetime:
    return _parse_time(backup.get("status", {}).get("startTimestamp") or backup["metadata"]["creationTimestamp"])


def check_backup(kube: Http, velero_namespace: str, name: str, now: float, what: str = "backup") -> dict:
    """The synced Backup `name`, if it exists, is Completed and within its retention; DrillRefused otherwise."""
    base = f"/apis/velero.io/v1/namespaces/{velero_namespace}/backups"
    try:
        backup = kube.get(f"{base}/{name}")
    except OSError as e:
        raise DrillRefused(f"cannot reach the sandbox's API server {kube.base}: {e}") from None
    except ApiError as e:
        if e.status != 404:
            raise DrillRefused(f"cannot read Velero backups in the sandbox: {e}") from None
        try:
            known = sorted((b["metadata"]["name"] for b in kube.get(base).get("items", [])), reverse=True)[:5]
        except (ApiError, OSError):
            known = []
        raise DrillRefused(
            f"unknown {what} {name!r}: the sandbox's Velero does not list it (it lists the backups the drill's "
            "copy Job staged in the sandbox's own bucket: `pulumi up --stack sandbox` with backup.restore naming it "
            f"copies it; names listed: {', '.join(known) or 'none'})"
        ) from None
    status = backup.get("status", {})
    if status.get("phase") != "Completed":
        raise DrillRefused(f"{what} {name!r} is {status.get('phase')!r}, not Completed: drill a complete backup")
    if _expired(backup, now):
        raise DrillRefused(
            f"{what} {name!r} is older than its retention (ttl {backup.get('spec', {}).get('ttl')}, expired "
            f"{status.get('expiration')}): Velero is deleting it; drill a newer one"
        )
    return backup


def planned_restores(config) -> list[velero.DrillRestore]:
    """The Restores the stack declares for its `backup.restore` (component.py makes the same list)."""
    restore = config.stack.backup.restore
    teams = sorted(t.config.name for t in config.tenants)
    return velero.drill_restores(
        backup=restore.backup, volumes_backup=restore.volumes_backup, namespaces=restore.namespaces or teams,
        volume_teams=[t.config.name for t in config.tenants if t.config.backup.notebook_volumes],
    )


def copy_job_name(config, restores: list[velero.DrillRestore]) -> str:
    """The copy Job the stack declares for `restores` (its name depends on the source and what is copied)."""
    restore = config.stack.backup.restore
    plan = drill_copy.copy_plan(
        source_endpoint=restore.endpoint, source_bucket=restore.bucket, target_url="", target_bucket="", restores=restores,
    )
    return plan.job_name


def preflight(opts: DrillOptions) -> Preflight:
    """Every refusal (DrillRefused) happens here, before anything is created or changed."""
    config, stack_file, prod_raw = _sandbox_config(opts.project, opts.stack, opts.backup)
    stack = config.stack
    restore = stack.backup.restore
    if restore.backup != opts.backup:
        raise DrillRefused(
            f"{stack_file}: kubeflow-platform:backup.restore.backup is {restore.backup!r}, not {opts.backup!r}; "
            "set it and run `pulumi up` first, so the data tier and the namespaces come from the same backup"
        )
    if opts.point_in_time and restore.point_in_time != opts.point_in_time:
        raise DrillRefused(
            f"{stack_file}: kubeflow-platform:backup.restore.pointInTime is "
            f"{restore.point_in_time.isoformat() if restore.point_in_time else 'unset'}, not {opts.point_in_time.isoformat()}"
        )
    try:
        restores = planned_restores(config)
    except ValueError as e:  # the loader's cross-check refuses this first; never rely on one check
        raise DrillRefused(f"{stack_file}: backup.restore.volumesBackup: {e}") from None
    target, kube = _sandbox_client(config, stack_file, prod_raw, opts.kubeconfig, opts.context)
    ns = stack.cluster.namespaces
    now = opts.clock()
    backup = check_backup(kube, ns.backup, opts.backup, now)
    for planned in restores:
        if planned.role == velero.VOLUMES_RESTORE:
            check_backup(kube, ns.backup, planned.backup, now, what="volumes backup")
    started = _started(backup)
    point = restore.point_in_time
    since = int((point or started).timestamp()) - opts.tolerance_s
    until = int(point.timestamp()) if point else int(now)
    return Preflight(
        target, kube, ns.backup, ns.database, since, until,
        opts.dashboard_url or f"https://{stack.cluster.domain}/", backup, restores, copy_job_name(config, restores),
    )


@dataclass(frozen=True)
class NewestRun:
    """The newest complete run of prod's backups the sandbox can restore: tenants, and volumes if needed."""

    backup: str
    volumes_backup: str | None
    notes: tuple[str, ...] = ()

    def shell(self) -> str:
        """`export` lines for `eval` (CI): DRILL_BACKUP, DRILL_VOLUMES_BACKUP (empty: none needed)."""
        import shlex

        return (f"export DRILL_BACKUP={shlex.quote(self.backup)}\n"
                f"export DRILL_VOLUMES_BACKUP={shlex.quote(self.volumes_backup or '')}\n")


READER_KEY_ENV = ("DRILL_READER_ACCESS_KEY", "DRILL_READER_SECRET_KEY")
BACKUPS_PREFIX = f"{velero.BUCKET_PREFIX}/backups/"
_SCHEDULED = {schedule: re.compile(rf"^{re.escape(schedule)}-[0-9]{{14}}$")
              for schedule in (velero.TENANTS_SCHEDULE, velero.VOLUMES_SCHEDULE)}


def _vault_keys(config, env: Mapping[str, str]) -> tuple[str, str]:
    """The drill reader's keys at `backup.restore.credentialsPath` in the sandbox's Vault (KV v2),
    read with VAULT_TOKEN (the CI job's, from .ci/vault-login) at the stack's Vault address."""
    vault, path = config.stack.secrets.vault, config.stack.backup.restore.credentials_path
    token = env.get("VAULT_TOKEN")
    if not token:
        raise DrillRefused(
            f"set VAULT_TOKEN (a token of the sandbox's Vault {vault.address} that may read {vault.kv_mount}/{path}), "
            f"or {' and '.join(READER_KEY_ENV)}: drill-backups lists prod's bucket with the drill reader's read-only keys"
        )
    address = env.get("VAULT_ADDR") or vault.address
    url = f"{address.rstrip('/')}/v1/{vault.kv_mount}/data/{path}"
    context = ssl.create_default_context(cafile=env.get("VAULT_CACERT") or None)
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"X-Vault-Token": token}), context=context,
                                    timeout=30) as response:
            data = json.load(response)["data"]["data"]
        return data["access_key"], data["secret_key"]
    except urllib.error.HTTPError as e:
        raise DrillRefused(f"reading {vault.kv_mount}/{path} from {address} failed: HTTP {e.code}") from None
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise DrillRefused(f"reading {vault.kv_mount}/{path} from {address} failed: {type(e).__name__}: {e}") from None


def prod_bucket(config, *, endpoint_url: str | None = None, env: Mapping[str, str] | None = None,
                context: ssl.SSLContext | None = None) -> s3.Bucket:
    """Prod's backups bucket (backup.restore.endpoint/bucket), read with the drill reader's keys:
    DRILL_READER_ACCESS_KEY/DRILL_READER_SECRET_KEY when both are set, else from the sandbox's Vault."""
    env = os.environ if env is None else env
    restore = config.stack.backup.restore
    if all(env.get(k) for k in READER_KEY_ENV):
        access, secret = (env[k] for k in READER_KEY_ENV)
    else:
        access, secret = _vault_keys(config, env)
    return s3.Bucket(endpoint_url or f"https://{restore.endpoint}", restore.bucket, access, secret, context=context)


def newest_backups(
    project: pathlib.Path, stack_name: str, *, endpoint_url: str | None = None, env: Mapping[str, str] | None = None,
    clock: Callable[[], float] | None = None, context: ssl.SSLContext | None = None,
) -> NewestRun:
    """Prod's newest tenants backup that is Completed and within its retention, and (when a restored
    team opts in to volume backups) the volumes backup of the same run, read from prod's backups
    bucket itself: each `velero/backups/<name>/velero-backup.json` (Velero v1.18.1
    pkg/persistence/object_store_layout.go getBackupMetadataKey) of the two schedules' timestamped
    names, judged by its `velero.io/schedule-name` label, `status.phase`, `status.expiration` and
    `spec.ttl` (Velero uploads it again with phase Completed once the backup is finalized:
    pkg/controller/backup_finalizer_controller.go PutBackupMetadata). Newest by status.startTimestamp, as Velero itself picks a schedule's latest backup
    (restore_controller.go mostRecentCompletedBackup). A run whose volumes backup is missing or
    incomplete is skipped for an older complete one (said in `notes`). GETs only, with read-only
    keys. DrillRefused when there is none, or the bucket or Vault cannot be read."""
    config, _, _ = _sandbox_config(project, stack_name, "kfplatform-tenants-<time>")
    bucket = prod_bucket(config, endpoint_url=endpoint_url, env=env, context=context)
    now = (clock or time.time)()
    names = bucket.folders(BACKUPS_PREFIX)
    where = f"{bucket.endpoint_url}/{bucket.bucket}/{BACKUPS_PREFIX}"

    def usable(schedule: str) -> list[dict]:
        found = []
        for name in (n for n in names if _SCHEDULED[schedule].fullmatch(n)):
            backup = bucket.json(f"{BACKUPS_PREFIX}{name}/velero-backup.json")
            metadata = backup.get("metadata") if isinstance(backup, dict) else None
            if not isinstance(metadata, dict) or metadata.get("name") != name:
                continue
            if (metadata.get("labels") or {}).get("velero.io/schedule-name") != schedule:
                continue
            try:
                if backup.get("status", {}).get("phase") == "Completed" and not _expired(backup, now):
                    _started(backup)
                    found.append(backup)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue  # no start time, or one that is not a time: not a backup the drill can judge
        return sorted(found, key=_started, reverse=True)

    tenants = usable(velero.TENANTS_SCHEDULE)
    if not tenants:
        raise DrillRefused(
            f"no Completed backup of schedule {velero.TENANTS_SCHEDULE} within its retention in prod's bucket "
            f"({where}): check prod's VeleroBackupFailed/VeleroBackupTooOld alerts (`velero backup get` on prod)"
        )
    restore = config.stack.backup.restore
    selected = set(restore.namespaces or [t.config.name for t in config.tenants])
    opted_in = sorted(t.config.name for t in config.tenants if t.config.backup.notebook_volumes and t.config.name in selected)
    if not opted_in:
        return NewestRun(tenants[0]["metadata"]["name"], None)
    volumes = usable(velero.VOLUMES_SCHEDULE)
    notes: list[str] = []
    for candidate in tenants:
        name = candidate["metadata"]["name"]

        def gap(v: dict) -> float:
            by_name = run_gap_seconds(name, v["metadata"]["name"])
            return by_name if by_name is not None else abs((_started(v) - _started(candidate)).total_seconds())
        same_run = sorted((v for v in volumes if gap(v) <= SAME_RUN_SECONDS), key=gap)
        if same_run:
            return NewestRun(name, same_run[0]["metadata"]["name"], tuple(notes))
        notes.append(
            f"skipped {name}: no Completed {velero.VOLUMES_SCHEDULE} backup within {SAME_RUN_SECONDS // 60} min of it "
            f"({', '.join(opted_in)} would come back without their volumes)"
        )
    raise DrillRefused(
        f"no run with both a Completed {velero.TENANTS_SCHEDULE} backup and a Completed {velero.VOLUMES_SCHEDULE} "
        f"backup within {SAME_RUN_SECONDS // 60} min of it ({', '.join(opted_in)} back up their volumes); "
        f"{'; '.join(notes[:3])}"
    )


def _wait(opts: DrillOptions, probe: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
    deadline = opts.clock() + opts.wait_timeout_s
    while True:
        try:
            done, detail = probe()
        except (ApiError, OSError) as e:
            done, detail = False, str(e)
        if done or opts.clock() >= deadline:
            return done, detail if done else f"timed out: {detail}"
        opts.sleep(opts.poll_s)


def _ready(mariadb: dict) -> tuple[bool, str]:
    conditions = {c.get("type"): c for c in mariadb.get("status", {}).get("conditions", [])}
    ready = conditions.get("Ready", {})
    return ready.get("status") == "True", f"MariaDB Ready={ready.get('status', 'unknown')}: {ready.get('message', '')}"


def _restored(restore: dict) -> tuple[bool | None, str]:
    name = restore.get("metadata", {}).get("name", "?")
    phase = restore.get("status", {}).get("phase", "New")
    if phase == "Completed":
        return True, f"Velero Restore {name} {phase}"
    if phase in ("Failed", "FailedValidation", "PartiallyFailed"):
        # PartiallyFailed lost items (volumes, objects): a failed step, as the stack's own wait (Completed) says.
        status = restore.get("status", {})
        errors = status.get("validationErrors") or status.get("failureReason") or (
            f"{status.get('errors', 0)} errors, {status.get('warnings', 0)} warnings "
            f"(velero restore describe {name} --details)")
        hint = ""
        if phase == "PartiallyFailed":
            # Velero v1.18.1 uploads each Restore's log to the backup's location (restore_controller.go:
            # PutRestoreLog failing adds a Velero-level error; velero#1978). The drill's location is the
            # sandbox's own copy, whose drill-restore account may write velero/restores/*: a failed
            # upload there is a broken account or policy, not a lost object. Say where to look first.
            hint = (" (if one error is Velero failing to upload the restore log, check the sandbox's drill-restore "
                    "account (backup-drill-restore policy, velero/restores/*): "
                    f"`kubectl -n velero logs deploy/velero | grep -e 'error uploading log file' -e {name}`)")
        return None, f"Velero Restore {name} {phase}: {errors}{hint}"
    return False, f"Velero Restore {name} {phase}"


def job_outcome(job: dict) -> tuple[bool | None, str, float | None]:
    """(done, detail, seconds it ran) of a batch/v1 Job: True once `Complete`, None once `Failed`
    (for good: its backoffLimit is spent), False while it runs."""
    name = job.get("metadata", {}).get("name", "?")
    status = job.get("status", {})
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"}
    seconds = None
    if status.get("startTime") and status.get("completionTime"):
        seconds = (_parse_time(status["completionTime"]) - _parse_time(status["startTime"])).total_seconds()
    if "Failed" in conditions:
        failed = conditions["Failed"]
        return None, (f"copy Job {name} Failed: {failed.get('reason', '')} {failed.get('message', '')}".rstrip()
                      + f" (kubectl -n velero logs job/{name})"), None
    if "Complete" in conditions:
        return True, f"copy Job {name} Complete" + (f" in {seconds:.0f}s" if seconds is not None else ""), seconds
    return False, f"copy Job {name} running (active {status.get('active', 0)}, failed {status.get('failed', 0)})", None


# PodVolumeRestore/PodVolumeBackup phases at Velero v1.18.1 (pkg/apis/velero/v1/pod_volume_*_type*.go).
PVR_DONE = {"Completed", "Failed", "Canceled"}


def volumes_came_back(pvrs: list[dict], pvbs: list[dict]) -> tuple[bool, str]:
    """Every volume the backup holds (its Completed PodVolumeBackups) came back: one Completed
    PodVolumeRestore of the drill's Restore each. RestoreStatus has no pod-volume counts at
    v1.18.1, so the objects are read (labels velero.io/restore-name, velero.io/backup-name)."""
    def where(o: dict) -> str:
        pod = o.get("spec", {}).get("pod", {})
        return f"{pod.get('namespace', '?')}/{pod.get('name', '?')}:{o.get('spec', {}).get('volume', '?')}"

    backed_up = [b for b in pvbs if b.get("status", {}).get("phase") == "Completed"]
    done = [r for r in pvrs if r.get("status", {}).get("phase") == "Completed"]
    bad = [r for r in pvrs if r.get("status", {}).get("phase") in PVR_DONE - {"Completed"}]
    running = [r for r in pvrs if r.get("status", {}).get("phase") not in PVR_DONE]
    summary = f"{len(done)}/{len(backed_up)} pod volume restores Completed"
    if bad:
        first = bad[0]
        return False, (f"{summary}; {len(bad)} {first['status']['phase']}: {', '.join(where(r) for r in bad[:5])} "
                       f"({first.get('status', {}).get('message', '')})")
    if running:
        return False, f"{summary}; {len(running)} not finished: {', '.join(where(r) for r in running[:5])}"
    if len(done) < len(backed_up):
        restored = {where(r) for r in done}
        missing = [where(b) for b in backed_up if where(b) not in restored]
        return False, (f"{summary}: volumes backed up but not restored ({', '.join(missing[:5])}); a pod that "
                       "existed before the Restore gets no volume data (Velero restores into pods it creates)")
    return True, summary


def _items(kube: Http, path: str, selector: str) -> list[dict]:
    return kube.get(path, {"labelSelector": selector}).get("items", [])


def run_drill(opts: DrillOptions, connect_db: Callable[..., object]) -> tuple[dict, dict]:
    """Run the drill; return (record, deltas vs the previous drill). DrillRefused before anything is touched."""
    started = opts.clock()
    steps: list[dict] = []

    def step(name: str, fn: Callable[[], tuple[bool, str]]) -> bool:
        t0 = opts.clock()
        ok, detail = fn()
        steps.append({"name": name, "seconds": round(opts.clock() - t0, 1), "ok": bool(ok), "detail": detail})
        return bool(ok)

    pre_t0 = opts.clock()
    pre = preflight(opts)
    steps.append({"name": "preflight", "seconds": round(opts.clock() - pre_t0, 1), "ok": True,
                  "detail": f"{' and '.join(sorted({r.backup for r in pre.restores} | {opts.backup}))} Completed; "
                            f"kubeconfig context {pre.target.context} is the sandbox"})
    kube = pre.kube
    mariadb_path = f"/apis/k8s.mariadb.com/v1alpha1/namespaces/{pre.database_namespace}/mariadbs/galera"
    velero_base = f"/apis/velero.io/v1/namespaces/{pre.velero_namespace}"
    created: list[float] = []

    def data_tier() -> tuple[bool, str]:
        def probe():
            obj = kube.get(mariadb_path)
            created.append(_parse_time(obj["metadata"]["creationTimestamp"]).timestamp())
            return _ready(obj)
        return _wait(opts, probe)

    def restored(planned: velero.DrillRestore) -> Callable[[], tuple[bool, str]]:
        """Wait for one of the stack's Restores; for the volumes one, also its pod volume restores."""
        def run() -> tuple[bool, str]:
            outcome: list[str] = []

            def probe():
                try:
                    obj = kube.get(f"{velero_base}/restores/{planned.name}")
                except ApiError as e:
                    if e.status != 404:
                        raise
                    return False, (f"Velero Restore {planned.name} (of {planned.backup}) does not exist: "
                                   "`pulumi up --stack sandbox` declares it")
                created.append(_parse_time(obj["metadata"]["creationTimestamp"]).timestamp())
                done, detail = _restored(obj)
                if done is None:  # failed for good: stop waiting
                    outcome.append(detail)
                    return True, detail
                if done and planned.role == velero.VOLUMES_RESTORE:
                    ok, volumes = volumes_came_back(
                        _items(kube, f"{velero_base}/podvolumerestores", f"velero.io/restore-name={planned.name}"),
                        _items(kube, f"{velero_base}/podvolumebackups", f"velero.io/backup-name={planned.backup}"),
                    )
                    if not ok:
                        outcome.append(f"{detail}, but {volumes}")
                    return True, f"{detail}; {volumes}"
                return done, detail
            ok, detail = _wait(opts, probe)
            return (False, outcome[0]) if outcome else (ok, detail)
        return run

    jobs_base = f"/apis/batch/v1/namespaces/{pre.velero_namespace}/jobs"
    copy_seconds: list[float] = []

    def copied() -> tuple[bool, str]:
        """The copy Job completed (part of the RTO: the Restores can start only after it)."""
        outcome: list[str] = []

        def probe():
            try:
                job = kube.get(f"{jobs_base}/{pre.copy_job}")
            except ApiError as e:
                if e.status != 404:
                    raise
                return False, f"copy Job {pre.copy_job} does not exist: `pulumi up --stack sandbox` declares it"
            created.append(_parse_time(job["metadata"]["creationTimestamp"]).timestamp())
            done, detail, seconds = job_outcome(job)
            if done is None:  # failed for good
                outcome.append(detail)
                return True, detail
            if done and seconds is not None:
                copy_seconds.append(seconds)
            return done, detail
        ok, detail = _wait(opts, probe)
        return (False, outcome[0]) if outcome else (ok, detail)

    step(COPY_STEP, copied)
    if copy_seconds:  # the Job's own duration, not the drill's wait for it (usually over before the drill)
        steps[-1]["seconds"] = round(copy_seconds[0], 1)
    step("data tier restored", data_tier)
    for planned in pre.restores:
        step(RESTORE_STEPS[planned.role], restored(planned))

    criteria: list[checks.Criterion] = []
    kfp = Http(opts.kfp_url, {"kubeflow-userid": opts.kfp_user} if opts.kfp_user else {})

    def dashboard() -> tuple[bool, str]:
        try:
            status = status_of(pre.dashboard_url, context=opts.dashboard_tls)
            result = checks.dashboard(status, pre.dashboard_url)
        except OSError as e:
            result = checks.dashboard(None, pre.dashboard_url, str(e))
        criteria.append(result)
        return result.passed, result.detail

    def history() -> tuple[bool, str]:
        try:
            connection = connect_db(
                host=opts.db_host, port=opts.db_port, user=opts.db_user, password=opts.db_password or "",
                database="mlpipeline", connect_timeout=10,
            )
            try:
                rows, newest = checks.recent_runs_in_db(connection, pre.since, pre.until)
            finally:
                connection.close()
            api_ids: set[str] = set()
            for namespace in sorted({r["namespace"] for r in rows}):
                token = ""
                for _ in range(20):
                    page = kfp.get("/apis/v2beta1/runs", {
                        "namespace": namespace, "page_size": 100, "sort_by": "created_at desc",
                        **({"page_token": token} if token else {}),
                    })
                    api_ids |= {r["run_id"] for r in page.get("runs", [])}
                    token = page.get("next_page_token", "")
                    if not token:
                        break
            result = checks.run_history(rows, newest, api_ids, pre.since, pre.until)
        except Exception as e:  # noqa: BLE001 - any failure to look is a failed criterion, recorded
            result = checks.Criterion("run_history", False, f"could not check: {type(e).__name__}: {e}")
        criteria.append(result)
        return result.passed, result.detail

    def new_run() -> tuple[bool, str]:
        t0 = opts.clock()
        run_id, state, error = None, None, ""
        try:
            experiments = kfp.get("/apis/v2beta1/experiments", {"namespace": opts.kfp_namespace, "page_size": 100})
            experiment = next((e for e in experiments.get("experiments", []) if e.get("display_name") == EXPERIMENT), None)
            if experiment is None:
                experiment = kfp.post("/apis/v2beta1/experiments", {"display_name": EXPERIMENT, "namespace": opts.kfp_namespace})
            run = kfp.post("/apis/v2beta1/runs", {
                "display_name": f"restore-drill-{opts.backup}"[:100],
                "experiment_id": experiment["experiment_id"],
                "pipeline_spec": yaml.safe_load(PROBE_PIPELINE.read_text()),
                "runtime_config": {"parameters": {}},
            })
            run_id = run["run_id"]
            deadline = opts.clock() + opts.run_timeout_s
            while True:
                state = kfp.get(f"/apis/v2beta1/runs/{run_id}").get("state")
                if state in TERMINAL or opts.clock() >= deadline:
                    break
                opts.sleep(opts.poll_s)
            if state not in TERMINAL:
                error = f"not finished after {opts.run_timeout_s:.0f}s"
        except (ApiError, OSError, KeyError) as e:
            error = str(e)
        result = checks.new_run(state, run_id, opts.clock() - t0, error)
        criteria.append(result)
        return result.passed, result.detail

    step("criterion: dashboard answers", dashboard)
    step("criterion: run history visible", history)
    step("criterion: new run succeeds", new_run)

    finished = opts.clock()
    # A drill passes when the restore itself worked and every criterion holds.
    passed = all(c.passed for c in criteria) and all(s["ok"] for s in steps)
    restore_began = min(created) if created else started
    record = {
        "startedAt": datetime.fromtimestamp(started, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "finishedAt": datetime.fromtimestamp(finished, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "stack": opts.stack,
        "backup": opts.backup,
        "volumesBackup": next((r.backup for r in pre.restores if r.role == velero.VOLUMES_RESTORE), None),
        "restores": [{"name": r.name, "backup": r.backup, "namespaces": list(r.namespaces)} for r in pre.restores],
        "pointInTime": opts.point_in_time.isoformat() if opts.point_in_time else None,
        "cluster": pre.target.server,
        "restoreBeganAt": datetime.fromtimestamp(restore_began, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "steps": steps,
        "criteria": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in criteria],
        "rtoSeconds": round(finished - restore_began, 1) if passed else None,
        "passed": passed,
    }
    delta = log.append(opts.log_dir or opts.project / "drills", record)
    return record, delta


def report(record: dict, delta: dict) -> str:
    lines = [f"restore drill of backup {record['backup']} on {record['cluster']}: {'PASS' if record['passed'] else 'FAIL'}"]
    for c in record["criteria"]:
        lines.append(f"  [{'pass' if c['passed'] else 'FAIL'}] {c['name']}: {c['detail']}")
    for s in record["steps"]:
        change = delta.get(s["name"])
        lines.append(f"  step {s['name']}: {s['seconds']:.0f}s" + (f" ({change:+.0f}s vs previous)" if change is not None else ""))
    if record["rtoSeconds"] is not None:
        rto = f"  RTO {record['rtoSeconds'] / 60:.1f} min (restore began {record['restoreBeganAt']})"
        if "rto" in delta:
            rto += f", {delta['rto'] / 60:+.1f} min vs previous drill"
        lines.append(rto)
    else:
        lines.append("  RTO not met: a step or a criterion failed (docs/restore-drill.md, 'When a criterion fails')")
    return "\n".join(lines)


def db_password_from_env() -> str | None:
    return os.environ.get("DRILL_DB_PASSWORD")


