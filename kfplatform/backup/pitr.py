"""Galera point-in-time recovery: binlog archiving and the restore to an instant.

mariadb-operator 26.6.0's `PointInTimeRecovery` does not archive Galera's binlogs (docs/pitr.md
"Supported MariaDB versions and topologies" at tag v26.6.0: asynchronous replication only;
internal/controller/mariadb_controller_pitr.go: "TODO: handle galera"), so the platform does it:

- every Galera node writes binlogs with one GTID sequence for the cluster (data/galera.py
  binlog_settings: wsrep_gtid_mode, a fixed wsrep_gtid_domain_id, log_slave_updates, one server_id);
- the archiver (a Deployment of one pod in the database namespace) streams them as a replication
  client, `mariadb-binlog --read-from-remote-server --raw --stop-never --start-position=<GTID>`
  (scripts/binlog-archive.sh), and copies them with `mc` into the backups bucket under
  `galera/binlog/` with the galera-backup MinIO account (its policy already covers `galera/*`);
- the hourly logical backup records its GTID position (`--master-data=2 --gtid`,
  LOGICAL_BACKUP_ARGS), so a restore knows where in the binlogs its snapshot stands;
- the sandbox's `backup.restore.pointInTime` runs scripts/pitr-restore.sh in a Job: the newest
  logical backup at or before the point, then the archived binlogs from its GTID to the point.

What each script relies on was run against Debian's MariaDB 10.11 with galera-4 in
tests/backup/test_pitr_servers.py; the options exist in 11.8 too (see the docs/backups.md section).
"""
from __future__ import annotations

import pathlib
import shlex

from ..data.galera import GTID_DOMAIN_ID, SERVER_ID

SCRIPTS = pathlib.Path(__file__).parent / "scripts"
ARCHIVE_SCRIPT = SCRIPTS / "binlog-archive.sh"
RESTORE_SCRIPT = SCRIPTS / "pitr-restore.sh"

GTID_DOMAIN = GTID_DOMAIN_ID
GTID_SERVER_ID = SERVER_ID
BINLOG_PREFIX = "galera/binlog"
ARCHIVER = "galera-binlog-archiver"
ARCHIVER_USER = "binlog-archiver"
# A binlog dump (COM_BINLOG_DUMP) needs REPLICATION SLAVE and nothing else; reading
# @@gtid_binlog_pos needs no privilege. Granted on *.* (a global privilege); tested: the archiver
# runs with exactly this grant in tests/backup/test_pitr_servers.py.
ARCHIVER_PRIVILEGES = ("REPLICATION SLAVE",)
# mariadb-binlog registers as a replica with this id while it waits (--stop-never-slave-server-id);
# it must differ from the nodes' server_id (data/galera.py SERVER_ID).
ARCHIVER_REPLICA_ID = 4000
# mariadb-dump options that write the snapshot's GTID position as a comment
# (`-- SET GLOBAL gtid_slave_pos='<D>-<S>-<N>'`; `--master-data=2` comments the CHANGE MASTER out,
# `--gtid` makes it the GTID form). With --single-transaction (which mariadb-operator always passes,
# pkg/command/backup.go mariadbDumpArgs at v26.6.0) the position is the snapshot's, taken without a
# global lock. Passed through the Backup CRD's `args` (ExtraOpts, merged by mariadbDumpArgs).
LOGICAL_BACKUP_ARGS = ("--master-data=2", "--gtid")


def archiver_environment(*, hosts: str, archive: str, interval_seconds: float, retention_hours: int) -> dict[str, str]:
    """The archiver's settings (everything but secrets and the work directory)."""
    return {
        "BINLOG_HOSTS": hosts,
        "BINLOG_USER": ARCHIVER_USER,
        "GTID_DOMAIN": str(GTID_DOMAIN),
        "GTID_SERVER_ID": str(GTID_SERVER_ID),
        "ARCHIVE": archive,
        "INTERVAL": f"{interval_seconds:g}",
        "SLAVE_ID": str(ARCHIVER_REPLICA_ID),
        "PRUNE_OLDER_THAN": f"{retention_hours}h",
    }


def restore_environment(*, archive: str, logical: str, point: str, databases: tuple[str, ...], host: str) -> dict[str, str]:
    return {
        "ARCHIVE": archive,
        "LOGICAL": logical,
        "POINT": point,
        "DATABASES": " ".join(shlex.quote(d) for d in databases),
        "GTID_DOMAIN": str(GTID_DOMAIN),
        "TARGET_HOST": host,
    }
