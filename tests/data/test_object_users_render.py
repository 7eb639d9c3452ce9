"""What the render declares for MinIO users: nothing keyed by an access key, an in-cluster reconciler.

Pulumi stores resource names and IDs in plaintext; pulumi-minio 0.17.1 makes an IamUser's (and an
IamServiceAccount's) ID its access key. So no such resource may be registered, and no generated key
may reach a name, a URN, an ID, a label, an annotation or any input that is not a secret.
"""
import json
import re
import subprocess

import pytest
import yaml

from kfplatform.alerts import anchor
from kfplatform.backup.config import cron_interval_seconds
from kfplatform.data.object_users import (
    ADMIN_SECRET, CRON_INTERVAL_SECONDS, CRONJOB, FILES, HEADINGS, RULE_NAME, SCRIPT, account_secret, job_name,
)
from kfplatform.render.mocks import SECRET, computed_output
from kfplatform.secrets.plane import ROTATION_ANNOTATION
from tests.conftest import PROJECT_DIR
from tests.tools import require_tool

STORE_NS = "kubeflow-minio"
PASSWORD = "random:index/randomPassword:RandomPassword"
JOB = "kubernetes:batch/v1:Job"
# The pulumi-minio resources the program may register: none of them is keyed by a user.
ALLOWED_MINIO = {
    "pulumi:providers:minio", "minio:index/s3Bucket:S3Bucket", "minio:index/s3BucketVersioning:S3BucketVersioning",
    "minio:index/iamPolicy:IamPolicy", "minio:index/ilmPolicy:IlmPolicy",
}


def generated_keys(result) -> dict[str, str]:
    """Every generated object-store key as the mocks make it (resource name -> value)."""
    keys = {
        r.name: computed_output(PASSWORD, r.name, "result")
        for r in result.by_type(PASSWORD) if r.name.endswith(("-access_key", "-secret_key"))
    }
    assert len(keys) >= 2 * 5, sorted(keys)  # KFP, the teams, the audit writer (and prod's backup accounts)
    return keys


def account_jobs(result):
    return [r for r in result.by_type(JOB) if r.name.endswith("-minio-user")]


def test_no_minio_resource_is_keyed_by_a_user(each_stack):
    minio = {r.type for r in each_stack.resources if r.type.startswith(("minio:", "pulumi:providers:minio"))}
    assert minio <= ALLOWED_MINIO, sorted(minio - ALLOWED_MINIO)
    assert "minio:index/iamPolicy:IamPolicy" in minio


def test_no_generated_key_reaches_a_name_id_label_annotation_or_plain_input(each_stack):
    keys = generated_keys(each_stack)
    # The mocks give each custom resource the id `<name>-id` (render/mocks.py): ids are names here.
    plain = json.dumps({
        "resources": [
            {"urn": r.urn, "name": r.name, "id": f"{r.name}-id", "inputs": r.inputs, "outputs": r.outputs}
            for r in each_stack.resources
        ],
        "exports": each_stack.exports,
    })
    leaked = {name for name, value in keys.items() if value in plain}
    assert not leaked, sorted(leaked)
    # A name or metadata derived from a secret Output would render as "[secret]".
    for r in each_stack.resources:
        assert SECRET not in r.urn and SECRET not in r.name, r.urn
    for obj in each_stack.kubernetes_objects():
        meta = obj["metadata"]
        shown = json.dumps({k: meta.get(k) for k in ("name", "namespace", "labels", "annotations")})
        assert SECRET not in shown, (obj["kind"], meta.get("name"))
    for r in each_stack.resources:
        if r.type.startswith("minio:"):
            assert SECRET not in json.dumps(r.inputs), r.name  # policies: names and documents only


def test_the_leak_check_sees_a_key_where_one_is(prod):
    """The check above is not vacuous: the mock key values are the ones the render computes."""
    keys = generated_keys(prod)
    kv = next(r for r in prod.by_type(PASSWORD) if r.name == "platform-object-store-kfp-access_key")
    assert keys[kv.name].startswith("mock-password-") and kv.custom


