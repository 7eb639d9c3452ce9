"""What the render declares for backups, as Velero, mariadb-operator and MinIO will read it."""
import importlib.util
import json
import re
import subprocess

import yaml

from kfplatform.alerts import anchor
from kfplatform.backup import velero
from kfplatform.backup.alerts import HEADINGS, RULE_NAME
from kfplatform.render.run import render_stack
from tests.conftest import PROJECT_DIR, SHARED_DIR
from tests.data.helpers import allowed
from tests.tools import require_tool

from .helpers import KEY, project_with

TENANTS = ["team-forecasting", "team-nlp", "team-vision"]


def objects(result, kind):
    return [o for o in result.kubernetes_objects() if o["kind"] == kind]


def schedule(result, name):
    return result.find("Schedule", name, "velero")["spec"]


def test_every_team_is_in_the_tenants_schedule_and_only_opted_in_teams_get_volume_backups(prod):
    tenants = schedule(prod, velero.TENANTS_SCHEDULE)
    assert tenants["template"]["includedNamespaces"] == TENANTS
    assert tenants["template"]["defaultVolumesToFsBackup"] is False and tenants["template"]["ttl"] == "720h"
    volumes = schedule(prod, velero.VOLUMES_SCHEDULE)
    assert volumes["template"]["includedNamespaces"] == ["team-vision"]  # tenants/team-vision.yaml opts in
    assert volumes["template"]["defaultVolumesToFsBackup"] is True
    assert prod.helm_release("velero").inputs["values"]["deployNodeAgent"] is True
    platform = schedule(prod, velero.PLATFORM_SCHEDULE)["template"]
    assert platform["includeClusterResources"] is True and {"kubeflow", "istio-system", "auth"} <= set(platform["includedNamespaces"])
    assert not set(TENANTS) & set(platform["includedNamespaces"])
    # Every backup also goes off-site (prod sets `offsite: true`), and nothing is deleted with its Schedule.
    for name in (velero.PLATFORM_SCHEDULE, velero.TENANTS_SCHEDULE, velero.VOLUMES_SCHEDULE):
        assert schedule(prod, f"{name}-offsite")["template"]["storageLocation"] == "offsite"
        assert schedule(prod, name)["useOwnerReferencesInBackup"] is False


def test_a_new_team_is_backed_up_by_the_next_up_with_no_other_edit_and_openshift_gets_oadp(tmp_path):
    team = yaml.safe_load((PROJECT_DIR / "tenants" / "team-forecasting.yaml").read_text())  # no GPU quota
    team["name"] = "team-speech"

    def openshift(config):
        config[KEY]["distribution"] = "openshift"
        config[KEY]["schedules"]["tenants"]["ttl"] = "1440h"

    result = render_stack(project_with(tmp_path, "prod", openshift, {"team-speech": team}), "prod")
    tenants = schedule(result, velero.TENANTS_SCHEDULE)["template"]
    assert "team-speech" in tenants["includedNamespaces"] and tenants["ttl"] == "1440h"
    # OpenShift: OADP's DataProtectionApplication holds the primary location; no Velero chart.
    assert not [r for r in result.by_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "velero"]
    dpa = result.find("DataProtectionApplication", "kfplatform", "velero")["spec"]
    location = dpa["backupLocations"][0]["velero"]
    assert location["objectStorage"] == {"bucket": "kfp-backups", "prefix": "velero"}
    assert location["credential"] == {"name": velero.CREDENTIALS_SECRET, "key": "cloud"}
    assert "aws" in dpa["configuration"]["velero"]["defaultPlugins"]
    validate = _validator()
    for obj in result.kubernetes_objects():
        if obj["apiVersion"].startswith(("oadp.", "velero.")):
            assert validate(obj) == [], obj["kind"]


