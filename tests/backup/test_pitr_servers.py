"""Point-in-time recovery on real servers (Debian's MariaDB 10.11 + galera-4, 127.0.0.1 only): the
archiver as shipped (scripts/binlog-archive.sh, a fake `mc` over a directory) streaming from a Galera
node with the platform's binlog settings, and the restore (scripts/pitr-restore.sh) into a fresh node.
"""
from __future__ import annotations

import datetime
import gzip
import os
import pathlib
import subprocess
import time
import uuid

import pytest

from kfplatform.backup import pitr
from kfplatform.backup.database import LOGICAL_PREFIX
from tests.backup.kfp_schema import DDL, insert_run
from tests.backup.pitr_servers import Archiver, GaleraNode, archived_gtids, fake_mc_path, require_galera, two_node_cluster
from tests.backup.fakes import free_port
from tests.tools import require_tool

PASSWORD = "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0dF"


def grant_archiver(node: GaleraNode) -> None:
    # What mariadb-operator runs for the archiver's User and Grant (pitr.py).
    node.sql(f"CREATE USER '{pitr.ARCHIVER_USER}'@'%' IDENTIFIED BY '{PASSWORD}'",
             f"GRANT {', '.join(pitr.ARCHIVER_PRIVILEGES)} ON *.* TO '{pitr.ARCHIVER_USER}'@'%'")


def kfp_schema(node: GaleraNode) -> None:
    node.sql("CREATE DATABASE mlpipeline", "CREATE DATABASE metadb")
    # KFP connects with its database selected (GORM's DSN names it), as here.
    node.sql(*DDL, database="mlpipeline")
    node.sql("CREATE TABLE Artifact (id int PRIMARY KEY AUTO_INCREMENT, uri text)", database="metadb")


def add_runs(node: GaleraNode, count: int, tag: str) -> list[str]:
    ids = []
    with node.connect("mlpipeline") as c, c.cursor() as cur:
        for _ in range(count):
            run = f"{tag}-{uuid.uuid4()}"
            insert_run(cur, run, "team-nlp", "exp", int(time.time()))
            cur.execute("INSERT INTO metadb.Artifact (uri) VALUES (%s)", (f"minio://mlpipeline/{run}",))
            ids.append(run)
    return ids


@pytest.fixture
def node(tmp_path):
    require_galera()
    server = GaleraNode(tmp_path, "a").start()
    yield server
    server.stop()


def test_archived_binlogs_are_whole_transactions_and_resume_on_another_node_without_gap_or_duplicate(tmp_path):
    require_galera()
    a, b = two_node_cluster(tmp_path)
    try:
        grant_archiver(a)
        kfp_schema(a)
        start = a.domain_seq()
        # The first host is gone (nothing listens there): the archiver moves on to the next. The store
        # is down at first: nothing starts until the archiver can see what the bucket holds.
        archiver = Archiver(tmp_path, [free_port(), a.port, b.port], PASSWORD)
        down = pathlib.Path(archiver.env["FAKE_MC_ROOT"]) / ".down"
        down.touch()
        archiver.start()
        try:
            deadline = time.monotonic() + 10
            while "cannot list" not in archiver.logs():
                assert time.monotonic() < deadline, archiver.logs()
                time.sleep(0.05)
            down.unlink()
            archiver.wait_streaming()
            add_runs(a, 5, "before-rotate")
            a.sql("FLUSH BINARY LOGS")  # a closed file is uploaded to its end
            add_runs(a, 5, "open-file")  # the open file up to its last transaction...
            archiver.wait_for(a.domain_seq())
            add_runs(a, 3, "open-file-more")  # ...and what follows, in a segment of its own
            archiver.wait_for(a.domain_seq())
            # The pod dies (its local files with it) and the node it read from goes away; the
            # cluster goes on writing on the other node. The new pod resumes there, by GTID: that
            # node's binlog files have other names and offsets, the same transactions.
            archiver.kill()
            a.stop()
            add_runs(b, 4, "node-a-gone")
            archiver.start()
            add_runs(b, 3, "after-restart")
            archiver.wait_for(b.domain_seq())
            archiver.wait_healthy()  # the readiness probe's marker: a round that found everything archived
            assert "streaming from 127.0.0.1:%d" % b.port in (tmp_path / "archiver-2.log").read_text()
            end = b.domain_seq()
        finally:
            archiver.stop()
    finally:
        b.stop()
        a.stop()
    names = sorted(p.name for p in archiver.archive_dir.iterdir())
    # Segments of closed and open files (several of one file: written once each, never replaced),
    # from both pods' sessions.
    sessions = {n.split(".", 2)[1] for n in names}
    first_session = min(sessions)
    assert len(sessions) >= 2 and len({n for n in names if first_session in n}) >= 3, names
    assert len(names) > len({n.split(".", 1)[1] for n in names}), names
    seqs = archived_gtids(archiver.archive_dir)
    assert seqs == list(range(start + 1, end + 1)), archiver.logs()[-2000:]


