"""Point-in-time recovery as rendered: the Galera config, the archiver and its account, the logical
backup's GTID option, the sandbox's roll-forward Job, and the alerts (promtool)."""
import hashlib
import subprocess

import yaml

from kfplatform.alerts import anchor
from kfplatform.backup import pitr
from kfplatform.backup.alerts import H_BINLOG, RULE_NAME
from kfplatform.data import releases
from kfplatform.backup import releases as backup_releases
from tests.tools import require_tool

NS = "kubeflow-db"


def objects(result, kind):
    return [o for o in result.kubernetes_objects() if o["kind"] == kind]


def env_of(container) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_every_galera_node_writes_binlogs_with_one_gtid_sequence(each_stack):
    cnf = each_stack.find("MariaDB", "galera", NS)["spec"]["myCnf"].splitlines()
    for line in ("log_bin=galera-bin", "log_slave_updates=ON", "binlog_format=ROW", "server_id=1", "wsrep_gtid_mode=ON",
                 f"wsrep_gtid_domain_id={pitr.GTID_DOMAIN}", "gtid_strict_mode=ON", "binlog_expire_logs_seconds=604800",
                 "max_binlog_size=67108864"):
        assert line in cnf
    # Local events keep their own domain: the cluster's is not gtid_domain_id's default (0).
    assert pitr.GTID_DOMAIN != 0 and not any(l.startswith("gtid_domain_id") for l in cnf)


def test_every_logical_backup_records_its_gtid_position(prod):
    for name in ("galera-logical", "galera-logical-offsite"):
        assert prod.find("Backup", name, NS)["spec"]["args"] == ["--master-data=2", "--gtid"]