def test_galera_is_backed_up_from_a_replica_with_retention_and_its_kfp_databases_logically(prod):
    physical = prod.find("PhysicalBackup", "galera-physical", "kubeflow-db")["spec"]
    assert physical["target"] == "Replica" and physical["maxRetention"] == "720h"
    assert physical["schedule"]["cron"] == "0 3 * * *"
    s3 = physical["storage"]["s3"]
    assert (s3["bucket"], s3["prefix"]) == ("kfp-backups", "galera/physical")
    assert s3["tls"] == {"enabled": True, "caSecretKeyRef": {"name": "object-store-ca", "key": "ca.crt"}}
    logical = prod.find("Backup", "galera-logical", "kubeflow-db")["spec"]
    assert logical["databases"] == ["mlpipeline", "metadb"] and logical["maxRetention"] == "168h"
    assert logical["storage"]["s3"]["prefix"] == "galera/logical"
    # The Secrets they name are made by ESO in the same namespace.
    made = {(e["metadata"]["namespace"], e["spec"]["target"]["name"]) for e in objects(prod, "ExternalSecret")}
    assert {("kubeflow-db", s3["accessKeyIdSecretKeyRef"]["name"]), ("kubeflow-db", "object-store-ca")} <= made
    # No operator PointInTimeRecovery: at 26.6.0 it does not archive Galera; the platform's archiver does (pitr.py).
    assert not objects(prod, "PointInTimeRecovery")


def _policies(result) -> dict[str, dict]:
    return {r.inputs["name"]: json.loads(r.inputs["policy"]) for r in result.by_type("minio:index/iamPolicy:IamPolicy")}


WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:PutReplicationConfiguration", "s3:AbortMultipartUpload")


def test_the_drill_reader_can_read_the_backups_and_write_nothing_anywhere(prod):
    reader = _policies(prod)["backup-drill-reader"]
    assert allowed(reader, "s3:GetObject", "arn:aws:s3:::kfp-backups/velero/backups/x/x.tar.gz")
    assert allowed(reader, "s3:GetObject", "arn:aws:s3:::kfp-backups/galera/physical/backup.xb")
    assert allowed(reader, "s3:ListBucket", "arn:aws:s3:::kfp-backups")
    actions = {a for st in reader["Statement"] for a in st["Action"]}
    assert not [a for a in actions if not a.startswith(("s3:Get", "s3:List"))]
    for bucket in ("kfp-backups", "mlpipeline", "kfp-audit"):
        for action in WRITES:
            assert not allowed(reader, action, f"arn:aws:s3:::{bucket}/velero/x"), (bucket, action)
    assert not allowed(reader, "s3:GetObject", "arn:aws:s3:::mlpipeline/artifacts/team-nlp/x")


def test_each_writer_reaches_only_its_own_prefix(prod):
    policies = _policies(prod)
    velero_policy, galera = policies["backup-velero"], policies["backup-galera"]
    assert allowed(velero_policy, "s3:PutObject", "arn:aws:s3:::kfp-backups/velero/backups/b/b.tar.gz")
    assert not allowed(velero_policy, "s3:DeleteObject", "arn:aws:s3:::kfp-backups/galera/physical/x")
    assert allowed(galera, "s3:PutObject", "arn:aws:s3:::kfp-backups/galera/physical/x")
    assert not allowed(galera, "s3:DeleteObject", "arn:aws:s3:::kfp-backups/velero/backups/x")
    replication = policies["backup-replication"]
    assert allowed(replication, "s3:PutReplicationConfiguration", "arn:aws:s3:::mlpipeline")
    assert not allowed(replication, "s3:PutObject", "arn:aws:s3:::mlpipeline/artifacts/x")
    assert not allowed(replication, "s3:GetObject", "arn:aws:s3:::kfp-backups/velero/x")