def logical_backup(node: GaleraNode, bucket_root, when: datetime.datetime | None = None) -> str:
    """A logical backup as mariadb-operator 26.6.0 takes it (pkg/command/backup.go: mariadbDumpArgs
    for a Galera MariaDB with `databases`, plus the Backup's `args`), gzip, named
    `backup.<UTC start>.sql.gz` (newBackupFile) under galera/logical/."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    name = f"backup.{when.strftime('%Y-%m-%dT%H:%M:%SZ')}.sql.gz"
    dump = subprocess.run(
        [require_tool("mariadb-dump"), "-h127.0.0.1", f"-P{node.port}", "-uroot", "--single-transaction", "--events",
         "--routines", "--databases", "mlpipeline", "metadb", "--skip-add-locks", *pitr.LOGICAL_BACKUP_ARGS],
        capture_output=True, check=True, timeout=30,
    ).stdout
    target = bucket_root / "kfp-backups" / LOGICAL_PREFIX / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(gzip.compress(dump))
    return name


def runs(node: GaleraNode) -> set[str]:
    return {r[0] for r in node.sql("SELECT UUID FROM run_details", database="mlpipeline")}


def artifacts(node: GaleraNode) -> set[str]:
    return {r[0].rsplit("/", 1)[1] for r in node.sql("SELECT uri FROM Artifact", database="metadb")}


def test_restore_to_a_point_in_time_from_a_logical_backup_and_archived_binlogs(node, tmp_path):
    grant_archiver(node)
    kfp_schema(node)
    (tmp_path / "archiver").mkdir()
    archiver = Archiver(tmp_path / "archiver", [node.port], PASSWORD)
    bucket_root = tmp_path / "archiver" / "bucket-root"
    # A piece older than the retention (720h): removed by the archiver.
    expired = archiver.archive_dir / f"{0:020d}-{0:020d}.20261001T000000Z-1-old.galera-bin.000001"
    expired.parent.mkdir(parents=True)
    expired.write_bytes(b"old")
    os.utime(expired, (time.time() - 721 * 3600,) * 2)
    archiver.start()
    try:
        archiver.wait_streaming()
        in_base = add_runs(node, 3, "base")
        base = logical_backup(node, bucket_root)
        t1 = add_runs(node, 2, "t1")
        node.sql("FLUSH BINARY LOGS")
        archiver.wait_for(node.domain_seq())
        archiver.kill()  # the replay crosses two archiver sessions
        archiver.start()
        archiver.wait_streaming()
        t1 += add_runs(node, 2, "t1b")  # in a piece of its own
        node.sql("FLUSH BINARY LOGS")
        point = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=1)
        while datetime.datetime.now(datetime.timezone.utc) < point:
            time.sleep(0.02)
        t2 = add_runs(node, 4, "t2")
        # A backup named after the point holds t2: the restore must not take it.
        logical_backup(node, bucket_root, point + datetime.timedelta(seconds=1))
        archiver.wait_for(node.domain_seq())
    finally:
        archiver.stop()
    assert not expired.exists()
    # The sandbox's cluster, bootstrapped from an older physical backup: an older schema, and
    # Katib's database, which the point-in-time restore leaves alone.
    target = GaleraNode(tmp_path, "b").start()
    try:
        kfp_schema(target)
        target.sql("CREATE DATABASE katib", "CREATE TABLE katib.trials (id int PRIMARY KEY)", "INSERT INTO katib.trials VALUES (7)")
        env = {
            **fake_mc_path(tmp_path / "archiver"), "WORK": str(tmp_path / "restore"), "TARGET_PORT": str(target.port),
            "TARGET_USER": "root", "MYSQL_PWD": "",
            **pitr.restore_environment(
                archive=f"backups/kfp-backups/{pitr.BINLOG_PREFIX}", logical=f"backups/kfp-backups/{LOGICAL_PREFIX}",
                point=point.strftime("%Y-%m-%dT%H:%M:%SZ"), databases=("mlpipeline", "metadb"), host="127.0.0.1",
            ),
        }
        restore = ["bash", str(pitr.RESTORE_SCRIPT)]
        # A piece missing between the base and the point: refused before anything is touched.
        pieces = sorted(archiver.archive_dir.iterdir())
        assert len({p.name.split(".")[1] for p in pieces}) == 2, pieces  # two sessions
        middle = next(p for p in pieces if p.name.endswith(".galera-bin.000002"))
        aside = middle.rename(tmp_path / middle.name)
        out = subprocess.run(restore, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 1 and "are not in the archive (nothing was changed)" in out.stderr, out.stderr
        assert runs(target) == set() and target.sql("SELECT id FROM katib.trials") == [(7,)]
        aside.rename(middle)
        out = subprocess.run(restore, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"base {base}" in out.stdout and "the archive's newest transaction" in out.stdout, out.stdout
        assert runs(target) == set(in_base + t1), out.stdout + out.stderr
        assert artifacts(target) == set(in_base + t1)
        assert not runs(target) & set(t2)
        assert target.sql("SELECT id FROM katib.trials") == [(7,)]
    finally:
        target.stop()


def test_the_sst_method_the_config_refuses_drops_the_cluster_domain(tmp_path):
    """Why `pointInTimeRecovery` refuses `data.galera.sst: mysqldump` (backup/checks.py): with it a
    node writes its GTIDs in domain 0, not wsrep_gtid_domain_id. (With mariabackup, prod's method and
    the other tests' nodes, the cluster's domain holds: their archives are checked by its numbers.)"""
    require_galera()
    node = GaleraNode(tmp_path, "mysqldump")
    (node.dir / "my.cnf").write_text((node.dir / "my.cnf").read_text() + "wsrep_sst_method=mysqldump\n")
    node.start()
    try:
        node.sql("CREATE DATABASE mlpipeline")
        assert node.sql("SELECT @@GLOBAL.gtid_binlog_pos")[0][0].split("-")[0] == "0"
        assert node.sql("SELECT @@GLOBAL.wsrep_gtid_domain_id")[0][0] == pitr.GTID_DOMAIN
    finally:
        node.stop()
