"""The data tier: MariaDB Galera behind ProxySQL, distributed MinIO, per-tenant object-store access."""
