"""Backup configuration: each bad value is refused at its key, in its file; its valid neighbour loads."""
import copy
import json

import pytest
import yaml

from kfplatform.config.errors import ConfigError
from kfplatform.config.loader import load_tenants
from kfplatform.backup.config import cron_interval_seconds, duration_seconds
from tests.conftest import PROJECT_DIR

from .helpers import KEY, backup_section, issues, load_with_backup

B = KEY + "."


def test_committed_stacks_are_valid():
    prod = load_with_backup("prod", backup_section("prod")).stack.backup
    assert prod.schedules is not None and prod.offsite is not None and prod.restore is None
    archive = prod.galera.point_in_time_recovery  # prod archives Galera's binlogs
    assert archive is not None and archive.upload_interval_seconds == 60 and archive.retention == "720h"
    sandbox = load_with_backup("sandbox", backup_section("sandbox")).stack.backup
    assert sandbox.schedules is None and sandbox.restore is not None


def _set(path: str, value):
    def change(section):
        node = section
        *parents, last = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return change


BAD = [
    # (stack, key below backup, bad value, words of the message, valid neighbour)
    ("prod", "schedules.platform.cron", "0 1 * *", "5-field cron", "*/15 * * * *"),
    ("prod", "schedules.tenants.cron", "daily", "5-field cron", "30 1 * * 1-5"),
    ("prod", "schedules.tenants.ttl", "12h", "at least 24h", "25h"),
    ("prod", "schedules.platform.ttl", "30d", "not a duration", "2160h"),
    ("prod", "galera.physical.maxRetention", "720", "not a duration", "336h"),
    ("prod", "galera.logical.maxRetention", "1h", "at least 24h", "48h"),
    ("prod", "galera.pointInTimeRecovery.uploadIntervalSeconds", 5, "greater than or equal to 10", 10),
    ("prod", "galera.pointInTimeRecovery.uploadIntervalSeconds", 7200, "less than or equal to 3600", 300),
    ("prod", "galera.pointInTimeRecovery.retention", "12h", "at least 24h", "1000h"),
    ("prod", "galera.pointInTimeRecovery.retention", "30d", "not a duration", "2160h"),
    ("prod", "galera.pointInTimeRecovery.maxLagMinutes", 0, "greater than or equal to 1", 2),
    ("prod", "galera.pointInTimeRecovery", {"retention": "719h"}, "shorter than galera.physical.maxRetention 720h",
     {"retention": "720h"}),
    ("prod", "galera.pointInTimeRecovery", {"uploadIntervalSeconds": 600, "maxLagMinutes": 19}, "shorter than two upload rounds",
     {"uploadIntervalSeconds": 600, "maxLagMinutes": 20}),
    ("prod", "galera.pointInTimeRecovery", "yes", "valid dictionary", True),
    ("prod", "galera.pointInTimeRecovery.interval", 60, "unknown key", None),
    ("prod", "offsite.endpoint", "http://s3.dr.example.com", "https://", "https://s3.dr.example.com:9000"),
    ("prod", "offsite.endpoint", "https://s3.dr.example.com/bucket", "no path", "https://s3-dr.example.com"),
    ("prod", "offsite.credentialsPath", "platform/backup/velero", "a path of its own", "platform/backup/dr-site"),
    ("prod", "offsite.bucket", "DR_Bucket", "S3 bucket name", "dr-bucket"),
    ("prod", "offsite.name", "default", "platform's own location", "dr-site"),
    ("prod", "offsite.name", "drill-copy", "platform's own location", "offsite-2"),
    ("prod", "offsite.credentialsPath", "platform/backup/drill-copy", "a path of its own", "platform/backup/drill-copies"),
    ("prod", "replication.maxLagMinutes", 0, "greater than or equal to 1", 5),
    ("sandbox", "restore.credentialsPath", "platform/backup/velero", "can write prod", "platform/backup/prod-read-only"),
    ("sandbox", "restore.credentialsPath", "platform/object-store/root", "can write prod", "platform/backup/prod-ro-2"),
    ("sandbox", "restore.credentialsPath", "tenants/team-nlp/object-store", "under platform/backup/", "platform/backup/drill"),
    # The sandbox's own generated drill keys (its MinIO) are not prod's read-only keys.
    ("sandbox", "restore.credentialsPath", "platform/backup/drill-copy", "sandbox's own generated drill keys",
     "platform/backup/drill-copy-ro"),
    ("sandbox", "restore.credentialsPath", "platform/backup/drill-restore", "sandbox's own generated drill keys",
     "platform/backup/drill-reader"),
    ("sandbox", "restore.endpoint", "https://minio-admin.ml.example.com", "host:port", "minio-admin.ml.example.com:9000"),
    ("sandbox", "restore.pointInTime", "2026-12-01T01:30:00", "time zone", "2026-12-01T01:30:00+01:00"),
    ("sandbox", "restore.backup", "Kfplatform_Tenants", "DNS label", "kfplatform-tenants-20261201013005"),
    ("sandbox", "restore.backup", "kfplatform-tenant-volumes-20261201013012", "volumes schedule's backup",
     "kfplatform-tenants-20261201020000"),
    ("sandbox", "restore.volumesBackup", "volumes backup", "DNS label", "kfplatform-tenant-volumes-20261201013007"),
    # The opted-in teams' namespaces come back from a volumes backup of the same run as `backup`.
    ("sandbox", "restore.volumesBackup", "kfplatform-tenants-20261201013013", "not a backup of the volumes schedule",
     "kfplatform-tenant-volumes-20261201013013"),
    ("sandbox", "restore.volumesBackup", "kfplatform-tenant-volumes-20261130013013", "23h59m apart",
     "kfplatform-tenant-volumes-20261201022959"),
    ("sandbox", "restore.volumesBackup", "kfplatform-tenant-volumes-20261201023013", "60 min apart",
     "kfplatform-tenant-volumes-20261201003012"),
    ("sandbox", "restore.volumesBackup", None, "team-vision back up their volumes", "kfplatform-tenant-volumes-x"),
    ("sandbox", "restore.volumesBackup", "", "team-vision back up their volumes", "kfplatform-tenant-volumes-x"),
    ("sandbox", "restore.bucket", "kfp_backups", "S3 bucket name", "kfp-backups-2"),
    ("sandbox", "restore.namespaces", ["Team-NLP"], "DNS label", ["team-nlp", "team-vision"]),
    ("sandbox", "restore.namespaces", ["kubeflow"], "not a team of tenants/", ["team-vision", "team-nlp"]),
    ("prod", "distribution", "eks", "'kubernetes' or 'openshift'", "openshift"),
    ("prod", "schedules.platform.offsite", "yes please", "valid boolean", False),
    ("prod", "offsite.name", "DR", "DNS label", "dr-site"),
    ("prod", "offsite.artifactsBucket", "a", "S3 bucket name", "ml-artifacts-dr"),
    ("prod", "galera.physical.cron", "0 3 * * * *", "5-field cron", "0 2 * * 0"),
    ("prod", "replication.cron", "every 30 minutes", "5-field cron", "*/10 * * * *"),
    ("prod", "drillReader", "sometimes", "valid boolean", False),
    ("prod", "alerts", "loud", "valid boolean", False),
]


