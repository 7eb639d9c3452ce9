"""Cross-checks of the backup configuration against the tenants (exported as CHECKS, run by the loader)."""
from __future__ import annotations

from typing import Iterable

from ..config.errors import ConfigIssue
from ..config.platform_config import KEY_PREFIX, PlatformConfig


def restored_namespaces_are_teams(config: PlatformConfig) -> Iterable[ConfigIssue]:
    """The drill restores team namespaces only: the platform's own are made by the sandbox stack itself."""
    restore = config.stack.backup.restore
    if restore is None:
        return
    teams = {t.config.name for t in config.tenants}
    unknown = [ns for ns in restore.namespaces if ns not in teams]
    if unknown:
        yield ConfigIssue(
            config.stack_file, f"{KEY_PREFIX}backup.restore.namespaces",
            f"{', '.join(unknown)}: not a team of tenants/ (teams: {', '.join(sorted(teams)) or 'none'}); "
            "the drill restores team namespaces, the stack makes the platform's own",
        )


def binlog_archive_needs_gtids_the_sst_keeps(config: PlatformConfig) -> Iterable[ConfigIssue]:
    """Point-in-time recovery needs the cluster's GTID domain (data/galera.py binlog_settings). With
    `wsrep_sst_method=mysqldump` a Galera node writes its GTIDs in domain 0, not
    wsrep_gtid_domain_id (seen on Debian's MariaDB 10.11 with galera-4: tests/backup/
    test_pitr_servers.py), so the archiver and the restore would find none of the cluster's."""
    galera = config.stack.backup.galera
    if galera is None or galera.point_in_time_recovery is None:
        return
    if config.stack.data.galera.sst == "mysqldump":
        yield ConfigIssue(
            config.stack_file, f"{KEY_PREFIX}backup.galera.pointInTimeRecovery",
            "needs data.galera.sst mariabackup or rsync: with mysqldump the nodes ignore "
            "wsrep_gtid_domain_id and no transaction is archived",
        )


# The area's cross-checks, in the order they run (composed by kfplatform/config/checks.py).
CHECKS = (restored_namespaces_are_teams, binlog_archive_needs_gtids_the_sst_keeps)
