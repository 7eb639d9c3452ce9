"""The restore drill: refuse bad input before anything is touched, then wait for the restore, check
the three criteria, measure the RTO, and log the result next to the previous drill's.

Steps (each timed): preflight (read-only), data tier restored (the `MariaDB` bootstrapped from prod's
physical backup is Ready), namespaces restored (the Velero `Restore` completed), then the criteria.
RTO: from the moment the restore began (the earlier of the `MariaDB`'s and the `Restore`'s creation)
to the moment the last criterion passed.
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
from ..config import WRITE_PATHS, duration_seconds
from . import checks, log
from .clients import ApiError, DrillRefused, Http, KubeTarget, kube_client, read_kubeconfig, status_of

PROBE_PIPELINE = pathlib.Path(__file__).with_name("probe_pipeline.yaml")
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


def preflight(opts: DrillOptions) -> Preflight:
    """Every refusal (DrillRefused) happens here, before anything is created or changed."""
    if opts.stack == "prod":
        raise DrillRefused("the drill restores into the sandbox; it never runs against prod (--stack sandbox)")
    try:
        raw, _ = read_stack_config(opts.project, opts.stack)
        config = load_platform_config(opts.stack, raw, opts.project)
        prod_raw, _ = read_stack_config(opts.project, "prod")
    except ConfigError as e:
        raise DrillRefused(str(e)) from None
    stack = config.stack
    stack_file = f"Pulumi.{opts.stack}.yaml"
    if stack.is_prod:
        raise DrillRefused(f"{stack_file}: environment is prod; the drill runs against the sandbox only")
    restore = stack.backup.restore
    if restore is None:
        raise DrillRefused(
            f"{stack_file}: kubeflow-platform:backup.restore is not set, so the sandbox starts empty; set "
            f"backup.restore.backup: {opts.backup} and run `pulumi up --stack {opts.stack}` first"
        )
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
    if restore.credentials_path in WRITE_PATHS:  # the model refuses it too; never rely on one check
        raise DrillRefused(f"{stack_file}: backup.restore.credentialsPath names prod's write credentials")

    # The kubeconfig must point at the sandbox, never at prod: checked before any request is sent.
    target, cluster, user = read_kubeconfig(opts.kubeconfig, opts.context)
    prod_context = prod_raw.get("kubernetes:context")
    prod_host = json.loads(prod_raw["kubeflow-platform:secrets"])["vault"]["kubernetes"]["host"]
    sandbox_host = stack.secrets.vault.kubernetes.host
    if target.context == prod_context or _host(target.server) == _host(prod_host):
        raise DrillRefused(
            f"kubeconfig {opts.kubeconfig}: context {target.context!r} (server {target.server}) is prod's "
            f"(Pulumi.prod.yaml: kubernetes:context {prod_context}, API server {prod_host}); the drill never touches prod"
        )
    if _host(target.server) != _host(sandbox_host):
        raise DrillRefused(
            f"kubeconfig {opts.kubeconfig}: context {target.context!r} points at {target.server}, not the sandbox's "
            f"API server {sandbox_host} ({stack_file}: secrets.vault.kubernetes.host)"
        )
    kube = kube_client(cluster, user, target.server)
    ns = stack.cluster.namespaces
    base = f"/apis/velero.io/v1/namespaces/{ns.backup}/backups"
    try:
        backup = kube.get(f"{base}/{opts.backup}")
    except OSError as e:
        raise DrillRefused(f"cannot reach the sandbox's API server {target.server}: {e}") from None
    except ApiError as e:
        if e.status != 404:
            raise DrillRefused(f"cannot read Velero backups in the sandbox: {e}") from None
        try:
            known = sorted((b["metadata"]["name"] for b in kube.get(base).get("items", [])), reverse=True)[:5]
        except (ApiError, OSError):
            known = []
        raise DrillRefused(
            f"unknown backup {opts.backup!r}: the sandbox's Velero does not list it (synced from prod's backups "
            f"bucket; newest names: {', '.join(known) or 'none'})"
        ) from None
    status = backup.get("status", {})
    now = opts.clock()
    if status.get("phase") != "Completed":
        raise DrillRefused(f"backup {opts.backup!r} is {status.get('phase')!r}, not Completed: drill a complete backup")
    expiration = status.get("expiration")
    ttl = backup.get("spec", {}).get("ttl")
    started = _parse_time(status.get("startTimestamp") or backup["metadata"]["creationTimestamp"])
    expired = expiration and _parse_time(expiration).timestamp() <= now
    if not expired and ttl:
        expired = started.timestamp() + duration_seconds(ttl) <= now
    if expired:
        raise DrillRefused(
            f"backup {opts.backup!r} is older than its retention (ttl {ttl}, expired {expiration}): "
            "Velero is deleting it; drill a newer one"
        )
    point = restore.point_in_time
    since = int((point or started).timestamp()) - opts.tolerance_s
    until = int(point.timestamp()) if point else int(now)
    return Preflight(
        target, kube, ns.backup, ns.database, since, until,
        opts.dashboard_url or f"https://{stack.cluster.domain}/", backup,
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
    phase = restore.get("status", {}).get("phase", "New")
    if phase == "Completed":
        return True, f"Velero Restore {phase}"
    if phase in ("Failed", "FailedValidation", "PartiallyFailed"):
        # PartiallyFailed lost items (volumes, objects): a failed step, as the stack's own wait (Completed) says.
        status = restore.get("status", {})
        errors = status.get("validationErrors") or status.get("failureReason") or (
            f"{status.get('errors', '?')} errors, {status.get('warnings', '?')} warnings (velero restore describe)")
        return None, f"Velero Restore {phase}: {errors}"
    return False, f"Velero Restore {phase}"


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
                  "detail": f"backup {opts.backup} Completed; kubeconfig context {pre.target.context} is the sandbox"})
    kube = pre.kube
    mariadb_path = f"/apis/k8s.mariadb.com/v1alpha1/namespaces/{pre.database_namespace}/mariadbs/galera"
    restore_path = f"/apis/velero.io/v1/namespaces/{pre.velero_namespace}/restores/{velero.restore_name(opts.backup)}"
    created: list[float] = []

    def data_tier() -> tuple[bool, str]:
        def probe():
            obj = kube.get(mariadb_path)
            created.append(_parse_time(obj["metadata"]["creationTimestamp"]).timestamp())
            return _ready(obj)
        return _wait(opts, probe)

    def namespaces() -> tuple[bool, str]:
        outcome: list[str] = []

        def probe():
            obj = kube.get(restore_path)
            created.append(_parse_time(obj["metadata"]["creationTimestamp"]).timestamp())
            done, detail = _restored(obj)
            if done is None:  # failed for good: stop waiting
                outcome.append(detail)
                return True, detail
            return done, detail
        ok, detail = _wait(opts, probe)
        return (False, outcome[0]) if outcome else (ok, detail)

    step("data tier restored", data_tier)
    step("namespaces restored", namespaces)

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