def test_each_accounts_job_is_named_by_its_rotation_and_depends_on_no_key(each_stack):
    jobs = account_jobs(each_stack)
    policies = {r.inputs["name"] for r in each_stack.by_type("minio:index/iamPolicy:IamPolicy")}
    assert {j.name.removesuffix("-minio-user") for j in jobs} == policies
    passwords = {r.urn for r in each_stack.by_type(PASSWORD)}
    for job in jobs:
        policy = job.name.removesuffix("-minio-user")
        spec = job.inputs["spec"]["template"]
        env = {e["name"]: e.get("value") for e in spec["spec"]["containers"][0]["env"]}
        assert env["EXPECTED_ROTATIONS"].startswith(f"{policy}=")
        rotation = env["EXPECTED_ROTATIONS"].removeprefix(f"{policy}=")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/mock-rotation-[0-9a-f]+", rotation), rotation
        assert job.inputs["metadata"]["name"] == job_name(policy, rotation)
        assert job.inputs["metadata"]["namespace"] == STORE_NS
        # The pod template carries the marker like every reader of a rotated credential.
        assert spec["metadata"]["annotations"][ROTATION_ANNOTATION].endswith("=" + rotation)
        assert not passwords & set(job.dependencies), job.name
        # Only its own account's keys are mounted.
        (projected,) = [v for v in spec["spec"]["volumes"] if "projected" in v]
        assert [s["secret"]["name"] for s in projected["projected"]["sources"]] == [account_secret(policy)]


def test_what_reads_an_accounts_keys_waits_for_its_user(prod):
    by_name = {r.name: r for r in prod.resources}
    job_urn = {j.name.removesuffix("-minio-user"): j.urn for j in account_jobs(prod)}
    waits = {
        "kubeflow-mlpipeline-minio-artifact": "kfp-artifacts",
        "team-nlp-mlpipeline-minio-artifact": "tenant-team-nlp",
        "velero-velero-cloud-credentials": "backup-velero",
        "kubeflow-db-galera-backup-s3": "backup-galera",
        "velero-replication-source": "backup-replication",
        "kfplatform-audit-audit-bucket-writer": "kfp-audit-writer",
        "logging-audit-bucket-writer": "kfp-audit-writer",
    }
    for delivery, policy in waits.items():
        assert job_urn[policy] in by_name[delivery].dependencies, delivery