@pytest.mark.parametrize("stack,key,bad,words,good", BAD, ids=[f"{s}:{k}={b!r}" for s, k, b, _, _ in BAD])
def test_a_bad_value_is_refused_at_its_key_and_its_neighbour_loads(stack, key, bad, words, good):
    found = issues(stack, _set(key, bad))
    at = [k for k in found if k == B + key or k.startswith(B + key + "[")]  # a list item: key[0]
    assert at, found
    assert words in found[at[0]] and found[at[0]].startswith(f"Pulumi.{stack}.yaml: ")
    section = copy.deepcopy(backup_section(stack))
    if good is None:  # a key that should not exist: its neighbour is the section without it
        *parents, last = key.split(".")
        node = section
        for part in parents:
            node = node[part]
        node.pop(last, None)
    else:
        _set(key, good)(section)
    load_with_backup(stack, section)


def test_a_volumes_backup_with_no_opted_in_team_to_restore_is_refused_and_without_it_loads():
    found = issues("sandbox", _set("restore.namespaces", ["team-nlp"]))  # team-vision opts in; team-nlp does not
    assert "no restored team backs up its volumes" in found[B + "restore.volumesBackup"]
    section = copy.deepcopy(backup_section("sandbox"))
    section["restore"]["namespaces"] = ["team-nlp"]
    section["restore"]["volumesBackup"] = ""  # what the CI job writes when no team opts in: unset
    assert load_with_backup("sandbox", section).stack.backup.restore.volumes_backup is None


def test_an_unknown_key_is_a_typo_not_a_silent_default():
    found = issues("prod", _set("schedules.tenant", {"cron": "0 2 * * *"}))
    assert "unknown key" in found[B + "schedules.tenant"]