def test_prod_archives_binlogs_with_a_replication_only_account_from_any_node(prod):
    deployment = prod.find("Deployment", pitr.ARCHIVER, NS)["spec"]
    assert deployment["replicas"] == 1 and deployment["strategy"] == {"type": "Recreate"}  # never two archivers
    pod = deployment["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == releases.MARIADB.ref("registry.ml.example.com/mirror")
    assert pod["initContainers"][0]["image"] == backup_releases.MC.ref("registry.ml.example.com/mirror")
    env = env_of(container)
    assert env["BINLOG_HOSTS"].split() == [f"galera-{i}.galera-internal.{NS}.svc.cluster.local:3306" for i in range(3)]
    assert env["ARCHIVE"] == "backups/kfp-backups/galera/binlog" and env["INTERVAL"] == "60"
    assert env["PRUNE_OLDER_THAN"] == "720h" and env["STALL_SECONDS"] == "600"
    assert env["S3_ACCESS_KEY"] == {"secretKeyRef": {"name": "galera-backup-s3", "key": "access-key-id"}}
    assert "--ssl-verify-server-cert" in env["CLIENT_ARGS"] and "MYSQL_PWD" not in env
    # The probe's bound is maxLagMinutes; the script is the one tested against real servers.
    assert "-lt 600" in container["readinessProbe"]["exec"]["command"][-1]
    scripts = prod.find("ConfigMap", pitr.SCRIPTS_CONFIGMAP, NS)["data"]
    assert scripts[pitr.ARCHIVE_SCRIPT.name] == pitr.ARCHIVE_SCRIPT.read_text()
    # A changed script rolls the pod: its hash is on the pod template.
    assert deployment["template"]["metadata"]["annotations"][pitr.SCRIPT_HASH] == hashlib.sha256(
        scripts[pitr.ARCHIVE_SCRIPT.name].encode()).hexdigest()
    # Restricted: non-root (the image's mysql uid), no privilege escalation, read-only root.
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in [*pod["initContainers"], container]:
        assert c["securityContext"]["readOnlyRootFilesystem"] and c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["password"]["secret"]["secretName"] == pitr.ARCHIVER_SECRET
    assert volumes["galera-ca"]["secret"]["secretName"] == "galera-ca-bundle"
    # The account: REPLICATION SLAVE on *.*, nothing else; its password made by ESO from Vault.
    grant = prod.find("Grant", pitr.ARCHIVER_USER, NS)["spec"]
    assert (grant["privileges"], grant["database"], grant["table"], grant["grantOption"]) == (["REPLICATION SLAVE"], "*", "*", False)
    user = prod.find("User", pitr.ARCHIVER_USER, NS)["spec"]
    assert user["passwordSecretKeyRef"] == {"name": pitr.ARCHIVER_SECRET, "key": "password"}
    made = [es for es in objects(prod, "ExternalSecret")
            if (es["metadata"]["namespace"], es["spec"]["target"]["name"]) == (NS, pitr.ARCHIVER_SECRET)]
    assert len(made) == 1 and made[0]["spec"]["data"][0]["remoteRef"]["key"].endswith("platform/database/binlog-archiver")


def test_the_sandbox_rolls_kfp_and_mlmd_forward_to_the_point_with_read_only_keys(sandbox):
    assert not [d for d in objects(sandbox, "Deployment") if d["metadata"]["name"] == pitr.ARCHIVER]
    job = sandbox.find("Job", pitr.RESTORE_JOB, NS)["spec"]
    container = job["template"]["spec"]["containers"][0]
    env = env_of(container)
    assert env["POINT"] == "2026-12-01T01:30:00Z" and env["DATABASES"] == "mlpipeline metadb"
    assert env["S3_URL"] == "https://minio-admin.ml.example.com:443"
    assert env["S3_ACCESS_KEY"]["secretKeyRef"]["name"] == "prod-backups-read-only"
    assert env["ARCHIVE"] == "backups/kfp-backups/galera/binlog" and env["TARGET_HOST"] == "galera-primary"
    assert job["backoffLimit"] == 0
    scripts = sandbox.find("ConfigMap", pitr.SCRIPTS_CONFIGMAP, NS)["data"]
    assert scripts[pitr.RESTORE_SCRIPT.name] == pitr.RESTORE_SCRIPT.read_text()


def test_archiving_alerts_fire_on_the_archivers_readiness_and_absence(prod, tmp_path):
    promtool = require_tool("promtool")
    rules = prod.find("PrometheusRule", RULE_NAME, "monitoring")["spec"]
    by_name = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    for alert in ("GaleraBinlogArchiveLagging", "GaleraBinlogArchivingStopped"):
        assert by_name[alert]["annotations"]["runbook_url"].endswith("#" + anchor(H_BINLOG))
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    ready = f'kube_deployment_status_replicas_ready{{namespace="{NS}",deployment="{pitr.ARCHIVER}"}}'

    def fired(alert):
        rule = by_name[alert]
        return [{"exp_labels": {**rule["labels"], "namespace": NS, "deployment": pitr.ARCHIVER},
                 "exp_annotations": rule["annotations"]}]

    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [
        {"interval": "1m", "input_series": [{"series": ready, "values": "1x10 0x60"}], "alert_rule_test": [
            {"eval_time": "9m", "alertname": "GaleraBinlogArchiveLagging", "exp_alerts": []},  # ready
            {"eval_time": "14m", "alertname": "GaleraBinlogArchiveLagging", "exp_alerts": []},  # pending (for 5m)
            {"eval_time": "17m", "alertname": "GaleraBinlogArchiveLagging", "exp_alerts": fired("GaleraBinlogArchiveLagging")},
            {"eval_time": "30m", "alertname": "GaleraBinlogArchivingStopped", "exp_alerts": []},
            {"eval_time": "42m", "alertname": "GaleraBinlogArchivingStopped", "exp_alerts": fired("GaleraBinlogArchivingStopped")},
        ]},
        # No archiver at all (deleted, or never deployed): absent() pages after the same allowance.
        {"interval": "1m", "input_series": [{"series": "up", "values": "1x60"}], "alert_rule_test": [
            {"eval_time": "20m", "alertname": "GaleraBinlogArchivingStopped", "exp_alerts": []},
            {"eval_time": "35m", "alertname": "GaleraBinlogArchivingStopped", "exp_alerts": [{
                "exp_labels": {**by_name["GaleraBinlogArchivingStopped"]["labels"], "namespace": NS, "deployment": pitr.ARCHIVER},
                "exp_annotations": by_name["GaleraBinlogArchivingStopped"]["annotations"]}]},
        ]},
    ]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    run = subprocess.run([promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
