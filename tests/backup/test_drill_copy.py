"""The drill's copy Job and sync-wait Job scripts, run by /bin/sh with fake `mc` and `kubectl` on PATH.

The fake mc keeps each alias's buckets as folders (tmp/store/<alias>/<bucket>/<key>) and logs every
command, so a test sees exactly what was read from prod and written into the sandbox. It accepts the
subcommands and flags the script uses, as mc RELEASE.2025-08-13T08-35-41Z defines them
(cmd/alias-set.go, cmd/stat-main.go, cmd/mirror-main.go), and refuses anything else.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from kfplatform.backup import drill_copy, velero

FAKE_MC = textwrap.dedent('''\
    #!{python}
    import json, os, shutil, sys
    root = os.environ["FAKE_STORE"]
    args = sys.argv[1:]
    with open(os.path.join(root, "mc.log"), "a") as log:
        log.write(json.dumps(args) + "\\n")
    assert args[:3] == ["--config-dir", "/tmp/mc", "--quiet"], args
    args = args[3:]
    def local(url):
        alias, _, rest = url.partition("/")
        if not os.path.exists(os.path.join(root, "aliases", alias)):
            sys.exit(f"mc: <ERROR> {{alias}} is not an alias")
        return os.path.join(root, alias, rest)
    if args[:2] == ["alias", "set"] and len(args) == 6:
        name, url, access, secret = args[2:]
        if not access or not secret:
            sys.exit("mc: <ERROR> no keys")
        os.makedirs(os.path.join(root, "aliases"), exist_ok=True)
        with open(os.path.join(root, "aliases", name), "w") as f:
            f.write(url)
        sys.exit(0)
    if args[0] == "stat" and len(args) == 2:
        if os.path.isfile(local(args[1])):
            print(args[1]); sys.exit(0)
        sys.exit(f"mc: <ERROR> Unable to stat `{{args[1]}}`. Object does not exist.")
    if args[0] == "mirror" and args[1] == "--overwrite" and len(args) == 4:
        src, dst = local(args[2]), local(args[3])
        if not os.path.isdir(src):
            sys.exit(f"mc: <ERROR> Unable to stat source `{{args[2]}}`.")
        for folder, _, files in os.walk(src):
            for name in files:
                rel = os.path.relpath(os.path.join(folder, name), src)
                os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
                shutil.copyfile(os.path.join(folder, name), os.path.join(dst, rel))
        sys.exit(0)
    sys.exit(f"fake mc: unsupported {{args}}")
''')

FAKE_KUBECTL = textwrap.dedent('''\
    #!{python}
    import json, os, sys
    state = os.environ["FAKE_BACKUPS"]
    args = sys.argv[1:]
    with open(state + ".log", "a") as log:
        log.write(json.dumps(args) + "\\n")
    assert args[:4] == ["-n", "velero", "get", "backups.velero.io"], args
    assert args[5:] == ["--ignore-not-found", "-o", "jsonpath={{.status.phase}}"], args
    with open(state) as f:
        backups = json.load(f)
    name = args[4]
    # Each lookup pops the next phase of this backup (None: not synced yet); the last one stays.
    phases = backups.get(name, [None])
    phase = phases.pop(0) if len(phases) > 1 else phases[0]
    with open(state, "w") as f:
        json.dump(backups, f)
    if phase is not None:
        sys.stdout.write(phase)
''')

TENANTS, VOLUMES = "kfplatform-tenants-20261201013012", "kfplatform-tenant-volumes-20261201013013"


def _bin(tmp_path, name: str, body: str):
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(body.format(python=sys.executable))
    path.chmod(0o755)


def _put(store, key: str, text: str = "x"):
    path = store / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _tree(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def prod_bucket(tmp_path):
    """Prod's backups bucket: three nights of backups, three kopia repositories, Galera's backups."""
    prod = tmp_path / "store" / "prod" / "kfp-backups"
    for backup in (TENANTS, VOLUMES, "kfplatform-tenants-20261130013012", "kfplatform-platform-20261201010000"):
        _put(prod, f"velero/backups/{backup}/velero-backup.json", json.dumps({"metadata": {"name": backup}}))
        _put(prod, f"velero/backups/{backup}/{backup}.tar.gz", f"contents of {backup}")
    _put(prod, f"velero/backups/{VOLUMES}/{VOLUMES}-podvolumebackups.json.gz", "pvbs")
    for namespace in ("team-vision", "team-nlp", "team-speech"):
        _put(prod, f"velero/kopia/{namespace}/kopia.repository", f"format of {namespace}")
        _put(prod, f"velero/kopia/{namespace}/p0123abc", f"pack of {namespace}")
        _put(prod, f"velero/kopia/{namespace}/_log_20261201", "log")
    _put(prod, "velero/restores/drill-old/restore-drill-old-logs.gz", "prod's own restore log")
    _put(prod, "galera/physical/backup.xb", "database")
    return prod


def _plan(restores):
    return drill_copy.copy_plan(
        source_endpoint="minio-admin.ml.example.com:443", source_bucket="kfp-backups",
        target_url="https://minio.kubeflow-minio.svc.cluster.local:443", target_bucket="kfp-backups", restores=restores,
    )


def _restores(namespaces=("team-forecasting", "team-nlp", "team-vision"), volume_teams=("team-vision",)):
    return velero.drill_restores(backup=TENANTS, volumes_backup=VOLUMES if volume_teams else None,
                                 namespaces=namespaces, volume_teams=volume_teams)


def _run_copy(tmp_path, plan):
    _bin(tmp_path, "mc", FAKE_MC)
    (tmp_path / "store").mkdir(exist_ok=True)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "FAKE_STORE": str(tmp_path / "store"),
           "PROD_ACCESS_KEY": "prod-ro", "PROD_SECRET_KEY": "prod-ro-secret",
           "DRILL_ACCESS_KEY": "drill-copy", "DRILL_SECRET_KEY": "drill-copy-secret"}
    return subprocess.run(["/bin/sh", "-c", drill_copy.copy_script(plan)], env=env, capture_output=True, text=True, timeout=60)


def test_the_copy_stages_exactly_the_named_backups_and_opted_in_repositories_and_writes_nothing_in_prod(tmp_path, prod_bucket):
    before = _tree(prod_bucket)
    plan = _plan(_restores())
    assert plan.backups == (VOLUMES, TENANTS) and plan.kopia_namespaces == ("team-vision",)
    run = _run_copy(tmp_path, plan)
    assert run.returncode == 0, run.stderr
    sandbox = tmp_path / "store" / "drill" / "kfp-backups"
    copied = _tree(sandbox)
    expected = {k: v for k, v in before.items() if k.startswith((
        f"velero/backups/{TENANTS}/", f"velero/backups/{VOLUMES}/", "velero/kopia/team-vision/"))}
    assert copied == expected  # every object of each, byte for byte, and nothing else
    assert _tree(prod_bucket) == before
    log = [json.loads(line)[3:] for line in (tmp_path / "store" / "mc.log").read_text().splitlines()]
    assert not [c for c in log if c[0] == "mirror" and not c[3].startswith("drill/")]  # never a write into prod
    assert [c[2:4] for c in log if c[:2] == ["alias", "set"]] == [
        ["prod", "https://minio-admin.ml.example.com:443"], ["drill", "https://minio.kubeflow-minio.svc.cluster.local:443"]]
    # Repositories before backups: a Backup Velero can see never names data not copied yet.
    mirrors = [c[2] for c in log if c[0] == "mirror"]
    assert mirrors[0] == "prod/kfp-backups/velero/kopia/team-vision/"
    # Idempotent: a second run (a retried Job) leaves the same copy.
    again = _run_copy(tmp_path, plan)
    assert again.returncode == 0, again.stderr
    assert _tree(sandbox) == expected


def test_without_an_opted_in_team_no_repository_is_copied(tmp_path, prod_bucket):
    plan = _plan(_restores(namespaces=("team-nlp",), volume_teams=()))
    assert plan.backups == (TENANTS,) and plan.kopia_namespaces == ()
    run = _run_copy(tmp_path, plan)
    assert run.returncode == 0, run.stderr
    assert {k.split("/")[1] for k in _tree(tmp_path / "store" / "drill" / "kfp-backups")} == {"backups"}


def test_an_opted_in_team_with_no_repository_in_prod_is_a_note_not_a_failure(tmp_path, prod_bucket):
    plan = _plan(_restores(namespaces=("team-forecasting",), volume_teams=("team-forecasting",)))
    run = _run_copy(tmp_path, plan)
    assert run.returncode == 0, run.stderr
    assert "no kopia repository for team-forecasting" in run.stdout
    assert not (tmp_path / "store" / "drill" / "kfp-backups" / "velero" / "kopia").exists()


def test_a_backup_missing_from_prods_bucket_fails_the_job_before_anything_is_copied(tmp_path, prod_bucket):
    plan = drill_copy.copy_plan(
        source_endpoint="minio-admin.ml.example.com:443", source_bucket="kfp-backups", target_url="https://m:443",
        target_bucket="kfp-backups", restores=velero.drill_restores(
            backup="kfplatform-tenants-20261202013000", volumes_backup=VOLUMES, namespaces=["team-nlp", "team-vision"],
            volume_teams=["team-vision"]),
    )
    run = _run_copy(tmp_path, plan)
    assert run.returncode == 1
    assert "kfplatform-tenants-20261202013000 is not in prod's bucket" in run.stderr
    assert not (tmp_path / "store" / "drill").exists()


def test_the_job_name_follows_what_is_copied():
    one = _plan(_restores())
    assert one.job_name == _plan(_restores()).job_name and one.job_name.startswith("drill-copy-")
    assert len(one.job_name) <= 63 and len(one.sync_job_name) <= 63
    other_night = drill_copy.copy_plan(
        source_endpoint="minio-admin.ml.example.com:443", source_bucket="kfp-backups", target_url="https://x:443",
        target_bucket="kfp-backups", restores=velero.drill_restores(
            backup="kfplatform-tenants-20261202013000", volumes_backup="kfplatform-tenant-volumes-20261202013000",
            namespaces=["team-nlp", "team-vision"], volume_teams=["team-vision"]))
    fewer_volumes = _plan(_restores(volume_teams=()))
    assert len({one.job_name, other_night.job_name, fewer_volumes.job_name}) == 3


def _run_sync(tmp_path, phases: dict, backups=(TENANTS, VOLUMES), deadline_s=30):
    _bin(tmp_path, "kubectl", FAKE_KUBECTL)
    state = tmp_path / "backups.json"
    state.write_text(json.dumps(phases))
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "FAKE_BACKUPS": str(state)}
    script = drill_copy.sync_script(namespace="velero", backups=backups, deadline_s=deadline_s, poll_s=0)
    run = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    lookups = [json.loads(line)[4] for line in (tmp_path / "backups.json.log").read_text().splitlines()]
    return run, lookups


def test_the_restores_wait_until_velero_has_synced_each_backup_as_completed(tmp_path):
    # The tenants backup appears on the third look, the volumes backup is there at once.
    run, lookups = _run_sync(tmp_path, {TENANTS: [None, None, "Completed"], VOLUMES: ["Completed"]})
    assert run.returncode == 0, run.stderr
    assert lookups == [TENANTS, TENANTS, TENANTS, VOLUMES]
    assert f"backup {TENANTS} synced: Completed" in run.stdout


def test_a_synced_backup_that_is_not_completed_fails_at_once_and_a_missing_one_after_the_deadline(tmp_path):
    run, lookups = _run_sync(tmp_path, {TENANTS: ["PartiallyFailed"], VOLUMES: ["Completed"]})
    assert run.returncode == 1 and "PartiallyFailed, not Completed" in run.stderr and lookups == [TENANTS]
    (tmp_path / "backups.json.log").unlink()
    run, lookups = _run_sync(tmp_path, {TENANTS: ["Completed"]}, backups=(TENANTS, VOLUMES), deadline_s=0)
    assert run.returncode == 1 and f"backup {VOLUMES} not synced by Velero" in run.stderr
    assert lookups == [TENANTS, VOLUMES]
