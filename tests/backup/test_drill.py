"""The restore drill: refusals before anything is touched, the criteria against a real MariaDB loaded
with KFP 2.15.0's schema, and a whole drill against fakes of the Kubernetes and KFP APIs."""
from __future__ import annotations

import json
import subprocess
import time
import types
from datetime import datetime, timedelta, timezone

import pymysql  # requirements.txt: the drill talks to MariaDB through it
import pytest
import yaml

from kfplatform import cli
from kfplatform.backup import drill_copy, velero
from kfplatform.backup.drill import checks
from kfplatform.backup.drill import run as drill_run
from kfplatform.backup.drill.clients import DrillRefused
from kfplatform.backup.drill.run import PROBE_PIPELINE, DrillOptions, newest_backups, report, run_drill
from tests.conftest import PROJECT_DIR, copy_project
from tests.tools import require_kfp_python

from .fakes import FakeApis, MariaDbServer
from .kfp_schema import DDL, insert_run


BACKUP = "kfplatform-tenants-20261201013012"
VOLUMES = "kfplatform-tenant-volumes-20261201013013"  # Pulumi.sandbox.yaml: team-vision opts in
VELERO = "/apis/velero.io/v1/namespaces/velero"
POINT = datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc)
P = int(POINT.timestamp())
# Sample history: the newest run 30 minutes before the restore point.
RUNS = [("a" * 32, "team-nlp", P - 3 * 86400), ("b" * 32, "team-vision", P - 20 * 3600), ("c" * 32, "team-nlp", P - 1800)]


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    with MariaDbServer(tmp_path_factory.mktemp("mariadb")) as server:
        connection = pymysql.connect(host="127.0.0.1", port=server.port, user="kfp", password="x", autocommit=True)
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE mlpipeline CHARACTER SET utf8mb4")
            cursor.execute("USE mlpipeline")
            for statement in DDL:
                cursor.execute(statement)
            for uuid, namespace, created in RUNS:
                insert_run(cursor, uuid, namespace, "exp-1", created)
        connection.close()
        yield server


def connect(server):
    return pymysql.connect(host="127.0.0.1", port=server.port, user="kfp", password="x", database="mlpipeline")


@pytest.mark.parametrize("point,tolerance,passes,words", [
    (POINT, 26 * 3600, True, "2 runs since"),  # just after the newest run: recent history is there
    (POINT - timedelta(hours=2), 26 * 3600, False, "after the restore point"),  # the DB holds a later run
    (POINT + timedelta(days=3), 26 * 3600, False, "no run in the restored database"),  # history lost
    (POINT + timedelta(hours=12), 6 * 3600, False, "no run in the restored database"),  # tolerance matters
])
def test_the_history_criterion_on_a_real_mariadb_with_kfps_schema(mariadb, point, tolerance, passes, words):
    until = int(point.timestamp())
    connection = connect(mariadb)
    try:
        rows, newest = checks.recent_runs_in_db(connection, until - tolerance, until)
    finally:
        connection.close()
    assert newest == P - 1800
    api = {r["uuid"] for r in rows}  # the KFP API lists what the database holds
    result = checks.run_history(rows, newest, api, until - tolerance, until)
    assert result.passed is passes and words in result.detail, result.detail
    if passes:
        missing = checks.run_history(rows, newest, api - {"c" * 32}, until - tolerance, until)
        assert not missing.passed and "does not list 1" in missing.detail


def _project(tmp_path, fake_url: str, restore: dict | None = None, volume_teams: bool = True):
    copy_project(tmp_path)
    path = tmp_path / "Pulumi.sandbox.yaml"
    data = yaml.safe_load(path.read_text())
    # The sandbox's API server is the fake (served over plain HTTP here: the drill compares host:port).
    data["config"]["kubeflow-platform:secrets"]["vault"]["kubernetes"]["host"] = fake_url.replace("http://", "https://")
    if restore is not None:
        data["config"]["kubeflow-platform:backup"]["restore"].update(restore)
    if not volume_teams:  # no team backs up its volumes: no volumes backup to name, no volumes Restore
        vision = tmp_path / "tenants" / "team-vision.yaml"
        vision.write_text(vision.read_text().replace("backup: {notebookVolumes: true}", ""))
        data["config"]["kubeflow-platform:backup"]["restore"].pop("volumesBackup")
    path.write_text(yaml.safe_dump(data))
    return tmp_path