def test_the_sandbox_reads_prods_backups_with_read_only_keys_and_restores_from_them(sandbox):
    store = yaml.safe_load((PROJECT_DIR / "Pulumi.sandbox.yaml").read_text())["config"][KEY]["restore"]
    location = sandbox.find("BackupStorageLocation", velero.RESTORE_LOCATION, "velero")["spec"]
    assert location["accessMode"] == "ReadOnly"
    assert location["objectStorage"]["bucket"] == store["bucket"]
    assert location["config"]["s3Url"] == f"https://{store['endpoint']}"
    # Every Secret the sandbox makes for backups holds the read-only keys, and only those.
    read = {d["remoteRef"]["key"] for e in objects(sandbox, "ExternalSecret") for d in e["spec"]["data"]}
    backup_paths = {p for p in read if p.startswith("platform/backup/")}
    assert backup_paths == {"platform/backup/prod-read-only"}
    assert not [r for r in sandbox.by_type("minio:index/iamPolicy:IamPolicy") if r.inputs["name"].startswith("backup-")]
    mariadb = sandbox.find("MariaDB", "galera", "kubeflow-db")["spec"]["bootstrapFrom"]
    assert mariadb["backupContentType"] == "Physical"
    assert mariadb["targetRecoveryTime"] == "2026-12-01T01:30:00Z"
    assert mariadb["s3"]["bucket"] == store["bucket"] and mariadb["s3"]["endpoint"] == store["endpoint"]
    assert mariadb["s3"]["accessKeyIdSecretKeyRef"]["name"] == "prod-backups-read-only"
    restore = sandbox.find("Restore", f"drill-{store['backup']}", "velero")["spec"]
    assert restore["backupName"] == store["backup"] and restore["includedNamespaces"] == TENANTS
    assert "secrets" in restore["excludedResources"]  # prod's Secrets never land in the sandbox
    assert not objects(sandbox, "Schedule") and not objects(sandbox, "PhysicalBackup")


def test_without_restore_the_sandbox_starts_empty(tmp_path):
    result = render_stack(project_with(tmp_path, "sandbox", lambda c: c.pop(KEY)), "sandbox")
    assert "bootstrapFrom" not in result.find("MariaDB", "galera", "kubeflow-db")["spec"]
    assert not objects(result, "Restore") and not objects(result, "BackupStorageLocation")
    assert not [r for r in result.by_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "velero"]


def _validator():
    spec = importlib.util.spec_from_file_location("validate_manifests", SHARED_DIR / "tools" / "validate_manifests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counts = {"cel_rules_skipped": 0, "cel_rules_evaluated": 0}
    crds = module.CrdCatalog(SHARED_DIR / "crds", counts)
    return lambda doc: module.validate_doc(doc, crds, module.CelRules(counts), "1.31.0")


def _rules(result) -> dict:
    return result.find("PrometheusRule", RULE_NAME, "monitoring")["spec"]


def test_alerts_follow_the_contract_and_land_on_runbook_headings(prod):
    runbook = (PROJECT_DIR / "docs" / "runbook.md").read_text()
    anchors = {anchor(h) for h in re.findall(r"^#+ (.+)$", runbook, flags=re.M)}
    assert {anchor(h) for h in HEADINGS} <= anchors
    rules = [r for g in _rules(prod)["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules} >= {
        "VeleroBackupFailed", "VeleroBackupTooOldPlatform", "VeleroBackupTooOldTenants", "GaleraBackupJobFailed",
        "GaleraPhysicalBackupTooOld", "GaleraLogicalBackupTooOld", "ArtifactReplicationFailing", "ArtifactReplicationLagging",
    }
    for rule in rules:
        assert set(rule["labels"]) >= {"severity", "slo", "team", "name"} and rule["labels"]["team"] == "platform"
        assert rule["annotations"]["runbook_url"].split("#", 1)[1] in anchors


def test_promtool_accepts_the_rules_and_the_freshness_alert_fires_only_when_late(prod, tmp_path):
    promtool = require_tool("promtool")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(_rules(prod)))
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    # The tenants schedule runs daily: a last success 20h ago is fine, 27h ago pages (24h + 2h grace).
    tests = {
        "rule_files": [str(rules)],
        "evaluation_interval": "5m",
        "tests": [{
            "interval": "5m",
            "input_series": [
                {"series": 'velero_backup_last_successful_timestamp{schedule="kfplatform-tenants"}',
                 "values": f"{-20 * 3600}+0x400"},
                {"series": 'velero_backup_last_successful_timestamp{schedule="kfplatform-tenant-volumes"}',
                 "values": f"{-27 * 3600}+0x400"},
            ],
            "alert_rule_test": [{
                "eval_time": "1h", "alertname": "VeleroBackupTooOldTenants",
                "exp_alerts": [{
                    "exp_labels": {"severity": "page", "slo": "backup_freshness", "team": "platform", "name": "velero",
                                   "schedule": "kfplatform-tenant-volumes"},
                    "exp_annotations": {
                        "summary": "No successful backup of kfplatform-tenant-volumes for more than 26h (schedule 30 1 * * *)",
                        "runbook_url": next(r for g in _rules(prod)["groups"] for r in g["rules"]
                                            if r["alert"] == "VeleroBackupTooOldTenants")["annotations"]["runbook_url"],
                    },
                }],
            }],
        }],
    }
    # (time() is 0 at the start of a promtool test, hence the negative timestamps)
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(tests))
    run = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_backup_that_never_succeeded_pages_once_its_schedule_allows_no_more(prod, tmp_path):
    """The freshness gauges exist only after a first success: with no series at all, the
    NeverSucceeded alerts fire after the same allowance (daily schedule + 2h grace = 26h), not before."""
    promtool = require_tool("promtool")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(_rules(prod)))
    by_name = {r["alert"]: r for g in _rules(prod)["groups"] for r in g["rules"] if "alert" in r}

    def expected(alert, **extra):
        rule = by_name[alert]
        # absent() keeps the equality matchers of its selector as labels (a regex one is dropped).
        return [{"exp_labels": {**rule["labels"], **extra}, "exp_annotations": rule["annotations"]}]

    tests = {"rule_files": [str(rules)], "evaluation_interval": "5m", "tests": [{
        "interval": "5m",
        # Only an unrelated series: no backup has ever succeeded.
        "input_series": [{"series": "up", "values": "1+0x400"}],
        "alert_rule_test": [
            {"eval_time": "25h", "alertname": "VeleroBackupNeverSucceededTenants", "exp_alerts": []},
            {"eval_time": "26h10m", "alertname": "VeleroBackupNeverSucceededTenants",
             "exp_alerts": expected("VeleroBackupNeverSucceededTenants")},
            {"eval_time": "26h10m", "alertname": "GaleraLogicalBackupNeverSucceeded",
             "exp_alerts": expected("GaleraLogicalBackupNeverSucceeded", namespace="kubeflow-db",
                                    cronjob="galera-logical")},
        ],
    }]}
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(tests))
    run = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def _made(result) -> dict[tuple[str, str], set[str]]:
    """(namespace, Secret) -> its keys, for every Secret an ExternalSecret makes."""
    made = {}
    for es in objects(result, "ExternalSecret"):
        target = es["spec"]["target"]
        keys = set((target.get("template") or {}).get("data") or {}) or {d["secretKey"] for d in es["spec"]["data"]}
        made[(es["metadata"]["namespace"], target["name"])] = keys
    return made


