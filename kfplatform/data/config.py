"""Configuration of the data tier (`kubeflow-platform:data` in `Pulumi.<stack>.yaml`).

Rules that only hold in prod (odd Galera >= 3, ProxySQL >= 2, MinIO >= 4 servers that survive the
loss of one, key rotation <= 180 days, a Retain reclaim policy) are checked with `is_prod(info)` so
the error names the key that must change. The pool geometry lock is a cross-check (geometry.py).
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from ..config.base import DnsLabel, Model, Quantity, SizeQuantity, is_prod, quantity_value
from .erasure import default_parity, erasure_set_size, servers_tolerated

BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# host:port, the host a DNS name (no empty label: `a..b`), the port 1..65535.
HOST_PORT = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
    r":(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
)

DEFAULT_ARTIFACT_BUCKET = "mlpipeline"  # what KFP's manifests name its bucket
PROD_MAX_KEY_AGE_DAYS = 180
# Connections a Galera node keeps for the operator, its agent, the exporter and ProxySQL's monitor.
RESERVED_DB_CONNECTIONS = 50


def _host_port(value: str) -> str:
    if not HOST_PORT.fullmatch(value):
        raise ValueError(f"{value!r}: give host:port without scheme, e.g. minio-admin.example.com:443")
    return value


# An S3 endpoint the runner or a client dials: `host:port`, no scheme, no path (data tier, backups).
HostPort = Annotated[str, AfterValidator(_host_port)]


def _bucket(value: str) -> str:
    # minio-go v7.3.0 pkg/s3utils/utils.go `CheckValidBucketNameStrict` (what the MinIO server and
    # its clients apply): also no `..`, `.-` or `-.`, and not shaped like an IPv4 address.
    if (not BUCKET.fullmatch(value) or any(bad in value for bad in ("..", ".-", "-."))
            or re.fullmatch(r"([0-9]+\.){3}[0-9]+", value)):
        raise ValueError(
            f"{value!r} is not an S3 bucket name (3-63 lower-case letters, digits, '-', '.'; no '..', '.-' or '-.'; "
            "not an IP address)"
        )
    return value


BucketName = Annotated[str, AfterValidator(_bucket)]


class ComputeResources(Model):
    requests: dict[Literal["cpu", "memory"], Quantity] = {}
    limits: dict[Literal["cpu", "memory"], Quantity] = {}

    @model_validator(mode="after")
    def _request_within_limit(self) -> "ComputeResources":
        # The API server refuses a container whose request exceeds its limit (ValidateResourceRequirements).
        for name, request in self.requests.items():
            limit = self.limits.get(name)
            if limit is not None and quantity_value(request) > quantity_value(limit):
                raise ValueError(f"requests.{name} {request} is above limits.{name} {limit}")
        return self

    def as_k8s(self) -> dict:
        out = {}
        if self.requests:
            out["requests"] = {k: str(v) for k, v in self.requests.items()}
        if self.limits:
            out["limits"] = {k: str(v) for k, v in self.limits.items()}
        return out


class StorageClassConfig(Model):
    """The StorageClass the data tier owns for Galera's and MinIO's volumes."""

    name: DnsLabel = "kfp-data-retain"
    provisioner: str = Field(min_length=1)
    parameters: dict[str, str] = {}
    # Retain: deleting a PVC (or the whole Tenant/MariaDB) leaves the disk and its data behind.
    reclaim_policy: Literal["Retain", "Delete"] = "Retain"
    allow_volume_expansion: bool = True

    @field_validator("reclaim_policy")
    @classmethod
    def _retain_in_prod(cls, value: str, info: ValidationInfo) -> str:
        if value != "Retain" and is_prod(info):
            raise ValueError("prod data volumes must outlive their claims: use Retain")
        return value


class GaleraConfig(Model):
    replicas: int = Field(default=3, ge=1)
    storage_size: SizeQuantity = "50Gi"
    resources: ComputeResources = ComputeResources(requests={"cpu": "1", "memory": "4Gi"}, limits={"memory": "4Gi"})
    max_connections: int = Field(default=1000, ge=100)
    sst: Literal["mariabackup", "rsync", "mysqldump"] = "mariabackup"

    @field_validator("replicas")
    @classmethod
    def _quorum(cls, value: int, info: ValidationInfo) -> int:
        if value % 2 == 0:
            raise ValueError(f"{value} Galera nodes can split into two equal halves with no quorum; use an odd number")
        if is_prod(info) and value < 3:
            raise ValueError(f"prod needs at least 3 Galera nodes to survive losing one (got {value})")
        return value

    def innodb_buffer_pool(self) -> str | None:
        """Half the memory limit, in MiB (the rest: connections, Galera's gcache, the page cache)."""
        memory = self.resources.limits.get("memory")
        if memory is None:
            return None
        return f"{int(quantity_value(memory) / 2 / 2**20)}M"


class ProxySqlConfig(Model):
    replicas: int = Field(default=2, ge=1)
    # Backend connections one ProxySQL replica may open to one Galera node (mysql_servers.max_connections).
    max_backend_connections: int = Field(default=300, ge=10)
    threads: int = Field(default=4, ge=1, le=64)
    resources: ComputeResources = ComputeResources(requests={"cpu": "250m", "memory": "256Mi"}, limits={"memory": "1Gi"})

    @field_validator("replicas")
    @classmethod
    def _ha(cls, value: int, info: ValidationInfo) -> int:
        if is_prod(info) and value < 2:
            raise ValueError(f"ProxySQL is the only database endpoint: prod needs at least 2 replicas (got {value})")
        return value


class ObjectStorePool(Model):
    """One MinIO server pool. `servers` and `volumesPerServer` never change once created (geometry.py)."""

    name: DnsLabel
    servers: int = Field(ge=1)
    volumes_per_server: int = Field(ge=1)
    volume_size: SizeQuantity
    resources: ComputeResources = ComputeResources(requests={"cpu": "1", "memory": "4Gi"}, limits={"memory": "8Gi"})

    @property
    def drives(self) -> int:
        return self.servers * self.volumes_per_server

    @property
    def set_size(self) -> int | None:
        return erasure_set_size(self.servers, self.volumes_per_server)

    @model_validator(mode="after")
    def _geometry(self, info: ValidationInfo) -> "ObjectStorePool":
        if self.drives < 4:
            raise ValueError(
                f"servers x volumesPerServer = {self.servers} x {self.volumes_per_server} = {self.drives}; "
                "a MinIO pool needs at least 4 drives for erasure coding"
            )
        if self.set_size is None:
            raise ValueError(f"{self.drives} drives cannot be split into erasure sets of 2 to 16 drives")
        if is_prod(info) and self.servers < 4:
            raise ValueError(f"prod pools need at least 4 servers so one node can fail (got {self.servers})")
        return self


class BucketNames(Model):
    artifacts: BucketName = DEFAULT_ARTIFACT_BUCKET  # KFP's pipeline root (versioned)
    backups: BucketName = "kfp-backups"  # database backups (versioned)
    audit: BucketName = "kfp-audit"  # write-once: created with object locking

    @model_validator(mode="after")
    def _distinct(self) -> "BucketNames":
        names = [self.artifacts, self.backups, self.audit]
        if len(set(names)) != len(names):
            raise ValueError(f"bucket names must differ: {names}")
        return self


class NoncurrentVersionDays(Model):
    """How long a versioned bucket keeps an object's previous versions (overwritten or deleted).

    Versioning protects against a mistaken or malicious delete; without a lifecycle rule every
    version ever deleted stays forever, so the backups bucket (Velero's GC, the Galera backups'
    `maxRetention`, the binlog archive's pruning all delete) would grow without bound. `null` keeps
    them forever. The artifact bucket defaults to `null`: a pipeline reads a dataset at the S3
    version id its manifest pins (docs/workloads.md), and an overwritten dataset's pinned version is
    a noncurrent one.
    """
    artifacts: int | None = Field(default=None, ge=1, le=3650)
    backups: int | None = Field(default=14, ge=1, le=3650)


DEFAULT_KEY_GRACE_HOURS = 48


class ObjectStoreConfig(Model):
    pools: list[ObjectStorePool] = Field(min_length=1)
    # Erasure-coding parity (EC:N) for the STANDARD storage class; default: MinIO's for the smallest set.
    parity: int | None = Field(default=None, ge=0, le=8)
    buckets: BucketNames = BucketNames()
    # Days a deleted or overwritten object's previous version is kept, per bucket (the audit bucket
    # is governed by its object lock instead).
    noncurrent_version_days: NoncurrentVersionDays = NoncurrentVersionDays()
    # The MinIO S3/admin API as the machine running `pulumi up` reaches it (host:port, TLS).
    admin_endpoint: HostPort
    # CA bundle (path on the runner) to verify admin_endpoint; default: the runner's trust store.
    admin_ca_cert_file: str | None = None
    # Object-store access keys are replaced by the first `pulumi up` after this many days.
    access_key_max_age_days: int = Field(default=90, ge=1, le=365)
    # After a rotation, the previous key's user is removed once the new keys are this old: what
    # still holds the old key (a pipeline step started before the rotation) has this long to finish.
    # 0 removes it at once. Shorter than the keys' maximum age (object_users.py). Default: 48 hours,
    # or half the keys' maximum age when that is shorter (`key_grace_hours`).
    previous_key_grace_hours: int | None = Field(default=None, ge=0, le=24 * 30)

    @field_validator("access_key_max_age_days")
    @classmethod
    def _rotation(cls, value: int, info: ValidationInfo) -> int:
        if is_prod(info) and value > PROD_MAX_KEY_AGE_DAYS:
            raise ValueError(f"prod access keys must rotate at least every {PROD_MAX_KEY_AGE_DAYS} days (got {value})")
        return value

    @field_validator("pools")
    @classmethod
    def _unique(cls, pools: list[ObjectStorePool]) -> list[ObjectStorePool]:
        names = [p.name for p in pools]
        if len(set(names)) != len(names):
            raise ValueError(f"pool names must be unique (they identify a pool's immutable geometry): {names}")
        return pools

    @model_validator(mode="after")
    def _grace_within_key_age(self) -> "ObjectStoreConfig":
        hours = self.access_key_max_age_days * 24
        if self.previous_key_grace_hours is not None and self.previous_key_grace_hours >= hours:
            raise ValueError(
                f"previousKeyGraceHours ({self.previous_key_grace_hours}) must be shorter than accessKeyMaxAgeDays "
                f"({self.access_key_max_age_days} days = {hours} hours): a key's previous key would outlive it"
            )
        return self

    @model_validator(mode="after")
    def _parity(self, info: ValidationInfo) -> "ObjectStoreConfig":
        parity = self.effective_parity
        for pool in self.pools:
            set_size = pool.set_size
            if parity > set_size // 2:
                raise ValueError(
                    f"parity EC:{parity} exceeds half of pool {pool.name!r}'s erasure set "
                    f"({set_size} drives from {pool.servers} x {pool.volumes_per_server}); at most EC:{set_size // 2}"
                )
            if is_prod(info) and servers_tolerated(pool.servers, pool.volumes_per_server, parity) < 1:
                raise ValueError(
                    f"with EC:{parity}, pool {pool.name!r} ({pool.servers} x {pool.volumes_per_server}, sets of "
                    f"{set_size}) stops accepting writes when one server is down; raise parity or add servers"
                )
        return self

    @property
    def key_grace_hours(self) -> int:
        """How long a rotated-out key keeps working: `previousKeyGraceHours`, or its default."""
        if self.previous_key_grace_hours is not None:
            return self.previous_key_grace_hours
        return min(DEFAULT_KEY_GRACE_HOURS, self.access_key_max_age_days * 24 // 2)

    @property
    def effective_parity(self) -> int:
        if self.parity is not None:
            return self.parity
        return min(default_parity(pool.set_size or 0) for pool in self.pools)

    @property
    def storage_class_standard(self) -> str:
        return f"EC:{self.effective_parity}"


class DataTierConfig(Model):
    storage_class: StorageClassConfig
    galera: GaleraConfig = GaleraConfig()
    proxysql: ProxySqlConfig = ProxySqlConfig()
    object_store: ObjectStoreConfig

    @model_validator(mode="after")
    def _connection_budget(self) -> "DataTierConfig":
        # Every ProxySQL replica may open max_backend_connections to the writer node at once.
        needed = self.proxysql.replicas * self.proxysql.max_backend_connections + RESERVED_DB_CONNECTIONS
        if needed > self.galera.max_connections:
            raise ValueError(
                f"proxysql: {self.proxysql.replicas} replicas x maxBackendConnections "
                f"{self.proxysql.max_backend_connections} + {RESERVED_DB_CONNECTIONS} reserved = {needed} exceeds "
                f"galera.maxConnections {self.galera.max_connections}; the writer would refuse connections"
            )
        return self

    @property
    def max_user_connections(self) -> int:
        """Per-account limit on a Galera node: what all ProxySQL replicas together may open."""
        return self.proxysql.replicas * self.proxysql.max_backend_connections
