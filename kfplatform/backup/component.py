"""Backups: one box of the posture diagram.

    prod:    Velero (chart or OADP) ── BackupStorageLocations (backups bucket, offsite) ── Schedules
             Galera ── PhysicalBackup (replica) + logical Backup (KFP, MLMD) ── backups bucket galera/*
             artifact bucket ── mc CronJob ── MinIO bucket replication ── DR bucket
             PrometheusRule: failed, too old, replication failing/lagging
    sandbox: copy Job (prod's read-only keys) ── the drilled backups and kopia repositories into the
             sandbox's OWN backups bucket ── READ-ONLY location there ── wait Job (Backups synced)
             ── Restores of the selected namespaces (drill_copy.py: why the copy)
             (the data tier itself is bootstrapped from prod's physical backup: restore_bootstrap())
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_vault as vault

from ..config.base import duration_seconds
from ..config.platform_config import TenantFile
from ..config.stack import StackConfig
from ..data.endpoints import OBJECT_STORE_CA_CONFIGMAP, OBJECT_STORE_CA_KEY, DataEndpoints
from ..data.galera import GALERA_NAME, PASSWORD_KEY, ROOT_SECRET, WATCH_LABELS, galera_hosts
from ..data.object_store import ObjectAccount
from ..data.object_users import ObjectUsers
from ..data.operators import _release
from ..data.releases import MARIADB
from ..k8s import child, custom_resource, meta
from ..secrets.database import static_credentials_reason
from ..secrets.plane import SecretsPlane, platform_path
from . import accounts, database, drill_copy, pitr, releases, replication, velero
from .alerts import RULE_NAME, backup_rules
from .config import (
    DRILL_COPY_PATH, DRILL_READER_PATH, DRILL_RESTORE_PATH, GALERA_WRITER_PATH, REPLICATION_PATH, VELERO_WRITER_PATH,
    BackupConfig,
)

COMPONENT = "backup"
CA_PATH = "platform/backup/object-store-ca"  # the cluster CA (public), for clients that want a Secret
RESTORE_DB_SECRET = "prod-backups-read-only"  # database namespace, the sandbox's bootstrapFrom keys
WAIT = "pulumi.com/waitFor"
REPLACE_UNREADY = "pulumi.com/replaceUnready"


@dataclass(frozen=True)
class RestoreBootstrap:
    """What the sandbox's Galera cluster is bootstrapped from (MariaDB.spec.bootstrapFrom)."""

    spec: dict
    depends_on: tuple[pulumi.Resource, ...]


def restore_bootstrap(stack: StackConfig, secrets: SecretsPlane) -> RestoreBootstrap | None:
    """None unless the stack restores from a backup (`backup.restore`, sandbox only).

    Called before the data tier: the read-only keys are delivered into the database namespace
    first, and the `MariaDB` starts from prod's newest physical backup (before `pointInTime`).
    """
    restore = stack.backup.restore
    if restore is None:
        return None
    delivered = secrets.deliver(
        stack.cluster.namespaces.database, RESTORE_DB_SECRET, restore.credentials_path,
        {database.ACCESS_KEY: "access_key", database.SECRET_KEY: "secret_key"},
    )
    spec = database.bootstrap_from(
        endpoint=restore.endpoint, bucket=restore.bucket, secret=RESTORE_DB_SECRET, point_in_time=restore.point_in_time,
    )
    return RestoreBootstrap(spec, (delivered,))


@dataclass(frozen=True)
class BackupsArgs:
    """What the backups box reads: the stack and tenants, and what the other boxes made."""

    stack: StackConfig
    tenants: Sequence[TenantFile]
    secrets: SecretsPlane
    namespaces: Mapping[str, pulumi.Resource]  # the platform's Namespace objects by role
    tenant_namespaces: Mapping[str, pulumi.Resource]
    endpoints: DataEndpoints
    galera: Sequence[pulumi.Resource]  # the mariadb-operator release and the MariaDB
    buckets: Mapping[str, pulumi.Resource]
    minio_provider: pulumi.ProviderResource
    vault_provider: pulumi.ProviderResource
    object_users: ObjectUsers  # makes the accounts' MinIO users in-cluster (data/object_users.py)