def _kubeconfig(tmp_path, server: str, context: str = "ml-sandbox", user: dict | None = None) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": user or {"token": "drill-token"}}],
    }))
    return str(path)


def _sandbox_objects(fake: FakeApis, *, expiration: str = "2026-12-31T01:30:12Z", phase: str = "Completed",
                     ttl: str = "720h0m0s"):
    fake.objects[f"/apis/velero.io/v1/namespaces/velero/backups/{BACKUP}"] = {
        "metadata": {"name": BACKUP, "creationTimestamp": "2026-12-01T01:30:12Z"},
        "spec": {"ttl": ttl},
        "status": {"phase": phase, "startTimestamp": "2026-12-01T01:30:12Z", "expiration": expiration},
    }
    fake.objects["/apis/k8s.mariadb.com/v1alpha1/namespaces/kubeflow-db/mariadbs/galera"] = {
        "metadata": {"name": "galera", "creationTimestamp": "2026-12-01T09:00:00Z"},
        "status": {"conditions": [{"type": "Ready", "status": "True", "message": "Running"}]},
    }
    fake.objects[f"/apis/velero.io/v1/namespaces/velero/restores/drill-{BACKUP}"] = {
        "metadata": {"name": f"drill-{BACKUP}", "creationTimestamp": "2026-12-01T09:00:05Z"},
        "status": {"phase": "Completed"},
    }
    fake.listed_runs = {"team-nlp": ["a" * 32, "c" * 32], "team-vision": ["b" * 32]}
    # The volumes backup of the same run, synced with its PodVolumeBackups, and the drill's second
    # Restore with one PodVolumeRestore per backed-up volume (labels as Velero v1.18.1 sets them).
    fake.objects[f"{VELERO}/backups/{VOLUMES}"] = {
        "metadata": {"name": VOLUMES, "creationTimestamp": "2026-12-01T01:30:13Z",
                     "labels": {"velero.io/schedule-name": "kfplatform-tenant-volumes"}},
        "spec": {"ttl": ttl},
        "status": {"phase": "Completed", "startTimestamp": "2026-12-01T01:30:13Z", "expiration": expiration},
    }
    fake.objects[f"{VELERO}/restores/drill-{VOLUMES}"] = {
        "metadata": {"name": f"drill-{VOLUMES}", "creationTimestamp": "2026-12-01T08:59:58Z"},
        "status": {"phase": "Completed"},
    }
    for pod, volume in (("nb-maria-0", "home"), ("nb-li-0", "home")):
        spec = {"pod": {"namespace": "team-vision", "name": pod}, "volume": volume}
        fake.objects[f"{VELERO}/podvolumebackups/{VOLUMES}-{pod}"] = {
            "metadata": {"name": f"{VOLUMES}-{pod}", "labels": {"velero.io/backup-name": VOLUMES}},
            "spec": spec, "status": {"phase": "Completed"},
        }
        fake.objects[f"{VELERO}/podvolumerestores/drill-{VOLUMES}-{pod}"] = {
            "metadata": {"name": f"drill-{VOLUMES}-{pod}", "labels": {"velero.io/restore-name": f"drill-{VOLUMES}"}},
            "spec": spec, "status": {"phase": "Completed"},
        }
    # The copy Job the stack declares (named after what it copies: with or without team-vision's
    # volumes), Complete after 15 minutes, created before everything else of the restore.
    for name in _copy_jobs():
        fake.objects[f"/apis/batch/v1/namespaces/velero/jobs/{name}"] = {
            "metadata": {"name": name, "creationTimestamp": "2026-12-01T08:40:00Z"},
            "status": {"startTime": "2026-12-01T08:40:02Z", "completionTime": "2026-12-01T08:55:02Z", "succeeded": 1,
                       "conditions": [{"type": "Complete", "status": "True"}]},
        }
    # Another restore's PodVolumeRestore: not this drill's (the label selects).
    fake.objects[f"{VELERO}/podvolumerestores/other-1"] = {
        "metadata": {"name": "other-1", "labels": {"velero.io/restore-name": "other"}},
        "spec": {"pod": {"namespace": "team-vision", "name": "x"}, "volume": "v"}, "status": {"phase": "Failed"},
    }


