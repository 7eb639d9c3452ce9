"""What the render declares for backups, as Velero, mariadb-operator and MinIO will read it."""
import importlib.util
import json
import re
import subprocess

import yaml

from kfplatform.alerts import anchor
from kfplatform.backup import drill_copy, velero
from kfplatform.backup.alerts import HEADINGS, RULE_NAME
from kfplatform.backup.config import DRILL_COPY_PATH, DRILL_RESTORE_PATH, VOLUMES_BACKUP_PREFIX
from kfplatform.render.run import kubernetes_object, render_stack
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
    # The volumes backup holds the opted-in namespaces WHOLE (no resource filter), so the drill can
    # restore them from it alone; same cron as the tenants backup, so both are of one run.
    assert not {"includedResources", "excludedResources", "labelSelector", "orLabelSelectors"} & set(volumes["template"])
    assert volumes["schedule"] == tenants["schedule"]
    assert velero.VOLUMES_SCHEDULE + "-" == VOLUMES_BACKUP_PREFIX  # what restore.volumesBackup must start with
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


def _registered(result, kind, name, namespace):
    """The registration of the Kubernetes object `kind` `namespace/name` (its dependencies, provider)."""
    found = [r for r in result.resources if (o := kubernetes_object(r)) is not None and o["kind"] == kind
             and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace]
    assert len(found) == 1, (kind, namespace, name, len(found))
    return found[0]


def _restore_section():
    return yaml.safe_load((PROJECT_DIR / "Pulumi.sandbox.yaml").read_text())["config"][KEY]["restore"]


def test_the_sandbox_restores_from_its_own_copy_and_holds_no_key_that_can_write_prods_bucket(sandbox):
    store = _restore_section()
    own_bucket = yaml.safe_load((PROJECT_DIR / "Pulumi.sandbox.yaml").read_text())["config"].get(
        "kubeflow-platform:data", {}).get("objectStore", {}).get("buckets", {}).get("backups", "kfp-backups")
    location = sandbox.find("BackupStorageLocation", velero.RESTORE_LOCATION, "velero")["spec"]
    # Velero's drill location is on the sandbox's OWN MinIO (in-cluster), never prod's endpoint.
    assert location["accessMode"] == "ReadOnly" and location["objectStorage"] == {"bucket": own_bucket, "prefix": "velero"}
    assert location["config"]["s3Url"] == "https://minio.kubeflow-minio.svc.cluster.local:443"
    assert store["endpoint"] not in json.dumps(location)
    assert len(objects(sandbox, "BackupStorageLocation")) == 1
    # Prod's read-only keys (the only prod keys the sandbox holds) reach exactly two Secrets: the
    # copy Job's source and the database bootstrap. Velero's credentials are the sandbox's own account.
    from_prod = {(e["metadata"]["namespace"], e["spec"]["target"]["name"]) for e in objects(sandbox, "ExternalSecret")
                 if any(d["remoteRef"]["key"] == "platform/backup/prod-read-only" for d in e["spec"]["data"])}
    assert from_prod == {("velero", drill_copy.SOURCE_SECRET), ("kubeflow-db", "prod-backups-read-only")}
    read = {d["remoteRef"]["key"] for e in objects(sandbox, "ExternalSecret") for d in e["spec"]["data"]}
    assert {p for p in read if p.startswith("platform/backup/")} == {
        "platform/backup/prod-read-only", DRILL_COPY_PATH, DRILL_RESTORE_PATH}
    velero_creds = next(e for e in objects(sandbox, "ExternalSecret") if e["spec"]["target"]["name"] == velero.CREDENTIALS_SECRET)
    assert {d["remoteRef"]["key"] for d in velero_creds["spec"]["data"]} == {DRILL_RESTORE_PATH}
    # Both drill accounts live on the sandbox's own MinIO (its provider), with the policies tested below.
    policies = {r.inputs["name"]: r for r in sandbox.by_type("minio:index/iamPolicy:IamPolicy") if r.inputs["name"].startswith("backup-")}
    assert set(policies) == {"backup-drill-copy", "backup-drill-restore"}
    # One MinIO provider in the whole sandbox program: its own store's (prod's is never a provider here).
    providers = {r.provider for r in sandbox.resources if r.type.startswith("minio:index/")}
    assert len(providers) == 1 and {p.provider for p in policies.values()} == providers
    # Only the copy Job reads the source Secret, and the only secretKeyRefs to it are its PROD_* variables.
    refs = [(o["kind"], o["metadata"]["name"], env["name"]) for o in sandbox.kubernetes_objects() if o["kind"] in ("Job", "CronJob", "Deployment")
            for c in json.loads(json.dumps(o)).get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
            for env in c.get("env", []) if env.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == drill_copy.SOURCE_SECRET]
    assert sorted(r[2] for r in refs) == ["PROD_ACCESS_KEY", "PROD_SECRET_KEY"] and {r[0] for r in refs} == {"Job"}
    mariadb = sandbox.find("MariaDB", "galera", "kubeflow-db")["spec"]["bootstrapFrom"]
    assert mariadb["backupContentType"] == "Physical"
    assert mariadb["targetRecoveryTime"] == "2026-12-01T01:30:00Z"
    assert mariadb["s3"]["bucket"] == store["bucket"] and mariadb["s3"]["endpoint"] == store["endpoint"]
    assert mariadb["s3"]["accessKeyIdSecretKeyRef"]["name"] == "prod-backups-read-only"


