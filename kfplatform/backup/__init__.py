"""Backups and the restore drill (issue 12): Velero/OADP, Galera backups, MinIO replication, the drill."""