def _copy_jobs() -> list[str]:
    """The copy Job's name for the sandbox stack's restore, with team-vision opted in and without."""
    names = []
    for volumes, teams in ((VOLUMES, ["team-vision"]), (None, [])):
        restores = velero.drill_restores(backup=BACKUP, volumes_backup=volumes, volume_teams=teams,
                                         namespaces=["team-forecasting", "team-nlp", "team-vision"])
        names.append(drill_copy.copy_plan(source_endpoint="minio-admin.ml.example.com:443", source_bucket="kfp-backups",
                                          target_url="", target_bucket="", restores=restores).job_name)
    return names


def _drill_clock():
    """The drill's clock, running from 2026-12-01T10:00Z (the morning after the backups above), so
    their retention never depends on the day the suite runs."""
    offset = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc).timestamp() - time.time()
    return lambda: time.time() + offset


def _options(project, kubeconfig, fake, mariadb, tmp_path, **kw) -> DrillOptions:
    kw.setdefault("clock", _drill_clock())
    return DrillOptions(
        project=project, stack="sandbox", backup=BACKUP, kubeconfig=kubeconfig, kfp_url=fake.url,
        kfp_namespace="team-nlp", kfp_user="oncall-ml@example.com", db_port=mariadb.port if mariadb else 1,
        db_password="x", dashboard_url=fake.url + "/", wait_timeout_s=2, run_timeout_s=5, poll_s=0.01,
        log_dir=tmp_path / "drills", sleep=lambda s: None, **kw,
    )


def test_a_drill_checks_the_criteria_logs_the_rto_and_compares_with_the_previous_drill(tmp_path, mariadb):
    with FakeApis() as fake:
        _sandbox_objects(fake)
        (tmp_path / "p").mkdir()
        project = _project(tmp_path / "p", fake.url)
        opts = _options(project, _kubeconfig(tmp_path, fake.url), fake, mariadb, tmp_path)
        # A previous drill in the log, slower in every step.
        log_dir = tmp_path / "drills"
        log_dir.mkdir()
        (log_dir / "drill-log.json").write_text(json.dumps({"drills": [{
            "startedAt": "2026-09-01T09:00:00Z", "rtoSeconds": 99999.0,
            "steps": [{"name": "namespaces restored", "seconds": 1800.0, "ok": True, "detail": ""}],
        }]}))
        record, delta = run_drill(opts, pymysql.connect)
        assert record["passed"], record["criteria"]
        assert [c["name"] for c in record["criteria"]] == ["dashboard", "run_history", "new_run"]
        assert [s["name"] for s in record["steps"]][:5] == [
            "preflight", "backups copied into the sandbox", "data tier restored", "namespaces restored",
            "opted-in namespaces and volumes restored"]
        volumes_step = record["steps"][4]
        assert volumes_step["ok"] and "2/2 pod volume restores Completed" in volumes_step["detail"]
        # The copy step is the copy Job's own duration (15 min), not the drill's wait for it.
        copy_step = record["steps"][1]
        assert copy_step["ok"] and copy_step["seconds"] == 900.0 and "Complete in 900s" in copy_step["detail"]
        # RTO from the moment the restore began (the earliest creation: the copy Job's, before the
        # Restores could start) to the last criterion: it covers the copy and both Restores.
        assert record["restoreBeganAt"] == "2026-12-01T08:40:00Z" and record["rtoSeconds"] > 0
        assert record["volumesBackup"] == VOLUMES
        assert [(r["backup"], r["namespaces"]) for r in record["restores"]] == [
            (BACKUP, ["team-forecasting", "team-nlp"]), (VOLUMES, ["team-vision"])]
        assert delta["namespaces restored"] < -1700 and delta["rto"] < 0 and delta["preflight"] is None
        # The probe pipeline was submitted as compiled, in the drill's experiment in the team's namespace.
        submitted = fake.created_runs[0]
        assert submitted["pipeline_spec"]["pipelineInfo"]["name"] == "restore-drill-probe"
        assert fake.experiments == [{"display_name": "restore-drill", "namespace": "team-nlp", "experiment_id": "exp-0"}]
        # Nothing was written to the cluster itself: the drill only reads it (the stack made the Restore).
        assert not [w for w in fake.writes() if not w[1].startswith("/apis/v2beta1/")]
        logged = json.loads((log_dir / "drill-log.json").read_text())["drills"]
        assert len(logged) == 2 and logged[-1]["backup"] == BACKUP and logged[-1]["deltaSeconds"] == delta
        markdown = (log_dir / "drill-log.md").read_text()
        assert f"backup `{BACKUP}`: PASS" in markdown and "| namespaces restored |" in markdown
        text = report(record, delta)
        assert "PASS" in text and "RTO" in text and "[pass] new_run" in text