def test_every_secret_the_backup_objects_name_is_made_with_the_keys_they_read(each_stack):
    made = _made(each_stack)
    wanted: set[tuple[str, str, str]] = set()
    for kind in ("BackupStorageLocation", "PhysicalBackup", "Backup", "CronJob", "MariaDB"):  # MariaDB: bootstrapFrom
        for obj in objects(each_stack, kind):
            ns = obj["metadata"]["namespace"]

            def refs(value):
                if isinstance(value, dict):
                    if "name" in value and "key" in value and set(value) <= {"name", "key", "optional"}:
                        yield value["name"], value["key"]
                    for v in value.values():
                        yield from refs(v)
                elif isinstance(value, list):
                    for v in value:
                        yield from refs(v)
            wanted |= {(ns, name, key) for name, key in refs(obj["spec"]) if name not in ("kube-root-ca.crt",)}
    values = next((r.inputs["values"] for r in each_stack.by_type("kubernetes:helm.sh/v3:Release")
                   if r.inputs["chart"] == "velero"), None)
    if values:  # the chart mounts this Secret and reads its key `cloud` (AWS_SHARED_CREDENTIALS_FILE)
        wanted.add(("velero", values["credentials"]["existingSecret"], velero.CREDENTIALS_KEY))
    assert len(wanted) >= (8 if each_stack.stack == "prod" else 3), sorted(wanted)
    missing = sorted(w for w in wanted if w[2] not in made.get((w[0], w[1]), set()))
    assert missing == [], missing
    cloud = next(es for es in objects(each_stack, "ExternalSecret")
                 if es["spec"]["target"]["name"] == velero.CREDENTIALS_SECRET)["spec"]["target"]["template"]["data"]["cloud"]
    assert cloud.splitlines() == ["[default]", "aws_access_key_id={{ .accessKey }}", "aws_secret_access_key={{ .secretKey }}"]