class Backups(pulumi.ComponentResource):
    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kfplatform:backup:Backups", name, None, opts)
        self._args = args
        stack = args.stack
        config: BackupConfig = stack.backup
        self.config = config
        self.namespace = stack.cluster.namespaces.backup
        self.schedules: dict[str, pulumi.Resource] = {}
        self.outputs: dict = {}
        if not config.velero_needed and config.galera is None:
            self.register_outputs({})
            return
        self._pulls = [args.secrets.pull_secret_delivery(self.namespace)]
        self._store_url = f"https://{args.endpoints.object_store_host}:{args.endpoints.object_store_port}"
        ca_pem, ca_b64 = self._cluster_ca(name)
        # Velero writes when it has schedules to run or Galera backups to keep; the sandbox only reads.
        writes = config.schedules is not None or config.galera is not None
        velero_credentials = self._object_store_accounts(writes)
        self._velero(velero_credentials, ca_b64, writes)
        self._storage_locations()
        self._schedules()
        if config.galera is not None:
            self._galera_backups(ca_pem)
        if config.replication is not None and config.offsite is not None:
            self._artifact_replication()
        if config.restore is not None:
            self._drill_restore(ca_b64)
            if config.restore.point_in_time is not None:
                self._point_in_time_restore()
        self._alerts()
        self.outputs["backupSchedules"] = sorted(self.schedules)
        self.register_outputs(self.outputs)

    def _in_ns(self, role: str) -> list[pulumi.Resource]:
        return [self._args.namespaces[role]] if role in self._args.namespaces else []

    def _cluster_ca(self, name: str) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """The cluster CA (PEM, and base64 for Velero), read at deploy time.

        The cluster CA signs MinIO's certificate (data/endpoints.py). Velero takes it inline (base64);
        mariadb-operator only from a Secret, so it is written to Vault and delivered by ESO."""
        root_ca = k8s.core.v1.ConfigMap.get(
            f"{name}-kube-root-ca", f"kube-system/{OBJECT_STORE_CA_CONFIGMAP}", opts=pulumi.ResourceOptions(parent=self)
        )
        ca_pem = root_ca.data.apply(lambda data: (data or {}).get(OBJECT_STORE_CA_KEY) or "")
        ca_b64 = ca_pem.apply(lambda pem: base64.b64encode(pem.encode()).decode() if pem else "")
        return ca_pem, ca_b64

    def _object_store_accounts(self, writes: bool) -> list[pulumi.Resource]:
        """Velero's writer account, the drill's reader, and Velero's credential Secrets (returned)."""
        args, config = self._args, self.config
        secrets, store, buckets = args.secrets, args.stack.data.object_store, args.buckets
        backups_bucket = store.buckets.backups
        velero_creds: list[pulumi.Resource] = []
        if writes:
            velero_account = self._account(
                "velero-object-store", VELERO_WRITER_PATH, "backup-velero",
                accounts.prefix_writer_policy(backups_bucket, velero.BUCKET_PREFIX), secrets, store, args.minio_provider,
                [buckets["backups"]],
            )
            velero_creds.append(self._cloud_secret(secrets, velero.CREDENTIALS_SECRET, VELERO_WRITER_PATH, [velero_account.ready]))
        if config.drill_reader:
            self._account(
                "drill-reader-object-store", DRILL_READER_PATH, "backup-drill-reader",
                accounts.read_only_policy(backups_bucket), secrets, store, args.minio_provider, [buckets["backups"]],
            )
        if config.restore is not None:
            # The sandbox's Velero holds no key of prod's: its credentials are the sandbox's own
            # drill-restore account (read velero/*, write velero/restores/* of the SANDBOX's bucket).
            restore_account = self._account(
                "drill-restore-object-store", DRILL_RESTORE_PATH, "backup-drill-restore",
                accounts.drill_restore_policy(backups_bucket, velero.BUCKET_PREFIX), secrets, store,
                args.minio_provider, [buckets["backups"]],
            )
            velero_creds.append(self._cloud_secret(secrets, velero.CREDENTIALS_SECRET, DRILL_RESTORE_PATH, [restore_account.ready]))
        if config.offsite is not None:
            velero_creds.append(self._cloud_secret(secrets, velero.OFFSITE_SECRET, config.offsite.credentials_path, []))
        return velero_creds

    def _velero(self, velero_creds: list[pulumi.Resource], ca_b64: pulumi.Output[str], writes: bool) -> None:
        """Velero (chart), or OADP on OpenShift, with the primary location in the backups bucket."""
        stack, config = self._args.stack, self.config
        node_agent = any(t.config.backup.notebook_volumes for t in self._args.tenants)
        deps = [*self._in_ns("backup"), *self._pulls, *velero_creds]
        primary = velero.location_spec(
            bucket=stack.data.object_store.buckets.backups, prefix=velero.BUCKET_PREFIX, endpoint_url=self._store_url,
            region="us-east-1", default=True, read_only=False, credential_secret=velero.CREDENTIALS_SECRET,
            ca_cert_b64=None,
        )
        self.locations: dict[str, pulumi.Resource] = {}
        if config.distribution == "openshift":
            location = ca_b64.apply(lambda ca: _with_ca(primary, ca)) if writes else None
            self.server = custom_resource(
                "oadp", api_version="oadp.openshift.io/v1alpha1", kind="DataProtectionApplication",
                metadata=meta("kfplatform", self.namespace, component=COMPONENT),
                spec=velero.dpa_spec(location=location, node_agent=node_agent),
                opts=child(self, depends_on=deps),
            )
        else:
            self.server = _release(
                self, "velero", releases.VELERO_CHART, self.namespace,
                velero.velero_values(
                    mirror=stack.images.mirror, pull_secret=stack.images.pull_secret, node_agent=node_agent,
                    default_location=velero.PRIMARY_LOCATION if writes else None,
                ),
                depends_on=deps, protect=stack.is_prod,
            )
            if writes:
                self.locations[velero.PRIMARY_LOCATION] = self._location(
                    velero.PRIMARY_LOCATION, ca_b64.apply(lambda ca: _with_ca(primary, ca)),
                )

    def _storage_locations(self) -> None:
        """The offsite (DR) location (the sandbox's drill location is made by _drill_restore)."""
        config = self.config
        if config.offsite is not None:
            self.locations[config.offsite.name] = self._location(config.offsite.name, velero.offsite_spec(config.offsite))

    def _schedules(self) -> None:
        """Schedules: the platform, and one per team (derived from the tenants list)."""
        tenant_namespaces = self._args.tenant_namespaces
        volume_opt_in = {t.config.name: t.config.backup.notebook_volumes for t in self._args.tenants}
        for schedule_name, spec in velero.schedules(
            self.config, platform_namespaces=sorted(self._args.stack.cluster.namespaces.names()), tenants=volume_opt_in,
        ).items():
            location = spec["template"]["storageLocation"]
            teams = [t for t in spec["template"]["includedNamespaces"] if t in tenant_namespaces]
            self.schedules[schedule_name] = custom_resource(
                f"schedule-{schedule_name}", api_version=velero.API, kind="Schedule",
                metadata=meta(schedule_name, self.namespace, component=COMPONENT),
                spec=spec,
                opts=child(self, depends_on=[
                    self.server, *([self.locations[location]] if location in self.locations else []),
                    *[tenant_namespaces[t] for t in teams],
                ]),
            )

    def _galera_backups(self, ca_pem: pulumi.Output[str]) -> None:
        """Galera: physical (replica) and logical (KFP, MLMD) backups, and their offsite copies."""
        args, config = self._args, self.config
        secrets, store, galera = args.secrets, args.stack.data.object_store, args.galera
        database_ns, pull_secret = args.stack.cluster.namespaces.database, args.stack.images.pull_secret
        backups_bucket = store.buckets.backups
        store_hostport = f"{args.endpoints.object_store_host}:{args.endpoints.object_store_port}"
        galera_account = self._account(
            "galera-backup-object-store", GALERA_WRITER_PATH, "backup-galera",
            accounts.prefix_writer_policy(backups_bucket, database.PREFIX), secrets, store, args.minio_provider,
            [args.buckets["backups"]],
        )
        s3 = secrets.deliver(
            database_ns, database.S3_SECRET, GALERA_WRITER_PATH,
            {database.ACCESS_KEY: "access_key", database.SECRET_KEY: "secret_key"},
            depends_on=[galera_account.ready],
        )
        ca_write = vault.kv.SecretV2(
            "platform-backup-object-store-ca", mount=secrets.layout.mount.path, name=CA_PATH,
            data_json=ca_pem.apply(lambda pem: json.dumps({database.CA_KEY: pem})),
            opts=child(self, provider=args.vault_provider),
        )
        ca_secret = secrets.deliver(
            database_ns, database.CA_SECRET, CA_PATH, {database.CA_KEY: database.CA_KEY}, depends_on=[ca_write],
        )
        galera_deps = [*galera, s3, ca_secret]
        self.physical = custom_resource(
            "galera-physical-backup", api_version="k8s.mariadb.com/v1alpha1", kind="PhysicalBackup",
            metadata=meta(database.PHYSICAL_BACKUP, database_ns, component=COMPONENT),
            spec=database.physical_backup_spec(
                config.galera, mariadb=GALERA_NAME, bucket=backups_bucket, endpoint=store_hostport, pull_secret=pull_secret,
            ),
            opts=child(self, depends_on=galera_deps),
        )
        self.logical = custom_resource(
            "galera-logical-backup", api_version="k8s.mariadb.com/v1alpha1", kind="Backup",
            metadata=meta(database.LOGICAL_BACKUP, database_ns, component=COMPONENT),
            spec=database.logical_backup_spec(
                config.galera, mariadb=GALERA_NAME, bucket=backups_bucket, endpoint=store_hostport, pull_secret=pull_secret,
            ),
            opts=child(self, depends_on=galera_deps),
        )
        if config.galera.point_in_time_recovery is not None:
            self._binlog_archive(galera_deps)
        if config.offsite is not None:
            offsite = config.offsite
            dr_keys = secrets.deliver(
                database_ns, database.OFFSITE_SECRET, offsite.credentials_path,
                {database.ACCESS_KEY: "access_key", database.SECRET_KEY: "secret_key"},
            )
            dr = dict(
                mariadb=GALERA_NAME, bucket=offsite.bucket, endpoint=database.endpoint_of(offsite.endpoint),
                pull_secret=pull_secret, secret=database.OFFSITE_SECRET, ca_secret=None, region=offsite.region,
            )
            for kind, resource_name, object_name, spec in (
                ("PhysicalBackup", "galera-physical-backup-offsite", database.PHYSICAL_BACKUP,
                 database.physical_backup_spec(config.galera, **dr)),
                ("Backup", "galera-logical-backup-offsite", database.LOGICAL_BACKUP,
                 database.logical_backup_spec(config.galera, **dr)),
            ):
                custom_resource(
                    resource_name, api_version="k8s.mariadb.com/v1alpha1", kind=kind,
                    metadata=meta(object_name + database.OFFSITE_SUFFIX, database_ns, component=COMPONENT),
                    spec=spec, opts=child(self, depends_on=[*galera, dr_keys]),
                )

    def _binlog_archive(self, galera_deps: list) -> None:
        """The binlog archiver (pitr.py): its database account, its script, one pod."""
        args, stack = self._args, self._args.stack
        archive = self.config.galera.point_in_time_recovery
        database_ns = stack.cluster.namespaces.database
        ref = {"name": GALERA_NAME, "namespace": database_ns, "waitForIt": True}
        static_credentials_reason(pitr.ARCHIVER_USER)
        path = platform_path("database", pitr.ARCHIVER_VAULT_NAME)
        args.secrets.generated(path, [PASSWORD_KEY])
        password = args.secrets.deliver(
            database_ns, pitr.ARCHIVER_SECRET, path, {PASSWORD_KEY: PASSWORD_KEY}, labels=WATCH_LABELS,
        )
        user = custom_resource(
            "binlog-archiver-user", api_version="k8s.mariadb.com/v1alpha1", kind="User",
            metadata=meta(pitr.ARCHIVER_USER, database_ns, component=COMPONENT),
            spec={"mariaDbRef": ref, "name": pitr.ARCHIVER_USER, "host": "%", "maxUserConnections": 4,
                  "passwordSecretKeyRef": {"name": pitr.ARCHIVER_SECRET, "key": PASSWORD_KEY}},
            opts=child(self, depends_on=[*args.galera, password]),
        )
        grant = custom_resource(
            "binlog-archiver-grant", api_version="k8s.mariadb.com/v1alpha1", kind="Grant",
            metadata=meta(pitr.ARCHIVER_USER, database_ns, component=COMPONENT),
            spec={"mariaDbRef": ref, "username": pitr.ARCHIVER_USER, "host": "%", "database": "*", "table": "*",
                  "privileges": list(pitr.ARCHIVER_PRIVILEGES), "grantOption": False},
            opts=child(self, depends_on=[*args.galera, user]),
        )
        scripts = self._pitr_scripts(database_ns)
        labels = {"app.kubernetes.io/name": pitr.ARCHIVER, "app.kubernetes.io/component": COMPONENT}
        self.binlog_archiver = k8s.apps.v1.Deployment(
            "galera-binlog-archiver",
            metadata=meta(pitr.ARCHIVER, database_ns, component=COMPONENT),
            spec=pitr.archiver_deployment_spec(
                hosts=galera_hosts(database_ns, stack.data.galera.replicas), bucket=stack.data.object_store.buckets.backups,
                store_url=self._store_url, s3_secret=database.S3_SECRET, access_key=database.ACCESS_KEY,
                secret_key=database.SECRET_KEY, interval_seconds=archive.upload_interval_seconds,
                retention_hours=-(-duration_seconds(archive.retention) // 3600), max_lag_minutes=archive.max_lag_minutes,
                mariadb_image=MARIADB.ref(stack.images.mirror), mc_image=releases.MC.ref(stack.images.mirror),
                pull_secret=stack.images.pull_secret, mariadb=GALERA_NAME,
                ca_configmap=args.endpoints.object_store_ca_configmap, ca_key=args.endpoints.object_store_ca_key,
                labels=labels, rotation=args.secrets.rotation_markers([GALERA_WRITER_PATH]),
            ),
            opts=child(self, depends_on=[*galera_deps, grant, scripts, args.secrets.pull_secret_delivery(database_ns)]),
        )
        self.outputs["binlogArchive"] = {
            "prefix": f"{stack.data.object_store.buckets.backups}/{pitr.BINLOG_PREFIX}/",
            "uploadIntervalSeconds": archive.upload_interval_seconds, "retention": archive.retention,
        }

    def _pitr_scripts(self, namespace: str) -> pulumi.Resource:
        return k8s.core.v1.ConfigMap(
            "galera-pitr-scripts", metadata=meta(pitr.SCRIPTS_CONFIGMAP, namespace, component=COMPONENT),
            data=pitr.scripts_configmap_data(), opts=child(self, depends_on=self._in_ns("database")),
        )

    def _point_in_time_restore(self) -> None:
        """Sandbox: KFP's and MLMD's databases rolled forward to `restore.pointInTime` (pitr.py)."""
        args, stack, restore = self._args, self._args.stack, self.config.restore
        database_ns = stack.cluster.namespaces.database
        scripts = self._pitr_scripts(database_ns)
        point = restore.point_in_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.point_in_time_restore = k8s.batch.v1.Job(
            "galera-point-in-time-restore",
            metadata=meta(pitr.RESTORE_JOB, database_ns, component=COMPONENT,
                          annotations={WAIT: "condition=Complete", "pulumi.com/timeoutSeconds": str(4 * 3600)}),
            spec=pitr.restore_job_spec(
                point=point, databases=database.LOGICAL_DATABASES, bucket=restore.bucket,
                store_url=f"https://{restore.endpoint}", s3_secret=RESTORE_DB_SECRET, access_key=database.ACCESS_KEY,
                secret_key=database.SECRET_KEY, mariadb=GALERA_NAME, root_secret=ROOT_SECRET, root_key=PASSWORD_KEY,
                mariadb_image=MARIADB.ref(stack.images.mirror), mc_image=releases.MC.ref(stack.images.mirror),
                pull_secret=stack.images.pull_secret,
            ),
            opts=child(self, depends_on=[*args.galera, scripts, args.secrets.pull_secret_delivery(database_ns)]),
        )
        self.outputs["pointInTimeRestore"] = {"point": point, "databases": list(database.LOGICAL_DATABASES)}

    def _artifact_replication(self) -> None:
        """Artifact bucket replication to the DR location: an mc CronJob with both sides' keys."""
        args, config = self._args, self.config
        secrets, endpoints, stack = args.secrets, args.endpoints, args.stack
        replication_account = self._account(
            "replication-object-store", REPLICATION_PATH, "backup-replication",
            accounts.replication_policy(endpoints.artifact_bucket), secrets, stack.data.object_store,
            args.minio_provider, [args.buckets["artifacts"]],
        )
        source = secrets.deliver(
            self.namespace, replication.SOURCE_SECRET, REPLICATION_PATH,
            {"accesskey": "access_key", "secretkey": "secret_key"}, depends_on=[replication_account.ready],
        )
        target = secrets.deliver(
            self.namespace, replication.TARGET_SECRET, config.offsite.credentials_path,
            {"accesskey": "access_key", "secretkey": "secret_key"},
        )
        self.replication = k8s.batch.v1.CronJob(
            "artifact-replication",
            metadata=meta(replication.JOB_NAME, self.namespace, component=COMPONENT),
            spec=replication.cronjob_spec(
                cron=config.replication.cron, mirror=stack.images.mirror, pull_secret=stack.images.pull_secret,
                source_url=self._store_url, source_bucket=endpoints.artifact_bucket, target_url=config.offsite.endpoint,
                target_bucket=config.offsite.artifacts_bucket, ca_configmap=endpoints.object_store_ca_configmap,
                ca_key=endpoints.object_store_ca_key,
            ),
            opts=child(self, depends_on=[*self._in_ns("backup"), *self._pulls, source, target, args.buckets["artifacts"]]),
        )

    def _drill_restore(self, ca_b64: pulumi.Output[str]) -> None:
        """The drill (sandbox): copy what the Restores read from prod's bucket into the sandbox's own
        (copy Job), a ReadOnly location there, a Job that waits until Velero synced the Backups, then
        the Restores: opted-in teams' namespaces whole from the volumes backup, every other selected
        namespace from the tenants backup (velero.drill_restores). Each step depends on the one before."""
        restore, tenant_namespaces = self.config.restore, self._args.tenant_namespaces
        restore_namespaces = restore.namespaces or sorted(tenant_namespaces)
        volume_teams = [t.config.name for t in self._args.tenants if t.config.backup.notebook_volumes]
        self.restores: dict[str, pulumi.Resource] = {}
        planned = velero.drill_restores(
            backup=restore.backup, volumes_backup=restore.volumes_backup, namespaces=restore_namespaces,
            volume_teams=volume_teams,
        )
        plan = self._copy_plan(planned)
        self.drill_copy = self._drill_copy(plan)
        location_spec = velero.location_spec(
            bucket=plan.target_bucket, prefix=velero.BUCKET_PREFIX, endpoint_url=plan.target_url,
            region="us-east-1", default=False, read_only=True, credential_secret=velero.CREDENTIALS_SECRET,
            ca_cert_b64=None,
        )
        location_spec["backupSyncPeriod"] = drill_copy.SYNC_PERIOD
        self.locations[velero.RESTORE_LOCATION] = self._location(
            velero.RESTORE_LOCATION, ca_b64.apply(lambda ca: _with_ca(location_spec, ca)), depends_on=[self.drill_copy],
        )
        self.drill_synced = self._drill_synced(plan, self.locations[velero.RESTORE_LOCATION])
        for drill_restore in planned:
            # File-system restores take longer than objects alone: the volumes Restore gets two hours.
            timeout = "7200" if drill_restore.role == velero.VOLUMES_RESTORE else "3600"
            self.restores[drill_restore.role] = custom_resource(
                "drill-restore" if drill_restore.role == velero.TENANTS_RESTORE else "drill-restore-volumes",
                api_version=velero.API, kind="Restore",
                metadata=meta(
                    drill_restore.name, self.namespace, component=COMPONENT,
                    annotations={WAIT: "jsonpath={.status.phase}=Completed", "pulumi.com/timeoutSeconds": timeout},
                ),
                spec=drill_restore.spec,
                # Independent Restores: neither waits for the other (they touch disjoint namespaces).
                opts=child(self, depends_on=[
                    self.server, self.locations[velero.RESTORE_LOCATION], self.drill_synced,
                    *[tenant_namespaces[t] for t in drill_restore.namespaces if t in tenant_namespaces],
                ]),
            )
        self.outputs["drillRestore"] = {
            "backup": restore.backup, "volumesBackup": restore.volumes_backup, "namespaces": restore_namespaces,
            "restores": {d.role: d.name for d in planned},
            "copyJob": plan.job_name, "copiedKopiaRepositories": list(plan.kopia_namespaces),
        }

    def _copy_plan(self, planned: Sequence[velero.DrillRestore]) -> drill_copy.CopyPlan:
        restore = self.config.restore
        return drill_copy.copy_plan(
            source_endpoint=restore.endpoint, source_bucket=restore.bucket, target_url=self._store_url,
            target_bucket=self._args.stack.data.object_store.buckets.backups, restores=planned,
        )

    def _drill_copy(self, plan: drill_copy.CopyPlan) -> pulumi.Resource:
        """The copy Job: prod's read-only keys to read, the sandbox's drill-copy account to write."""
        args, stack = self._args, self._args.stack
        copier = self._account(
            "drill-copy-object-store", DRILL_COPY_PATH, "backup-drill-copy",
            accounts.drill_copy_policy(plan.target_bucket, velero.BUCKET_PREFIX), args.secrets,
            stack.data.object_store, args.minio_provider, [args.buckets["backups"]],
        )
        keys = {"accesskey": "access_key", "secretkey": "secret_key"}
        source = args.secrets.deliver(self.namespace, drill_copy.SOURCE_SECRET, self.config.restore.credentials_path, keys)
        target = args.secrets.deliver(self.namespace, drill_copy.TARGET_SECRET, DRILL_COPY_PATH, keys, depends_on=[copier.ready])
        return k8s.batch.v1.Job(
            "drill-copy",
            metadata=meta(
                plan.job_name, self.namespace, component=COMPONENT,
                # pulumi-kubernetes awaits a Job until Complete (fails at once on Failed); the copy may be
                # long. replaceUnready (pulumi-kubernetes#1575): a failed Job is re-run by the next `pulumi up`.
                annotations={"pulumi.com/timeoutSeconds": str(drill_copy.COPY_DEADLINE_S), REPLACE_UNREADY: "true"},
            ),
            spec=drill_copy.copy_job_spec(
                plan, mirror=stack.images.mirror, pull_secret=stack.images.pull_secret,
                ca_configmap=args.endpoints.object_store_ca_configmap, ca_key=args.endpoints.object_store_ca_key,
            ),
            opts=child(self, depends_on=[*self._in_ns("backup"), *self._pulls, source, target, args.buckets["backups"]]),
        )

    def _drill_synced(self, plan: drill_copy.CopyPlan, location: pulumi.Resource) -> pulumi.Resource:
        """A Job that ends once Velero has synced every copied Backup (Completed): the Restores wait for it."""
        stack = self._args.stack
        name = drill_copy.SYNC_WAITER
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=meta(name, self.namespace, component=COMPONENT),
            opts=child(self, depends_on=self._in_ns("backup")),
        )
        role = k8s.rbac.v1.Role(
            f"{name}-role", metadata=meta(name, self.namespace, component=COMPONENT),
            rules=drill_copy.sync_role_rules(), opts=child(self, depends_on=self._in_ns("backup")),
        )
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-binding", metadata=meta(name, self.namespace, component=COMPONENT),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            subjects=[{"kind": "ServiceAccount", "name": name, "namespace": self.namespace}],
            opts=child(self, depends_on=[account, role]),
        )
        return k8s.batch.v1.Job(
            name,
            metadata=meta(
                plan.sync_job_name, self.namespace, component=COMPONENT,
                annotations={"pulumi.com/timeoutSeconds": str(drill_copy.SYNC_DEADLINE_S + 180), REPLACE_UNREADY: "true"},
            ),
            spec=drill_copy.sync_job_spec(
                namespace=self.namespace, backups=plan.backups, mirror=stack.images.mirror,
                pull_secret=stack.images.pull_secret,
            ),
            opts=child(self, depends_on=[location, binding, *self._pulls]),
        )

    def _alerts(self) -> None:
        """Failed, too old, replication failing or lagging: one PrometheusRule."""
        stack, ns = self._args.stack, self._args.stack.cluster.namespaces
        rules = backup_rules(
            self.config, velero_namespace=self.namespace, database_namespace=ns.database,
            artifact_bucket=self._args.endpoints.artifact_bucket, runbook_base_url=stack.observability.runbook_base_url,
        )
        if self.config.alerts and rules:
            custom_resource(
                "backup-alerts", api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
                metadata=meta(RULE_NAME, ns.monitoring, component=COMPONENT),
                spec={"groups": [{"name": RULE_NAME, "rules": rules}]},
                opts=child(self, depends_on=self._in_ns("monitoring")),
            )

    def _account(self, name, path, policy_name, policy, secrets, store, provider, depends_on) -> ObjectAccount:
        return ObjectAccount(
            name, vault_path=path, policy_name=policy_name, policy=policy, secrets=secrets,
            users=self._args.object_users, deliveries=[],
            rotate_days=store.access_key_max_age_days, provider=provider, depends_on=depends_on,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _cloud_secret(self, secrets: SecretsPlane, secret_name: str, path: str, depends_on: list) -> pulumi.Resource:
        """Velero's credentials file (`cloud`) from the keys at Vault `path`."""
        return secrets.deliver(
            self.namespace, secret_name, path, {"accessKey": "access_key", "secretKey": "secret_key"},
            template_data={velero.CREDENTIALS_KEY: velero.CLOUD_TEMPLATE}, depends_on=depends_on,
        )

    def _location(self, location_name: str, spec, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.Resource:
        # The spec may be an Output (the CA is read at deploy time): a CustomResource takes it whole.
        return k8s.apiextensions.CustomResource(
            f"location-{location_name}", api_version=velero.API, kind="BackupStorageLocation",
            metadata=meta(
                location_name, self.namespace, component=COMPONENT,
                annotations={WAIT: "jsonpath={.status.phase}=Available", "pulumi.com/timeoutSeconds": "600"},
            ),
            spec=spec,
            opts=child(self, depends_on=[self.server, *depends_on]),
        )


def _with_ca(spec: dict, ca_b64: str) -> dict:
    if not ca_b64:
        return spec
    out = json.loads(json.dumps(spec))
    out["objectStorage"]["caCert"] = ca_b64
    return out