def test_a_failed_new_run_fails_the_drill_and_the_cli_exits_1(tmp_path, mariadb, monkeypatch):
    with FakeApis() as fake:
        # The CLI runs on the real clock: backups kept long enough for any day the suite runs.
        _sandbox_objects(fake, expiration="2099-01-01T00:00:00Z", ttl="876000h0m0s")
        fake.run_outcome = "FAILED"
        fake.polls_before_done = 0  # the CLI polls every 10 s: answer at once
        (tmp_path / "p").mkdir()
        project = _project(tmp_path / "p", fake.url)
        monkeypatch.setenv("DRILL_DB_PASSWORD", "x")
        code = cli.main([
            "--project", str(project), "drill", "--stack", "sandbox", "--backup", BACKUP,
            "--kubeconfig", _kubeconfig(tmp_path, fake.url), "--kfp-url", fake.url, "--kfp-namespace", "team-nlp",
            "--db-port", str(mariadb.port), "--dashboard-url", fake.url + "/", "--log-dir", str(tmp_path / "drills"),
        ])
        assert code == 1
        record = json.loads((tmp_path / "drills" / "drill-log.json").read_text())["drills"][-1]
        assert record["passed"] is False and record["rtoSeconds"] is None
        assert [c["passed"] for c in record["criteria"]] == [True, True, False]


def test_the_kubernetes_api_is_called_with_the_kubeconfigs_credentials_plugin_token(tmp_path):
    from kfplatform.backup.drill.clients import kube_client, read_kubeconfig

    plugin = {"command": "python3", "args": ["-c", 'print(\'{"status": {"token": "from-plugin"}}\')']}
    with FakeApis() as fake:
        _sandbox_objects(fake)
        _, cluster, user = read_kubeconfig(_kubeconfig(tmp_path, fake.url, user={"exec": plugin}), None)
        client = kube_client(cluster, user, fake.url)
        assert client.headers["Authorization"] == "Bearer from-plugin"
        assert client.get(f"/apis/velero.io/v1/namespaces/velero/backups/{BACKUP}")["status"]["phase"] == "Completed"
    with pytest.raises(DrillRefused, match="gave no token"):
        kube_client(cluster, {"exec": {"command": "false"}}, fake.url)


@pytest.mark.parametrize("status, shown", [
    ({"phase": "FailedValidation", "validationErrors": ["backup not found"]}, ["FailedValidation", "backup not found"]),
    # Items or volumes lost: not a restore the drill may count (the stack's own wait asks for Completed).
    ({"phase": "PartiallyFailed", "errors": 3, "warnings": 1}, ["PartiallyFailed", "3 errors"]),
])
def test_a_failed_velero_restore_fails_the_drill_even_if_the_criteria_hold(tmp_path, mariadb, status, shown):
    with FakeApis() as fake:
        _sandbox_objects(fake)
        restore = fake.objects[f"/apis/velero.io/v1/namespaces/velero/restores/drill-{BACKUP}"]
        restore["status"] = status
        (tmp_path / "p").mkdir()
        opts = _options(_project(tmp_path / "p", fake.url), _kubeconfig(tmp_path, fake.url), fake, mariadb, tmp_path)
        record, _ = run_drill(opts, pymysql.connect)
    step = next(s for s in record["steps"] if s["name"] == "namespaces restored")
    assert not step["ok"] and all(text in step["detail"] for text in shown), step["detail"]
    assert all(c["passed"] for c in record["criteria"])
    assert record["passed"] is False and record["rtoSeconds"] is None


def _pvr(fake, pod):
    return fake.objects[f"{VELERO}/podvolumerestores/drill-{VOLUMES}-{pod}"]