def test_the_sandbox_drill_accounts_reach_only_their_prefixes_of_the_sandbox_bucket(sandbox):
    policies = _policies(sandbox)
    restore, copier = policies["backup-drill-restore"], policies["backup-drill-copy"]
    b = "arn:aws:s3:::kfp-backups"
    # Velero: reads the staged backups and kopia repositories; writes (and deletes with the Restore)
    # only its restore logs and results (velero/restores/<restore>/...).
    assert allowed(restore, "s3:ListBucket", b)
    for key in ("velero/backups/kfplatform-tenants-1/velero-backup.json", "velero/kopia/team-vision/kopia.repository"):
        assert allowed(restore, "s3:GetObject", f"{b}/{key}")
        for action in WRITES:
            assert not allowed(restore, action, f"{b}/{key}"), (action, key)
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert allowed(restore, action, f"{b}/velero/restores/drill-x/restore-drill-x-logs.gz")
    assert not allowed(restore, "s3:PutObject", f"{b}/galera/physical/x")
    assert not allowed(restore, "s3:GetObject", f"{b}/galera/physical/x")
    # The copy Job: puts backups and kopia repositories, deletes nothing, writes no restore log.
    for key in ("velero/backups/kfplatform-tenants-1/kfplatform-tenants-1.tar.gz", "velero/kopia/team-vision/p0123"):
        assert allowed(copier, "s3:PutObject", f"{b}/{key}") and allowed(copier, "s3:GetObject", f"{b}/{key}")
        assert not allowed(copier, "s3:DeleteObject", f"{b}/{key}")
    for key in ("velero/restores/x/y", "velero/metadata/revision", "galera/physical/x", "x"):
        assert not allowed(copier, "s3:PutObject", f"{b}/{key}"), key
    actions = {a for policy in (restore, copier) for st in policy["Statement"] for a in st["Action"]}
    assert not [a for a in actions if a.startswith(("admin:", "s3:PutBucket", "s3:DeleteBucket", "s3:PutReplication"))]
    for policy in (restore, copier):
        for other in ("mlpipeline", "kfp-audit"):
            assert not allowed(policy, "s3:GetObject", f"arn:aws:s3:::{other}/velero/backups/x")


