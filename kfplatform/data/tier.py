"""DataTier: the HA data tier, one box of the posture diagram.

    StorageClass (Retain) ─┬─ GaleraCluster (mariadb-operator) ── ProxySql ── KFP / MLMD / Katib
                           └─ ObjectStore (MinIO operator) ── buckets, KFP's account, TenantObjectAccess per team
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..config.stack import StackConfig
from ..k8s import child, meta
from ..secrets.plane import SecretsPlane, platform_path
from .endpoints import DatabaseAccount, DataEndpoints, data_endpoints
from .galera import GaleraCluster, MONITOR_USER
from .object_store import ObjectStore
from .operators import DataOperators
from .proxysql import ADMIN_SECRET, ProxySql, mounted_secrets
from .tenant_access import TenantObjectAccess

if TYPE_CHECKING:
    from ..backup.component import RestoreBootstrap


@dataclass(frozen=True)
class DataTierArgs:
    """What the data tier reads: the stack, the secrets plane, the namespaces, tenant consumers' accounts."""

    stack: StackConfig
    secrets: SecretsPlane
    namespaces: Mapping[str, pulumi.Resource]  # the platform's Namespace objects by role (`database`, ...)
    tenant_namespaces: Mapping[str, k8s.core.v1.Namespace]
    minio_provider: pulumi.ProviderResource
    bootstrap: RestoreBootstrap | None = None  # when Galera starts from a backup (the drill)
    tenant_accounts: Sequence[DatabaseAccount] = ()  # accounts of consumers in tenant namespaces (Model Registries)


class DataTier(pulumi.ComponentResource):
    def __init__(self, name: str, args: DataTierArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kfplatform:data:DataTier", name, None, opts)
        self._args = args
        stack, secrets, bootstrap = args.stack, args.secrets, args.bootstrap
        config = stack.data
        prod = stack.is_prod
        ns = stack.cluster.namespaces
        cluster = stack.cluster
        mirror, pull_secret = stack.images.mirror, stack.images.pull_secret
        self.endpoints: DataEndpoints = data_endpoints(stack)
        in_ns, pulls_in = self._in_ns, self._pulls_in
        self.storage_class = self._storage_class()
        self.operators = DataOperators(
            "data-operators", namespace=ns.operators, mirror=mirror, pull_secret=pull_secret, ha=prod,
            topology_key=cluster.topology_key, protect=prod, depends_on=[*in_ns("operators"), *pulls_in(ns.operators)],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.galera = GaleraCluster(
            "galera", config, namespace=ns.database, consumer_namespace=ns.kubeflow, endpoints=self.endpoints,
            secrets=secrets, storage_class=config.storage_class.name, mirror=mirror, pull_secret=pull_secret,
            zones=cluster.zones, topology_key=cluster.topology_key, operator=self.operators.mariadb, protect=prod,
            tenant_accounts={a.user: a for a in args.tenant_accounts},
            depends_on=[
                *in_ns("database"), *pulls_in(ns.database), self.storage_class, *(bootstrap.depends_on if bootstrap else ()),
            ],
            bootstrap_from=bootstrap.spec if bootstrap else None,
            # mariadb-operator's ServiceMonitor carries the `release` label Prometheus selects by.
            prometheus_release=args.stack.observability.selector_labels.get("release"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.proxysql = self._proxysql()
        self.object_store = ObjectStore(
            "object-store", config.object_store, namespace=ns.object_store, consumer_namespace=ns.kubeflow,
            endpoints=self.endpoints, storage_class=config.storage_class, secrets=secrets, mirror=mirror,
            pull_secret=pull_secret, zones=cluster.zones, topology_key=cluster.topology_key,
            operator=self.operators.minio, provider=args.minio_provider, protect=prod,
            monitoring_namespace=ns.monitoring, monitoring_ready=in_ns("monitoring"),
            runbook_base_url=args.stack.observability.runbook_base_url,
            depends_on=[*in_ns("objectStore"), *pulls_in(ns.object_store), self.storage_class],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.tenant_access = {
            tenant: TenantObjectAccess(
                tenant, endpoints=self.endpoints, secrets=secrets, users=self.object_store.users,
                rotate_days=config.object_store.access_key_max_age_days, provider=args.minio_provider,
                depends_on=[self.object_store.buckets["artifacts"]], opts=pulumi.ResourceOptions(parent=self),
            )
            for tenant in sorted(args.tenant_namespaces)
        }
        self.outputs = {
            "databaseEndpoint": f"{self.endpoints.database_host}:{self.endpoints.database_port}",
            "objectStoreEndpoint": f"https://{self.endpoints.object_store_host}:{self.endpoints.object_store_port}",
            "buckets": config.object_store.buckets.model_dump(by_alias=True),
            "objectStorePools": {
                p.name: {"servers": p.servers, "volumesPerServer": p.volumes_per_server} for p in config.object_store.pools
            },
            "erasureParity": config.object_store.storage_class_standard,
        }
        self.register_outputs(self.outputs)

    def _in_ns(self, role: str) -> list[pulumi.Resource]:
        return [self._args.namespaces[role]] if role in self._args.namespaces else []

    def _pulls_in(self, namespace: str) -> list[pulumi.Resource]:
        # Pods here pull with the namespace's image-pull Secret: start them after ESO is asked for it.
        return [self._args.secrets.pull_secret_delivery(namespace)]

    def _storage_class(self) -> k8s.storage.v1.StorageClass:
        sc = self._args.stack.data.storage_class
        return k8s.storage.v1.StorageClass(
            "data-storage-class",
            metadata=meta(sc.name, component="data"),
            provisioner=sc.provisioner,
            parameters=dict(sc.parameters) or None,
            reclaim_policy=sc.reclaim_policy,
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=sc.allow_volume_expansion,
            opts=child(self, protect=self._args.stack.is_prod),
        )

    def _proxysql(self) -> ProxySql:
        """ProxySQL in front of Galera, with its admin password and every account's password mounted."""
        stack, secrets = self._args.stack, self._args.secrets
        ns, cluster = stack.cluster.namespaces, stack.cluster
        admin_path = platform_path("database", ADMIN_SECRET)
        secrets.generated(admin_path, ["password"])
        admin = secrets.deliver(
            ns.database, ADMIN_SECRET, admin_path, {"password": "password"}, depends_on=self._in_ns("database")
        )
        # ProxySQL reads every password at start: its pods roll when any of them rotates.
        proxysql_secrets = mounted_secrets(self.galera.account_secrets, self.galera.monitor_secret)
        proxysql_deliveries = [secrets.delivery(ns.database, s) for s in proxysql_secrets]
        return ProxySql(
            "proxysql", stack.data.proxysql, namespace=ns.database, galera_hosts=self.galera.hosts,
            users=self.galera.account_secrets, monitor_user=MONITOR_USER, monitor_secret=self.galera.monitor_secret,
            admin_secret=admin, mirror=stack.images.mirror, pull_secret=stack.images.pull_secret, zones=cluster.zones,
            topology_key=cluster.topology_key,
            rotation=secrets.rotation_markers([p for _, paths in proxysql_deliveries for p in paths]),
            user_limits={a.user: a.max_connections for a in self._args.tenant_accounts if a.max_connections},
            depends_on=[
                *self._in_ns("database"), *self._pulls_in(ns.database), self.galera.mariadb,
                *self.galera.credential_objects, *[es for es, _ in proxysql_deliveries],
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