# The two Restores of a drill (tenants backup: every team but the opted-in ones; volumes backup: the
# opted-in teams whole, with their volumes), each a timed step judged on its own.
# (change to the fake, project has an opted-in team, {step: (ok, words in its detail)})
RESTORE_OUTCOMES = {
    "both completed": (None, True, {
        "namespaces restored": (True, f"drill-{BACKUP} Completed"),
        "opted-in namespaces and volumes restored": (True, "2/2 pod volume restores Completed")}),
    "tenants restore partially failed": (
        lambda f: f.objects[f"{VELERO}/restores/drill-{BACKUP}"].update(status={"phase": "PartiallyFailed", "errors": 2, "warnings": 7}),
        True, {"namespaces restored": (False, f"drill-{BACKUP} PartiallyFailed: 2 errors, 7 warnings"),
               "opted-in namespaces and volumes restored": (True, "2/2")}),
    "volumes restore partially failed": (
        lambda f: f.objects[f"{VELERO}/restores/drill-{VOLUMES}"].update(status={"phase": "PartiallyFailed", "errors": 1}),
        True, {"namespaces restored": (True, "Completed"),
               "opted-in namespaces and volumes restored": (False, f"drill-{VOLUMES} PartiallyFailed: 1 errors, 0 warnings")}),
    "volumes restore never created": (
        lambda f: f.objects.pop(f"{VELERO}/restores/drill-{VOLUMES}"),
        True, {"namespaces restored": (True, "Completed"),
               "opted-in namespaces and volumes restored": (False, f"timed out: Velero Restore drill-{VOLUMES} (of {VOLUMES}) does not exist")}),
    "a pod volume restore failed": (
        lambda f: _pvr(f, "nb-li-0").update(status={"phase": "Failed", "message": "kopia: snapshot not found"}),
        True, {"opted-in namespaces and volumes restored": (False, "1 Failed: team-vision/nb-li-0:home (kopia: snapshot not found)")}),
    "a volume did not come back": (  # e.g. the pod existed before the Restore: Velero skips its volumes
        lambda f: f.objects.pop(f"{VELERO}/podvolumerestores/drill-{VOLUMES}-nb-maria-0"),
        True, {"opted-in namespaces and volumes restored": (False, "1/2 pod volume restores Completed: volumes backed up but not restored (team-vision/nb-maria-0:home)")}),
    "no opted-in team": (None, False, {"namespaces restored": (True, f"drill-{BACKUP} Completed")}),
    # The copy Job (the Restores read only what it staged): failed, or never made.
    "the copy job failed": (
        lambda f: f.objects[f"/apis/batch/v1/namespaces/velero/jobs/{_copy_jobs()[0]}"].update(status={
            "failed": 3, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                         "message": "Job has reached the specified backoff limit"}]}),
        True, {"backups copied into the sandbox": (False, f"copy Job {_copy_jobs()[0]} Failed: BackoffLimitExceeded"),
               "namespaces restored": (True, "Completed")}),
    "the copy job was never made": (
        lambda f: f.objects.pop(f"/apis/batch/v1/namespaces/velero/jobs/{_copy_jobs()[0]}"),
        True, {"backups copied into the sandbox": (False, f"timed out: copy Job {_copy_jobs()[0]} does not exist")}),
}


@pytest.mark.parametrize("case", list(RESTORE_OUTCOMES))
def test_the_drill_waits_for_and_judges_each_restore_as_its_own_step(tmp_path, mariadb, case):
    change, volume_teams, expected = RESTORE_OUTCOMES[case]
    with FakeApis() as fake:
        _sandbox_objects(fake)
        if change:
            change(fake)
        (tmp_path / "p").mkdir()
        project = _project(tmp_path / "p", fake.url, volume_teams=volume_teams)
        opts = _options(project, _kubeconfig(tmp_path, fake.url), fake, mariadb, tmp_path)
        opts.wait_timeout_s = 0.3
        record, _ = run_drill(opts, pymysql.connect)
        volumes_read = [r for r in fake.requests if VOLUMES in r[1]]
    steps = {s["name"]: s for s in record["steps"]}
    for name, (ok, words) in expected.items():
        assert steps[name]["ok"] is ok and words in steps[name]["detail"], steps[name]
    all_ok = all(ok for ok, _ in expected.values())
    assert record["passed"] is all_ok and (record["rtoSeconds"] is None) is (not all_ok)
    assert all(c["passed"] for c in record["criteria"])  # the criteria alone do not pass a drill
    if not volume_teams:  # nothing opted in: no volumes Restore expected, none waited for or read
        assert "opted-in namespaces and volumes restored" not in steps and record["volumesBackup"] is None
        assert volumes_read == []
        assert record["restores"] == [{"name": f"drill-{BACKUP}", "backup": BACKUP,
                                       "namespaces": ["team-forecasting", "team-nlp", "team-vision"]}]