def test_copy_then_location_then_synced_backups_then_restores(sandbox):
    """The order Pulumi creates them in: the Restores read only what was copied and synced."""
    store = _restore_section()
    (copy_job,) = [j for j in objects(sandbox, "Job") if j["metadata"]["name"].startswith("drill-copy-")]
    (synced_job,) = [j for j in objects(sandbox, "Job") if j["metadata"]["name"].startswith(drill_copy.SYNC_WAITER)]
    copy_urn = _registered(sandbox, "Job", copy_job["metadata"]["name"], "velero").urn
    location = _registered(sandbox, "BackupStorageLocation", velero.RESTORE_LOCATION, "velero")
    synced = _registered(sandbox, "Job", synced_job["metadata"]["name"], "velero")
    assert copy_urn in location.dependencies and location.urn in synced.dependencies
    for name in (f"drill-{store['backup']}", f"drill-{store['volumesBackup']}"):
        restore = _registered(sandbox, "Restore", name, "velero")
        assert {synced.urn, location.urn} <= set(restore.dependencies), name
    copier = _registered(sandbox, "Job", copy_job["metadata"]["name"], "velero")
    sources = {_registered(sandbox, "ExternalSecret", s, "velero").urn for s in (drill_copy.SOURCE_SECRET, drill_copy.TARGET_SECRET)}
    assert sources <= set(copier.dependencies)
    # The wait Job may read Backups in the backup namespace, nothing else.
    role = sandbox.find("Role", drill_copy.SYNC_WAITER, "velero")
    assert role["rules"] == [{"apiGroups": ["velero.io"], "resources": ["backups"], "verbs": ["get", "list", "watch"]}]
    assert not [o for o in objects(sandbox, "ClusterRoleBinding") if o["metadata"]["name"].startswith("drill")]
    assert synced_job["spec"]["template"]["spec"]["serviceAccountName"] == drill_copy.SYNC_WAITER
    script = synced_job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    for backup in (store["backup"], store["volumesBackup"]):
        assert backup in script
    # The rendered copy script writes only through the `drill` alias, the sandbox's own store.
    copy_script = copy_job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert "mc alias set drill https://minio.kubeflow-minio.svc.cluster.local:443 " in copy_script
    assert f"mc alias set prod https://{store['endpoint']} " in copy_script
    mirrors = [line.split() for line in copy_script.splitlines() if line.strip().startswith("mc mirror")]
    assert mirrors and all(m[2] == "--overwrite" and m[3].startswith('"prod/') and m[4].startswith('"drill/')
                           for m in mirrors), mirrors
    # A Job's pod template is immutable: another backup makes another Job (its name follows them).
    assert copy_job["metadata"]["name"].split("-")[-1] == synced_job["metadata"]["name"].split("-")[-1]
    assert int(copy_job["metadata"]["annotations"]["pulumi.com/timeoutSeconds"]) >= copy_job["spec"]["activeDeadlineSeconds"]
    # A Job that failed (prod's endpoint unreachable, a full bucket) runs again on the next `pulumi up`.
    for job in (copy_job, synced_job):
        assert job["metadata"]["annotations"]["pulumi.com/replaceUnready"] == "true"


def test_the_drill_restores_are_disjoint_and_restore_what_was_backed_up(sandbox):
    store = _restore_section()
    # Two Restores, disjoint: team-vision (opts in to volume backups) comes back whole from the volumes
    # backup, with its volumes' contents; every other team from the tenants backup, which excludes it.
    restore = sandbox.find("Restore", f"drill-{store['backup']}", "velero")["spec"]
    assert restore["backupName"] == store["backup"] and restore["includedNamespaces"] == ["team-forecasting", "team-nlp"]
    assert restore["excludedNamespaces"] == ["team-vision"]
    volumes = sandbox.find("Restore", f"drill-{store['volumesBackup']}", "velero")["spec"]
    assert volumes["backupName"] == store["volumesBackup"] and volumes["includedNamespaces"] == ["team-vision"]
    # Every resource of the namespace (pods, claims and all), so Velero creates the pods it fills.
    assert "includedResources" not in volumes and "excludedNamespaces" not in volumes
    for spec in (restore, volumes):
        assert "secrets" in spec["excludedResources"]  # prod's Secrets never land in the sandbox
        assert spec["existingResourcePolicy"] == "none" and spec["restorePVs"] is True
        assert not {"persistentvolumeclaims", "persistentvolumes", "pods"} & set(spec["excludedResources"])
    assert len(objects(sandbox, "Restore")) == 2
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
    for kind in ("BackupStorageLocation", "PhysicalBackup", "Backup", "CronJob", "Job", "MariaDB"):  # MariaDB: bootstrapFrom
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


def test_the_drill_waits_for_exactly_the_restores_the_stack_declares(sandbox):
    """The drill's plan (read from the stack file) and the render's Restores are one list: a Restore
    the stack makes but the drill never checks, or the reverse, would be a silent gap."""
    from kfplatform.backup.drill.run import copy_job_name, planned_restores
    from kfplatform.config.loader import load_platform_config
    from kfplatform.render.run import read_stack_config

    raw, _ = read_stack_config(PROJECT_DIR, "sandbox")
    config = load_platform_config("sandbox", raw, PROJECT_DIR)
    planned = planned_restores(config)
    rendered = {o["metadata"]["name"]: o["spec"] for o in objects(sandbox, "Restore")}
    assert rendered == {p.name: p.spec for p in planned}
    assert [p.role for p in planned] == [velero.TENANTS_RESTORE, velero.VOLUMES_RESTORE]
    # ...and the copy Job it times is the one the stack declares.
    assert copy_job_name(config, planned) in {j["metadata"]["name"] for j in objects(sandbox, "Job")}