def test_the_cronjob_reconciles_every_account_as_a_non_root_mc(each_stack):
    cron = each_stack.find("CronJob", CRONJOB, STORE_NS)["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron_interval_seconds(cron["schedule"]) == CRON_INTERVAL_SECONDS == 900
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["/bin/sh", "-c", SCRIPT]
    assert container["image"].startswith("registry.ml.example.com/mirror/minio/mc:RELEASE.2025-08-13T08-35-41Z@sha256:")
    assert container["envFrom"] == [{"secretRef": {"name": ADMIN_SECRET}}]
    assert container["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
    (projected,) = [v for v in pod["volumes"] if "projected" in v]
    sources = projected["projected"]["sources"]
    policies = {r.inputs["name"] for r in each_stack.by_type("minio:index/iamPolicy:IamPolicy")}
    # Each account's expected rotation is the one its own Job expects.
    env = {e["name"]: e.get("value") for e in container["env"]}
    jobs = {j.name.removesuffix("-minio-user"): j for j in account_jobs(each_stack)}
    job_expected = {
        p: {e["name"]: e.get("value") for e in j.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
        ["EXPECTED_ROTATIONS"] for p, j in jobs.items()
    }
    assert env["EXPECTED_ROTATIONS"] == ";".join(job_expected[p] for p in sorted(policies))
    assert {s["secret"]["name"] for s in sources} == {account_secret(p) for p in policies}
    for source in sources:
        policy = source["secret"]["name"].removeprefix("minio-account-")
        assert source["secret"]["items"] == [{"key": f, "path": f"{policy}/{f}"} for f in FILES]
    # Every mounted Secret is made, in this namespace, with the files the script reads.
    for policy in policies:
        es = each_stack.find("ExternalSecret", account_secret(policy), STORE_NS)["spec"]
        assert set(es["target"]["template"]["data"]) == set(FILES)
        assert es["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault-platform"}
    admin = each_stack.find("ExternalSecret", ADMIN_SECRET, STORE_NS)["spec"]
    assert set(admin["target"]["template"]["data"]) == {"MC_HOST_store"}


def _rules(result) -> dict:
    return result.find("PrometheusRule", RULE_NAME, "monitoring")["spec"]


def test_the_alert_follows_the_contract_and_lands_on_its_runbook_heading(prod):
    runbook = (PROJECT_DIR / "docs" / "runbook.md").read_text()
    anchors = {anchor(h) for h in re.findall(r"^#+ (.+)$", runbook, flags=re.M)}
    assert {anchor(h) for h in HEADINGS} <= anchors
    rules = [r for g in _rules(prod)["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules} == {"ObjectStoreUsersNotReconciled", "ObjectStoreUsersNeverReconciled"}
    for rule in rules:
        assert rule["labels"]["team"] == "platform" and set(rule["labels"]) >= {"severity", "slo", "team", "name"}
        assert rule["annotations"]["runbook_url"].split("#", 1)[1] in anchors


@pytest.mark.parametrize("last_success_hours_ago, fires", [(0.75, False), (1.5, True)])
def test_promtool_fires_only_when_the_reconciler_is_late(prod, tmp_path, last_success_hours_ago, fires):
    promtool = require_tool("promtool")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(_rules(prod)))
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    rule = next(r for g in _rules(prod)["groups"] for r in g["rules"] if r["alert"] == "ObjectStoreUsersNotReconciled")
    series = f'kube_cronjob_status_last_successful_time{{namespace="{STORE_NS}",cronjob="{CRONJOB}"}}'
    expected = [{
        "exp_labels": {**rule["labels"], "namespace": STORE_NS, "cronjob": CRONJOB},
        "exp_annotations": rule["annotations"],
    }] if fires else []
    tests = {"rule_files": [str(rules)], "evaluation_interval": "5m", "tests": [{
        "interval": "5m",
        # time() is 0 at the start of a promtool test: the last success is a negative timestamp.
        "input_series": [{"series": series, "values": f"{int(-last_success_hours_ago * 3600) + 1800}+0x100"}],
        "alert_rule_test": [
            {"eval_time": "30m", "alertname": "ObjectStoreUsersNotReconciled", "exp_alerts": expected},
            {"eval_time": "30m", "alertname": "ObjectStoreUsersNeverReconciled", "exp_alerts": []},
        ],
    }]}
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(tests))
    run = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_promtool_a_reconciler_that_never_succeeded_alerts_after_an_hour(prod, tmp_path):
    promtool = require_tool("promtool")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(_rules(prod)))
    rule = next(r for g in _rules(prod)["groups"] for r in g["rules"] if r["alert"] == "ObjectStoreUsersNeverReconciled")
    fired = [{"exp_labels": {**rule["labels"], "namespace": STORE_NS, "cronjob": CRONJOB},
              "exp_annotations": rule["annotations"]}]
    tests = {"rule_files": [str(rules)], "evaluation_interval": "5m", "tests": [{
        "interval": "5m",
        "input_series": [{"series": "up", "values": "1+0x100"}],  # no success ever recorded
        "alert_rule_test": [
            {"eval_time": "55m", "alertname": "ObjectStoreUsersNeverReconciled", "exp_alerts": []},
            {"eval_time": "1h10m", "alertname": "ObjectStoreUsersNeverReconciled", "exp_alerts": fired},
        ],
    }]}
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(tests))
    run = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