REFUSALS = {
    "unknown backup": (
        dict(backup="kfplatform-tenants-20250101000000", restore={
            "backup": "kfplatform-tenants-20250101000000", "volumesBackup": "kfplatform-tenant-volumes-20250101000001"}), {},
        "unknown backup 'kfplatform-tenants-20250101000000': the sandbox's Velero does not list it",
    ),
    "expired backup": ({}, dict(expiration="2026-11-01T00:00:00Z"), "older than its retention"),
    "incomplete backup": ({}, dict(phase="PartiallyFailed"), "not Completed"),
    "prod context": (dict(context="ml-prod"), {}, "is prod's"),
    "prod server": (dict(server="https://api.ml-prod.example.com:6443"), {}, "is prod's"),
    "another cluster": (dict(server="https://api.other.example.com:6443"), {}, "not the sandbox's API server"),
    "prod write credentials": (dict(restore={"credentialsPath": "platform/backup/velero"}), {}, "can write prod"),
    "prod stack": (dict(stack="prod"), {}, "never runs against prod"),
    "other backup than the stack's": (
        dict(restore={"backup": "kfplatform-tenants-20261130013000", "volumesBackup": "kfplatform-tenant-volumes-20261130013001"}),
        {}, "not 'kfplatform-tenants-2026120"),
    # The volumes backup is checked like the tenants one.
    "unknown volumes backup": (
        dict(objects=lambda f: f.objects.pop(f"{VELERO}/backups/{VOLUMES}")), {},
        f"unknown volumes backup '{VOLUMES}': the sandbox's Velero does not list it"),
    "expired volumes backup": (
        dict(objects=lambda f: f.objects[f"{VELERO}/backups/{VOLUMES}"]["status"].update(expiration="2026-11-30T00:00:00Z")),
        {}, f"volumes backup '{VOLUMES}' is older than its retention"),
    "incomplete volumes backup": (
        dict(objects=lambda f: f.objects[f"{VELERO}/backups/{VOLUMES}"]["status"].update(phase="PartiallyFailed")),
        {}, f"volumes backup '{VOLUMES}' is 'PartiallyFailed', not Completed"),
    "volumes backup of another night": (
        dict(restore={"volumesBackup": "kfplatform-tenant-volumes-20261130013013"}), {}, "taken 23h59m apart"),
    "an opted-in team without a volumes backup": (
        dict(restore={"volumesBackup": ""}), {}, "team-vision back up their volumes"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_bad_input_is_refused_before_anything_is_touched(tmp_path, case):
    change, backup_change, words = REFUSALS[case]
    with FakeApis() as fake:
        _sandbox_objects(fake, **backup_change)
        if "objects" in change:
            change["objects"](fake)
        (tmp_path / "p").mkdir()
        project = _project(tmp_path / "p", fake.url, change.get("restore"))
        kubeconfig = _kubeconfig(tmp_path, change.get("server", fake.url), change.get("context", "ml-sandbox"))
        opts = _options(project, kubeconfig, fake, None, tmp_path)
        opts.backup = change.get("backup", BACKUP)
        opts.stack = change.get("stack", "sandbox")
        with pytest.raises(DrillRefused) as refused:
            run_drill(opts, lambda **kw: pytest.fail("the database must not be contacted"))
        assert words in str(refused.value), str(refused.value)
        assert fake.writes() == []  # nothing created or changed
        if case in ("prod context", "prod server", "another cluster", "prod write credentials", "prod stack",
                    "volumes backup of another night", "an opted-in team without a volumes backup"):
            assert fake.requests == []  # refused before a single request
        assert not (tmp_path / "drills").exists()  # and no drill recorded


def test_an_unreachable_sandbox_is_a_refusal_not_a_traceback(tmp_path):
    from .fakes import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    (tmp_path / "p").mkdir()
    with FakeApis() as fake:
        opts = _options(_project(tmp_path / "p", url), _kubeconfig(tmp_path, url), fake, None, tmp_path)
    with pytest.raises(DrillRefused, match="cannot reach the sandbox's API server"):
        run_drill(opts, lambda **kw: pytest.fail("the database must not be contacted"))


def test_a_refusal_exits_2_with_the_message(tmp_path, capsys):
    with FakeApis() as fake:
        _sandbox_objects(fake)
        (tmp_path / "p").mkdir()
        project = _project(tmp_path / "p", fake.url, {"backup": "no-such-backup"})
        code = cli.main([
            "--project", str(project), "drill", "--stack", "sandbox", "--backup", "no-such-backup",
            "--kubeconfig", _kubeconfig(tmp_path, fake.url), "--kfp-namespace", "team-nlp",
        ])
    assert code == 2 and "drill refused: unknown backup 'no-such-backup'" in capsys.readouterr().err


def test_the_committed_probe_pipeline_is_what_the_pinned_kfp_sdk_compiles(tmp_path):
    python = require_kfp_python()
    source = PROBE_PIPELINE.with_suffix(".py")
    script = (
        "import importlib.util, sys; from kfp import compiler; "
        f"spec = importlib.util.spec_from_file_location('probe', {str(source)!r}); m = importlib.util.module_from_spec(spec); "
        "spec.loader.exec_module(m); compiler.Compiler().compile(m.restore_drill_probe, sys.argv[1])"
    )
    out = tmp_path / "probe.yaml"
    subprocess.run([python, "-c", script, str(out)], check=True, timeout=120, capture_output=True)
    assert yaml.safe_load(out.read_text()) == yaml.safe_load(PROBE_PIPELINE.read_text())
    ir = yaml.safe_load(PROBE_PIPELINE.read_text())
    assert ir["sdkVersion"].startswith("kfp-2.15.")
    assert ir["root"]["dag"]["tasks"]["probe"]["cachingOptions"] == {}  # never served from the restored cache
    assert "@sha256:" in ir["deploymentSpec"]["executors"]["exec-probe"]["container"]["image"]


# The drill's own arguments: refused (exit 2, the argument named, no traceback) before any file or
# cluster is read; each valid neighbour gets past the argument checks (and is then refused for the
# missing kubeconfig, the first thing the drill reads from outside).
ARGUMENTS = [
    # (argument, bad value, words, valid neighbour)
    ("--point-in-time", "yesterday", "is not an ISO 8601 instant", None),
    ("--point-in-time", "2026-13-01T00:00:00Z", "is not an ISO 8601 instant", None),
    ("--point-in-time", "2026-11-30T22:00:00", "give the time zone", None),
    ("--backup", "../kfplatform-tenants-20261201013012", "not a Velero backup name", BACKUP),
    ("--backup", "Kfplatform-Tenants", "not a Velero backup name", BACKUP),
    ("--tolerance-hours", "inf", "--tolerance-hours inf", "26"),
    ("--tolerance-hours", "nan", "--tolerance-hours nan", "0.5"),
    ("--tolerance-hours", "-1", "above 0", "8784"),
    ("--tolerance-hours", "1e300", "at most 8784", "1"),
    ("--db-port", "0", "not a port", "65535"),
    ("--db-port", "70000", "not a port", "1"),
    ("--kfp-namespace", "team nlp", "is not a namespace", "team-nlp"),
]


@pytest.mark.parametrize("argument,bad,words,good", ARGUMENTS, ids=[f"{a}={b}" for a, b, _, _ in ARGUMENTS])
def test_malformed_drill_arguments_exit_2_naming_the_argument(tmp_path, capsys, argument, bad, words, good):
    def run(value):
        args = {"--stack": "sandbox", "--backup": BACKUP, "--kfp-namespace": "team-nlp",
                "--kubeconfig": str(tmp_path / "no-kubeconfig"), argument: value}
        code = cli.main(["--project", str(PROJECT_DIR), "drill", *[x for kv in args.items() for x in kv]])
        return code, capsys.readouterr().err

    code, err = run(bad)
    assert code == 2 and err.startswith("drill refused: ") and words in err and "Traceback" not in err, err
    if good is not None:
        code, err = run(good)
        assert code == 2 and "no-kubeconfig" in err and argument not in err, err
    if argument == "--point-in-time":  # its neighbours: the stack's own restore point, in any zone
        for same in ("2026-12-01T01:30:00Z", "2026-12-01T02:30:00+01:00"):
            code, err = run(same)
            assert code == 2 and "no-kubeconfig" in err and argument not in err, err
