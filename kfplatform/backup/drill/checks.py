"""The three success criteria of a restore, as pure logic over what the clients return.

(1) the Kubeflow dashboard answers through the gateway; (2) recent run history is visible: runs
newer than the restore point minus a tolerance exist in the restored KFP database and through the
KFP API, and none is newer than the restore point (a database restored past it is not the backup
being drilled); (3) a new pipeline run succeeds against the restored database.
KFP's table and columns are those of KFP 2.15.0's GORM model (backend/src/apiserver/model/run.go:
table `run_details`, `UUID`, `DisplayName`, `Namespace`, `CreatedAtInSec`, `StorageState`, `State`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

# A run may be created while the backup runs: allow this much after the restore point.
SLACK_SECONDS = 300


@dataclass
class Criterion:
    name: str
    passed: bool
    detail: str
    data: dict = field(default_factory=dict)


def dashboard(status: int | None, url: str, error: str = "") -> Criterion:
    """The gateway answers: the dashboard itself (200) or the login it redirects to (30x, or 401)."""
    ok = status is not None and (200 <= status < 400 or status == 401)
    detail = f"GET {url} -> {status}" if status is not None else f"GET {url} failed: {error}"
    return Criterion("dashboard", ok, detail, {"status": status})


def recent_runs_in_db(connection, since: int, until: int) -> tuple[list[dict], int | None]:
    """Runs created in [since, until + slack], newest first, and the newest CreatedAtInSec overall."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT UUID, DisplayName, Namespace, CreatedAtInSec FROM run_details "
            "WHERE CreatedAtInSec >= %s AND CreatedAtInSec <= %s ORDER BY CreatedAtInSec DESC",
            (since, until + SLACK_SECONDS),
        )
        rows = [dict(zip(("uuid", "display_name", "namespace", "created_at"), r)) for r in cursor.fetchall()]
        cursor.execute("SELECT MAX(CreatedAtInSec) FROM run_details")
        newest = cursor.fetchone()[0]
    return rows, (int(newest) if newest is not None else None)


def run_history(db_rows: list[dict], db_newest: int | None, api_run_ids: set[str], since: int, until: int) -> Criterion:
    """Runs created in [since, until] are in the restored database and listed by the KFP API, and
    no run is newer than `until` (plus SLACK_SECONDS)."""
    data = {"since": _iso(since), "until": _iso(until), "dbRuns": len(db_rows), "dbNewest": db_newest}
    if db_newest is not None and db_newest > until + SLACK_SECONDS:
        return Criterion("run_history", False, (
            f"the restored database has a run created at {_iso(db_newest)}, after the restore point "
            f"{_iso(until)}: it was not restored to that point"), data)
    if not db_rows:
        newest = _iso(db_newest) if db_newest else "none at all"
        return Criterion("run_history", False, (
            f"no run in the restored database between {_iso(since)} and {_iso(until)} (newest run: {newest})"), data)
    missing = [r["uuid"] for r in db_rows if r["uuid"] not in api_run_ids]
    data["apiMissing"] = missing
    if missing:
        return Criterion("run_history", False, (
            f"{len(db_rows)} recent runs in the database, but the KFP API does not list {len(missing)} of them "
            f"(e.g. {missing[0]})"), data)
    newest = db_rows[0]
    return Criterion("run_history", True, (
        f"{len(db_rows)} runs since {_iso(since)} in the database and via the KFP API; newest "
        f"{newest['display_name']!r} ({newest['namespace']}) at {_iso(newest['created_at'])}"), data)


def new_run(state: str | None, run_id: str | None, seconds: float, error: str = "") -> Criterion:
    ok = state == "SUCCEEDED"
    detail = f"run {run_id} ended {state} after {seconds:.0f}s" if run_id else f"could not create the run: {error}"
    if error and run_id:
        detail += f" ({error})"
    return Criterion("new_run", ok, detail, {"runId": run_id, "state": state})


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
