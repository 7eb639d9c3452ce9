"""The restore drill: refuse bad input before anything is touched, then wait for the restore, check
the three criteria, measure the RTO, and log the result next to the previous drill's.

Steps (each timed): preflight (read-only), data tier restored (the `MariaDB` bootstrapped from prod's
physical backup is Ready), namespaces restored (the Velero `Restore` of the tenants backup completed),
opted-in namespaces and volumes restored (the `Restore` of the volumes backup completed and every
volume it holds came back), then the criteria. RTO: from the moment the restore began (the earliest
creation of the `MariaDB` and the Restores) to the moment the last criterion passed.

`newest_backups` (CLI `drill-backups`) finds the newest complete run of prod's tenants and volumes
backups among the Backups the sandbox's Velero synced from prod's bucket (read-only location).
"""
from __future__ import annotations

import json
import os
import pathlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import yaml

from ...config.errors import ConfigError
from ...config.loader import load_platform_config
from ...render.run import read_stack_config
from .. import velero
from ..config import SAME_RUN_SECONDS, WRITE_PATHS, duration_seconds, run_gap_seconds
from . import checks, log
from .clients import ApiError, DrillRefused, Http, KubeTarget, kube_client, read_kubeconfig, status_of

PROBE_PIPELINE = pathlib.Path(__file__).with_name("probe_pipeline.yaml")
# One timed step per Restore the stack declares; the tenants step keeps its name, so drill logs compare.
RESTORE_STEPS = {
    velero.TENANTS_RESTORE: "namespaces restored",
    velero.VOLUMES_RESTORE: "opted-in namespaces and volumes restored",
}
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
            f"unknown {what} {name!r}: the sandbox's Velero does not list it (synced from prod's backups "
            f"bucket; newest names: {', '.join(known) or 'none'})"
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
        opts.dashboard_url or f"https://{stack.cluster.domain}/", backup, restores,
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


def newest_backups(
    project: pathlib.Path, stack_name: str, kubeconfig: str, context: str | None = None,
    clock: Callable[[], float] | None = None,
) -> NewestRun:
    """Prod's newest tenants backup that is Completed and within its retention, and (when a restored
    team opts in to volume backups) the volumes backup of the same run, read-only from the Backups
    the sandbox's Velero synced from prod's bucket through its read-only location (velero.io
    labels schedule-name and storage-location, both kept by Velero v1.18.1's backup sync:
    pkg/controller/backup_sync_controller.go). Newest by status.startTimestamp, as Velero itself picks
    a schedule's latest backup (restore_controller.go mostRecentCompletedBackup). A run whose volumes
    backup is missing or incomplete is skipped for an older complete one (said in `notes`).
    DrillRefused when there is none, or when the sandbox has no Velero to ask."""
    config, stack_file, prod_raw = _sandbox_config(project, stack_name, "kfplatform-tenants-<time>")
    target, kube = _sandbox_client(config, stack_file, prod_raw, kubeconfig, context)
    base = f"/apis/velero.io/v1/namespaces/{config.stack.cluster.namespaces.backup}/backups"
    now = (clock or time.time)()

    def usable(schedule: str) -> list[dict]:
        selector = f"velero.io/schedule-name={schedule},velero.io/storage-location={velero.RESTORE_LOCATION}"
        try:
            items = kube.get(base, {"labelSelector": selector}).get("items", [])
        except OSError as e:
            raise DrillRefused(f"cannot reach the sandbox's API server {target.server}: {e}") from None
        except ApiError as e:
            if e.status == 404:
                raise DrillRefused(
                    f"the sandbox ({target.server}) has no Velero to list prod's backups ({e.status} on {base}): it "
                    f"syncs them only once `pulumi up --stack {stack_name}` has run with backup.restore (location "
                    f"{velero.RESTORE_LOCATION}); bring the first drill up by hand (docs/restore-drill.md)"
                ) from None
            raise DrillRefused(f"cannot read Velero backups in the sandbox: {e}") from None
        done = [b for b in items if b.get("status", {}).get("phase") == "Completed" and not _expired(b, now)]
        return sorted(done, key=_started, reverse=True)

    tenants = usable(velero.TENANTS_SCHEDULE)
    if not tenants:
        raise DrillRefused(
            f"no Completed backup of schedule {velero.TENANTS_SCHEDULE} within its retention among the backups the "
            f"sandbox's Velero synced from prod (location {velero.RESTORE_LOCATION}): check prod's "
            "VeleroBackupFailed/VeleroBackupTooOld alerts and the location's status (`kubectl -n velero get bsl`)"
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
            # Velero v1.18.1 uploads each Restore's log and results to the backup's location
            # (restore_controller.go: PutRestoreLog failing adds a Velero-level error), which the
            # sandbox may only read: velero#1978, velero#6753. Say where to look first.
            hint = (" (one error may be Velero failing to upload the restore log to prod's read-only location: "
                    f"`kubectl -n velero logs deploy/velero | grep -e 'error uploading log file' -e {name}`)")
        return None, f"Velero Restore {name} {phase}: {errors}{hint}"
    return False, f"Velero Restore {name} {phase}"


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


