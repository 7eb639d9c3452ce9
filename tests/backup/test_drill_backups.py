"""`drill-backups`: prod's newest complete run, listed in prod's backups bucket itself (S3, GETs only)
with the drill reader's read-only keys from the sandbox's Vault, against fakes of both on loopback."""
from __future__ import annotations

import subprocess
import time
import types
from datetime import datetime, timezone

import pytest

from kfplatform import cli
from kfplatform.backup.drill import run as drill_run
from kfplatform.backup.drill.clients import DrillRefused
from kfplatform.backup.drill.run import newest_backups
from kfplatform.backup.drill.s3 import authorization
from tests.conftest import copy_project

from .fakes import FakeProdStore

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc).timestamp()
READ_ONLY = "platform/backup/prod-read-only"  # Pulumi.sandbox.yaml: backup.restore.credentialsPath (default)
TOKEN = "s.sandbox-ci-token"


def test_requests_are_signed_as_the_published_s3_sigv4_examples_say():
    """The signer against AWS's S3 examples (Amazon S3 API reference, "Signature Calculations for the
    Authorization Header": GET Object with Range, GET Bucket Lifecycle, GET Bucket (List Objects));
    the same vectors are in e.g. CRAN aws.signature's tests/testthat/test-v4.R."""
    keys = dict(host="examplebucket.s3.amazonaws.com", access_key="AKIAIOSFODNN7EXAMPLE",
                secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region="us-east-1", service="s3",
                amz_date="20130524T000000Z")
    cases = [
        ("/test.txt", {}, {"Range": "bytes=0-9"}, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
        ("/", {"lifecycle": ""}, {}, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        ("/", {"max-keys": "2", "prefix": "J"}, {}, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ]
    for path, query, headers, signature in cases:
        assert authorization(method="GET", path=path, query=query, headers=headers, **keys).endswith(f"Signature={signature}")


def _store():
    return FakeProdStore(bucket="kfp-backups", access_key="drillreader01", secret_key="drill-reader-secret",
                         vault_path=READ_ONLY, vault_token=TOKEN)


def _history(store: FakeProdStore):
    """Three nights of prod's backups, plus what must never be picked (more folders than one page)."""
    for day in ("20261130", "20261201", "20261202"):
        store.put_backup(f"kfplatform-tenants-{day}013012", "kfplatform-tenants")
        store.put_backup(f"kfplatform-tenant-volumes-{day}013013", "kfplatform-tenant-volumes")
    store.put_backup("kfplatform-tenants-20261203013012", "kfplatform-tenants", phase="InProgress")  # tonight's, running
    store.put_backup("kfplatform-tenants-20261102013012", "kfplatform-tenants", expiration="2026-12-02T01:30:12Z")
    store.put_backup("kfplatform-tenants-offsite-20261203003012", "kfplatform-tenants-offsite")  # another schedule
    store.put_backup("kfplatform-tenants-20261202020000", "kfplatform-platform")  # its label says another schedule
    store.put_backup("kfplatform-platform-20261202010000", "kfplatform-platform")
    store.objects["velero/backups/kfplatform-tenants-manual/velero-backup.json"] = b"{}"  # a hand-made name
    # Newer than the newest complete run, but unjudgeable: no start time, or a JSON list.
    store.objects["velero/backups/kfplatform-tenants-20261202223000/velero-backup.json"] = (
        b'{"metadata": {"name": "kfplatform-tenants-20261202223000", "labels": {"velero.io/schedule-name": '
        b'"kfplatform-tenants"}}, "status": {"phase": "Completed"}}')
    store.objects["velero/backups/kfplatform-tenants-20261202233000/velero-backup.json"] = b"[]"
    store.objects["velero/kopia/team-vision/kopia.repository"] = b"format"


def _project(tmp_path, volume_teams: bool = True):
    copy_project(tmp_path)
    if not volume_teams:  # no team backs up its volumes: no volumes backup needed
        vision = tmp_path / "tenants" / "team-vision.yaml"
        vision.write_text(vision.read_text().replace("backup: {notebookVolumes: true}", ""))
        stack = tmp_path / "Pulumi.sandbox.yaml"
        stack.write_text("\n".join(line for line in stack.read_text().splitlines() if "volumesBackup:" not in line) + "\n")
    return tmp_path


def _env(store, **extra):
    return {"VAULT_ADDR": store.url, "VAULT_TOKEN": TOKEN, **extra}


NEWEST = {
    "newest complete run": (None, True, ("kfplatform-tenants-20261202013012", "kfplatform-tenant-volumes-20261202013013"), ""),
    "last night's volumes backup partially failed: the night before": (
        lambda s: s.put_backup("kfplatform-tenant-volumes-20261202013013", "kfplatform-tenant-volumes", phase="PartiallyFailed"),
        True, ("kfplatform-tenants-20261201013012", "kfplatform-tenant-volumes-20261201013013"),
        "skipped kfplatform-tenants-20261202013012: no Completed kfplatform-tenant-volumes backup within 60 min"),
    "no opted-in team: no volumes backup needed": (
        None, False, ("kfplatform-tenants-20261202013012", ""), ""),
}


@pytest.mark.parametrize("case", list(NEWEST))
def test_drill_backups_finds_prods_newest_complete_run_in_prods_bucket(tmp_path, case):
    change, volume_teams, (backup, volumes), note = NEWEST[case]
    with _store() as store:
        _history(store)
        if change:
            change(store)
        project = _project(tmp_path, volume_teams)
        run = newest_backups(project, "sandbox", endpoint_url=store.url, env=_env(store), clock=lambda: NOW)
        assert (run.backup, run.volumes_backup or "") == (backup, volumes)
        assert note in " ".join(run.notes)
        assert store.writes() == []  # GETs only
        assert ("GET", f"/v1/kfplatform/data/{READ_ONLY}") in store.requests  # the keys came from the sandbox's Vault
        listed = [p for _, p in store.requests if "list-type=2" in p]
        assert len(listed) == 4  # 14 backup folders, 4 a page: every page was read
        fetched = {p for _, p in store.requests if p.endswith("velero-backup.json")}
        assert not [p for p in fetched if "kfplatform-platform-" in p or "offsite" in p or "manual" in p]


def test_the_cli_prints_export_lines_with_keys_from_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(drill_run, "time", types.SimpleNamespace(time=lambda: NOW, sleep=time.sleep))
    with _store() as store:
        _history(store)
        project = _project(tmp_path)
        monkeypatch.delenv("VAULT_TOKEN", raising=False)
        monkeypatch.setenv("DRILL_READER_ACCESS_KEY", "drillreader01")
        monkeypatch.setenv("DRILL_READER_SECRET_KEY", "drill-reader-secret")
        assert cli.main(["--project", str(project), "drill-backups", "--stack", "sandbox", "--endpoint-url", store.url]) == 0
        assert not [p for _, p in store.requests if p.startswith("/v1/")]  # no Vault needed
    out = capsys.readouterr().out
    shell = subprocess.run(["bash", "-c", out + 'echo "$DRILL_BACKUP|$DRILL_VOLUMES_BACKUP"'], capture_output=True,
                           text=True, timeout=10, check=True).stdout.strip()
    assert shell == "kfplatform-tenants-20261202013012|kfplatform-tenant-volumes-20261202013013"


DRILL_BACKUPS_REFUSALS = {
    "nothing complete": (lambda s: [s.put_backup(k.split("/")[2], "kfplatform-tenants", phase="Failed")
                                    for k in list(s.objects) if "/kfplatform-tenants-2" in k and k.endswith(".json")],
                         {}, "no Completed backup of schedule kfplatform-tenants within its retention in prod's bucket"),
    "no run with both": (lambda s: [s.objects.pop(k) for k in list(s.objects) if "tenant-volumes" in k], {},
                         "no run with both a Completed kfplatform-tenants backup and a Completed kfplatform-tenant-volumes"),
    "the sandbox's Vault holds other keys": (lambda s: s.vault[READ_ONLY].update(access_key="someone-else"), {},
                                             "refused GET"),
    "no Vault token and no keys": (None, dict(VAULT_TOKEN=None), "set VAULT_TOKEN"),
    "a Vault token that may not read the keys": (None, dict(VAULT_TOKEN="s.other"), "failed: HTTP 403"),
    "prod's store unreachable": (None, dict(endpoint="http://127.0.0.1:9"), "cannot reach prod's object store"),
    "the prod stack": (None, dict(stack="prod"), "never runs against prod"),
}


@pytest.mark.parametrize("case", list(DRILL_BACKUPS_REFUSALS))
def test_drill_backups_refuses_with_the_reason_and_writes_nothing(tmp_path, capsys, monkeypatch, case):
    change, where, words = DRILL_BACKUPS_REFUSALS[case]
    monkeypatch.setattr(drill_run, "time", types.SimpleNamespace(time=lambda: NOW, sleep=time.sleep))
    for key in ("DRILL_READER_ACCESS_KEY", "DRILL_READER_SECRET_KEY", "VAULT_CACERT"):
        monkeypatch.delenv(key, raising=False)
    with _store() as store:
        _history(store)
        if change:
            change(store)
        project = _project(tmp_path)
        for key, value in _env(store).items():
            monkeypatch.setenv(key, value)
        if "VAULT_TOKEN" in where:
            if where["VAULT_TOKEN"] is None:
                monkeypatch.delenv("VAULT_TOKEN")
            else:
                monkeypatch.setenv("VAULT_TOKEN", where["VAULT_TOKEN"])
        code = cli.main(["--project", str(project), "drill-backups", "--stack", where.get("stack", "sandbox"),
                         "--endpoint-url", where.get("endpoint", store.url)])
        captured = capsys.readouterr()
        assert code == 2 and captured.out == "" and words in captured.err and "Traceback" not in captured.err, captured.err
        assert store.writes() == []
        if where.get("stack") == "prod":
            assert store.requests == []  # refused before a single request


def test_a_listing_error_names_the_bucket_and_the_key(tmp_path):
    with _store() as store:
        _history(store)
        store.objects["velero/backups/kfplatform-tenants-20261202013012/velero-backup.json"] = b"not json"
        with pytest.raises(DrillRefused, match="kfp-backups/velero/backups/kfplatform-tenants-20261202013012/velero-backup.json is not JSON"):
            newest_backups(_project(tmp_path), "sandbox", endpoint_url=store.url, env=_env(store), clock=lambda: NOW)


def test_the_host_is_signed_as_sent_without_the_default_port(monkeypatch):
    """https://host:443 is sent and signed as `host` (what a proxy in front of MinIO passes on, and
    what minio-go and http.client send); another port stays in both."""
    from kfplatform.backup.drill import s3

    sent = []

    class Answer:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return b"{}"

    monkeypatch.setattr(s3.urllib.request, "urlopen", lambda request, **kw: sent.append(request) or Answer())
    clock = lambda: datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)  # noqa: E731
    for url, host in (("https://minio-admin.ml.example.com:443", "minio-admin.ml.example.com"),
                      ("https://minio-admin.ml.example.com:9000", "minio-admin.ml.example.com:9000")):
        s3.Bucket(url, "kfp-backups", "ak", "sk", clock=clock).json("velero/backups/b/velero-backup.json")
        request = sent[-1]
        assert request.get_header("Host") == host
        assert request.full_url == f"https://{host.split(':')[0]}{url[len('https://minio-admin.ml.example.com'):]}" \
            "/kfp-backups/velero/backups/b/velero-backup.json"
        expected = authorization(method="GET", host=host, path="/kfp-backups/velero/backups/b/velero-backup.json",
                                 query={}, headers={}, access_key="ak", secret_key="sk", region="us-east-1",
                                 service="s3", amz_date="20261203T090000Z")
        assert request.get_header("Authorization") == expected