def test_prod_must_back_up_to_an_offsite_location_and_may_not_restore():
    found = issues("prod", lambda s: s.pop("offsite") and s.pop("replication") and s["schedules"]["platform"].pop("offsite"))
    assert "off-cluster location" in found[KEY]
    found = issues("prod", _set("restore", {"backup": "x", "endpoint": "minio.example.com:443"}))
    assert "never bootstrapped from a backup" in found[B + "restore"]
    with pytest.raises(ConfigError) as raised:
        load_with_backup("prod", None)  # no backup section at all
    assert any("prod must back up" in i.message for i in raised.value.issues)


def test_a_restoring_stack_does_not_back_up_itself():
    found = issues("sandbox", _set("schedules", {}))
    assert "restore with schedules" in found[KEY] and "its own copy of prod's backups" in found[KEY]
    found = issues("sandbox", lambda s: s.update(galera={}, drillReader=True))
    assert "restore with galera, drillReader" in found[KEY]


def test_replication_needs_a_dr_bucket():
    found = issues("prod", lambda s: s["offsite"].pop("artifactsBucket"))
    assert "offsite.artifactsBucket" in found[KEY]


def test_a_sandbox_without_restore_starts_empty_and_backs_nothing_up():
    config = load_with_backup("sandbox", {}).stack.backup
    assert config.restore is None and not config.velero_needed and config.galera is None


@pytest.mark.parametrize("value,words", [("maybe", "valid boolean"), ({"x": 1}, "valid boolean")])
def test_a_tenant_opt_in_is_checked_in_the_tenant_file(tmp_path, value, words):
    tenant = yaml.safe_load((PROJECT_DIR / "tenants" / "team-nlp.yaml").read_text())
    (tmp_path / "team-nlp.yaml").write_text(yaml.safe_dump({**tenant, "backup": {"notebookVolumes": value}}))
    (tmp_path / "team-ops.yaml").write_text(yaml.safe_dump({**tenant, "name": "team-ops", "backup": {"notebookVolume": True}}))
    _, found = load_tenants(tmp_path, tmp_path, "prod")
    by_key = {(i.file, i.path): i.message for i in found}
    assert words in by_key[("team-nlp.yaml", "backup.notebookVolumes")]
    assert "unknown key" in by_key[("team-ops.yaml", "backup.notebookVolume")]
    (tmp_path / "team-nlp.yaml").write_text(yaml.safe_dump({**tenant, "backup": {"notebookVolumes": True}}))
    (tmp_path / "team-ops.yaml").unlink()
    tenants, found = load_tenants(tmp_path, tmp_path, "prod")
    assert found == [] and tenants[0].config.backup.notebook_volumes is True


@pytest.mark.parametrize("cron,seconds", [
    ("0 1 * * *", 86400), ("15 * * * *", 3600), ("*/30 * * * *", 1800), ("0 */6 * * *", 6 * 3600),
    ("0 1,13 * * *", 12 * 3600), ("0 2,4 * * *", 22 * 3600), ("0 1 * * 1-5", 3 * 86400),
])
def test_the_longest_gap_between_runs_drives_the_freshness_alerts(cron, seconds):
    assert cron_interval_seconds(cron) == seconds


def test_durations_read_like_go():
    assert duration_seconds("720h") == 720 * 3600 and duration_seconds("1h30m") == 5400 and duration_seconds("90s") == 90
    for bad in ("", "h", "30d", "1.5h"):
        with pytest.raises(ValueError):
            duration_seconds(bad)


def test_binlog_archiving_refuses_the_sst_method_that_drops_the_cluster_domain():
    from kfplatform.config.loader import load_platform_config
    from kfplatform.render.run import read_stack_config

    raw, _ = read_stack_config(PROJECT_DIR, "prod")
    data = json.loads(raw["kubeflow-platform:data"])
    data["galera"]["sst"] = "mysqldump"
    raw["kubeflow-platform:data"] = json.dumps(data)
    with pytest.raises(ConfigError) as raised:
        load_platform_config("prod", raw, PROJECT_DIR)
    found = {i.path: f"{i.file}: {i.message}" for i in raised.value.issues}
    assert "needs data.galera.sst mariabackup or rsync" in found[B + "galera.pointInTimeRecovery"]
    assert found[B + "galera.pointInTimeRecovery"].startswith("Pulumi.prod.yaml: ")
    # Its neighbour: the same data tier without the archive loads.
    section = backup_section("prod")
    section["galera"].pop("pointInTimeRecovery")
    raw[KEY] = json.dumps(section)
    assert load_platform_config("prod", raw, PROJECT_DIR).stack.backup.galera.point_in_time_recovery is None
