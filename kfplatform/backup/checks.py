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


def volumes_backup_matches_the_opted_in_teams(config: PlatformConfig) -> Iterable[ConfigIssue]:
    """Opted-in teams come back from the volumes backup alone: it must be named when one of them is
    restored, and is refused when none is (a Restore with nothing of ours to fill)."""
    restore = config.stack.backup.restore
    if restore is None:
        return
    teams = {t.config.name: t for t in config.tenants}
    selected = restore.namespaces or sorted(teams)
    opted_in = [n for n in selected if n in teams and teams[n].config.backup.notebook_volumes]
    key = f"{KEY_PREFIX}backup.restore.volumesBackup"
    if opted_in and restore.volumes_backup is None:
        yield ConfigIssue(
            config.stack_file, key,
            f"{', '.join(opted_in)} back up their volumes (backup.notebookVolumes in tenants/): name the same run's "
            "kfplatform-tenant-volumes-<time> backup (`python -m kfplatform drill-backups --stack STACK` finds it); "
            "those namespaces are restored from it alone, with their volumes' contents",
        )
    if not opted_in and restore.volumes_backup is not None:
        yield ConfigIssue(
            config.stack_file, key,
            f"{restore.volumes_backup}: no restored team backs up its volumes (backup.notebookVolumes), so nothing "
            "would be restored from it; remove the key",
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
CHECKS = (restored_namespaces_are_teams, volumes_backup_matches_the_opted_in_teams, binlog_archive_needs_gtids_the_sst_keeps)
