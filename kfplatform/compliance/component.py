"""Compliance: signed models at admission, the audit trail, payload logging, per-tenant audit scope.

Wired in platform.py after the data tier (the WORM bucket) and Kubeflow (Argo CD, KServe's CRDs).
What a regulated tenant gets is decided by one function, `namespace_labels`, which TenantNamespaces
puts on the namespace: the admission policy's binding and policy-controller select on those labels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s
import yaml

from ..config.platform_config import PlatformConfig
from ..data.endpoints import OBJECT_STORE_CA_CONFIGMAP, OBJECT_STORE_CA_KEY, data_endpoints
from ..data.object_store import ObjectAccount, bucket_arn, policy_document
from ..data.object_users import ObjectUsers
from ..k8s import child, custom_resource, meta
from ..secrets.plane import SecretsPlane, platform_path
from ..secrets.vault_layout import LOG_INDEX, platform_home
from . import releases, shipper
from .alerts import compliance_rules
from .admission import COMPLIANCE_LABEL, RegulatedInferenceAdmission, sink_url
from .argocd import DeployNotifications
from .audit_policy import audit_policy
from .config import PAYLOAD_SINK_POLICY, ComplianceLevel
from .index_access import security_role_mappings, security_roles
from .retention import AuditBucketRetention
from .signing import INCLUDE_LABEL, SignedImages

AUDIT_POLICY_CONFIGMAP = "kfplatform-audit-policy"
AUDIT_POLICY_KEY = "audit-policy.yaml"
AUDIT_RELEASE = "kfplatform-audit"
PAYLOADS_RELEASE = "kfplatform-payloads"  # = the Service name (fullnameOverride): the sink's host
INDEX_ACCESS_CONFIGMAP = "kfplatform-log-index-security"
INDEX_CREDENTIALS = platform_home(LOG_INDEX)  # written by people: user, password
AUDIT_WRITER = platform_path("object-store", "audit-writer")
S3_SECRET = "audit-bucket-writer"
INDEX_SECRET = "log-index-writer"
PLATFORM_AUDITORS = "platform-auditors"


def regulated_tenants(config: PlatformConfig) -> list[str]:
    compliance = config.stack.compliance
    return sorted(t.name for t in config.tenant_configs if compliance.level_of(t.compliance) is ComplianceLevel.REGULATED)


def namespace_labels(config: PlatformConfig) -> dict[str, dict[str, str]]:
    """Extra labels of each tenant namespace: what the compliance level switches on."""
    regulated = set(regulated_tenants(config))
    labels = {}
    for tenant in config.tenant_configs:
        level = config.stack.compliance.level_of(tenant.compliance)
        labels[tenant.name] = {COMPLIANCE_LABEL: level.value}
        if tenant.name in regulated:
            labels[tenant.name][INCLUDE_LABEL] = "true"
    return labels


def audit_writer_policy(bucket: str) -> str:
    """The shippers' MinIO account: put objects into the audit bucket; no read, no delete, no admin."""
    return policy_document([
        {"Sid": "AppendOnly", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [bucket_arn(bucket, "*")]},
        {"Sid": "Locate", "Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": [bucket_arn(bucket)]},
    ])


def _env_from_secrets() -> list[dict]:
    def ref(name: str, secret: str, key: str) -> dict:
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}

    return [
        ref(shipper.S3_KEY_ENV, S3_SECRET, "accesskey"),
        ref(shipper.S3_SECRET_ENV, S3_SECRET, "secretkey"),
        ref(shipper.INDEX_USER_ENV, INDEX_SECRET, "user"),
        ref(shipper.INDEX_PASSWORD_ENV, INDEX_SECRET, "password"),
    ]


def vector_values(*, role: str, config_map: str, mirror: str, pull_secret: str, replicas: int = 1,
                  extra: Mapping | None = None) -> dict:
    image = releases.VECTOR.image
    values = {
        "role": role,
        "fullnameOverride": config_map,
        "image": {"repository": image.repository(mirror), "tag": image.tag, "digest": image.digest, "pullSecrets": [{"name": pull_secret}]},
        "existingConfigMaps": [config_map],
        "dataDir": shipper.DATA_DIR,
        "env": _env_from_secrets(),
        "extraVolumes": [{"name": "object-store-ca", "configMap": {
            "name": OBJECT_STORE_CA_CONFIGMAP, "items": [{"key": OBJECT_STORE_CA_KEY, "path": "ca.crt"}]}}],
        "extraVolumeMounts": [{"name": "object-store-ca", "mountPath": shipper.OBJECT_STORE_CA_DIR, "readOnly": True}],
        "podLabels": {"app.kubernetes.io/part-of": "kubeflow-platform"},
        "containerPorts": [{"name": "prom-exporter", "containerPort": shipper.METRICS_PORT, "protocol": "TCP"}],
        # The chart's PodMonitor scrapes prom-exporter (the Prometheus operator is a prerequisite).
        "podMonitor": {"enabled": True, "port": "prom-exporter"},
    }
    if role != "Agent":
        values["replicas"] = replicas
    values.update(extra or {})
    return values


@dataclass(frozen=True)
class ComplianceArgs:
    """What the compliance box reads: the whole config, and what the other boxes made."""

    config: PlatformConfig
    secrets: SecretsPlane
    namespaces: Mapping[str, k8s.core.v1.Namespace]  # the platform's Namespace objects by name
    tenant_namespaces: Mapping[str, k8s.core.v1.Namespace]
    audit_bucket: pulumi.Resource
    minio_provider: pulumi.ProviderResource
    crd_installers: Mapping[str, pulumi.Resource]
    object_users: ObjectUsers  # makes the audit writer's MinIO user in-cluster (data/object_users.py)


class Compliance(pulumi.ComponentResource):
    def __init__(self, name: str, args: ComplianceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kfplatform:compliance:Compliance", name, None, opts)
        self._args = args
        stack = args.config.stack
        self._ns = stack.cluster.namespaces
        self._tenants = sorted(args.tenant_namespaces)
        self.regulated = regulated_tenants(args.config)
        # 1. Signed images (and so models) in regulated namespaces.
        self.signing = self._signed_images()
        # 2. What a regulated InferenceService must look like.
        self.admission = RegulatedInferenceAdmission(
            "regulated-inference", mirror=stack.images.mirror, logging_namespace=self._ns.logging,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # 3. The audit trail: the API server's policy, the WORM bucket's retention, the shippers.
        self._audit_trail()
        self._shippers()
        self._alerts()
        # 4. Who may post to the sink: each tenant to its own path only (mesh identities, mTLS).
        self._payload_sink_access()
        # 5. Per-tenant audit scope in the index: the security config securityadmin applies.
        self._index_access()
        # 6. The second deploy trail, independent of the API server's audit log.
        self._deploy_notifications()
        self.outputs = {
            "complianceRegulatedTenants": self.regulated,
            "compliancePayloadSinks": {t: sink_url(self._ns.logging, t) for t in self._tenants},
            "complianceAuditIndices": {t: shipper.audit_index(t) for t in self._tenants},
        }
        self.register_outputs(self.outputs)

    def _pulls(self, namespace: str) -> list[pulumi.Resource]:
        return [self._args.secrets.pull_secret_delivery(namespace)]

    def _signed_images(self) -> SignedImages | None:
        stack = self._args.config.stack
        compliance, mirror = stack.compliance, stack.images.mirror
        if compliance.signing is None:
            return None
        return SignedImages(
            "signed-images",
            namespace=self._ns.operators,
            registry=compliance.signing.registry or mirror,
            public_key=compliance.signing.public_key,
            mirror=mirror,
            pull_secret=stack.images.pull_secret,
            replicas=compliance.policy_controller.replicas,
            chart_repository=compliance.policy_controller.chart_repository,
            depends_on=self._pulls(self._ns.operators),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _audit_trail(self) -> None:
        """The API server's audit policy, the audit bucket's retention (WORM) and its writer account."""
        args, ns = self._args, self._ns
        stack = args.config.stack
        compliance, endpoints = stack.compliance, data_endpoints(stack)
        bucket = stack.data.object_store.buckets.audit
        self.audit_policy = audit_policy(stack.cluster.namespaces.names())
        k8s.core.v1.ConfigMap(
            AUDIT_POLICY_CONFIGMAP,
            metadata=meta(AUDIT_POLICY_CONFIGMAP, ns.audit, component="compliance"),
            data={AUDIT_POLICY_KEY: yaml.safe_dump(self.audit_policy, sort_keys=False)},
            opts=child(self, depends_on=[args.namespaces[ns.audit]]),
        )
        AuditBucketRetention(
            "audit-retention",
            namespace=ns.object_store,
            bucket=bucket,
            days=compliance.audit.retention_days,
            mode=compliance.audit.lock_mode,
            object_store_host=endpoints.object_store_host,
            object_store_port=endpoints.object_store_port,
            secrets=args.secrets,
            mirror=stack.images.mirror,
            pull_secret=stack.images.pull_secret,
            depends_on=[args.audit_bucket, *self._pulls(ns.object_store)],
            opts=pulumi.ResourceOptions(parent=self),
        )
        ObjectAccount(
            "audit-writer",
            vault_path=AUDIT_WRITER,
            policy_name="kfp-audit-writer",
            policy=audit_writer_policy(bucket),
            secrets=args.secrets,
            users=args.object_users,
            deliveries=[(ns.audit, S3_SECRET), (ns.logging, S3_SECRET)],
            rotate_days=stack.data.object_store.access_key_max_age_days,
            provider=args.minio_provider,
            depends_on=[args.audit_bucket],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _shippers(self) -> None:
        """Vector: an agent on the control-plane nodes ships the audit log; an aggregator takes the payloads."""
        args, ns = self._args, self._ns
        stack, secrets, namespaces = args.config.stack, args.secrets, args.namespaces
        compliance, endpoints = stack.compliance, data_endpoints(stack)
        mirror, pull = stack.images.mirror, stack.images.pull_secret
        index_secrets = [
            secrets.deliver(namespace, INDEX_SECRET, INDEX_CREDENTIALS, {"user": "user", "password": "password"},
                            depends_on=[namespaces[namespace]])
            for namespace in (ns.audit, ns.logging)
        ]
        destinations = shipper.Destinations(
            bucket=stack.data.object_store.buckets.audit,
            object_store_url=f"https://{endpoints.object_store_host}:{endpoints.object_store_port}",
            index_url=compliance.log_index.endpoint,
            index_api_version=compliance.log_index.api_version,
        )
        self.audit_pipeline = shipper.audit_pipeline(self._tenants, destinations, compliance.audit.log_path)
        self.payload_pipeline = shipper.payload_pipeline(self._tenants, destinations)
        audit_cm = k8s.core.v1.ConfigMap(
            f"{AUDIT_RELEASE}-config",
            metadata=meta(AUDIT_RELEASE, ns.audit, component="compliance"),
            data={"vector.yaml": yaml.safe_dump(self.audit_pipeline, sort_keys=False)},
            opts=child(self, depends_on=[namespaces[ns.audit]]),
        )
        payloads_cm = k8s.core.v1.ConfigMap(
            f"{PAYLOADS_RELEASE}-config",
            metadata=meta(PAYLOADS_RELEASE, ns.logging, component="compliance"),
            data={"vector.yaml": yaml.safe_dump(self.payload_pipeline, sort_keys=False)},
            opts=child(self, depends_on=[namespaces[ns.logging]]),
        )
        audit_dir = compliance.audit.log_path.rsplit("/", 1)[0]
        control_plane = compliance.audit.control_plane_label
        self._vector_release(
            AUDIT_RELEASE, ns.audit,
            vector_values(
                role="Agent", config_map=AUDIT_RELEASE, mirror=mirror, pull_secret=pull,
                extra={
                    # Only where the API server writes its audit log; read-only hostPath of that directory.
                    "nodeSelector": {control_plane: ""},
                    "tolerations": [{"key": control_plane, "operator": "Exists", "effect": "NoSchedule"}],
                    "defaultVolumes": [{"name": "audit-log", "hostPath": {"path": audit_dir, "type": "Directory"}}],
                    "defaultVolumeMounts": [{"name": "audit-log", "mountPath": audit_dir, "readOnly": True}],
                },
            ),
            [audit_cm, *index_secrets, secrets.delivery(ns.audit, S3_SECRET)[0], *self._pulls(ns.audit)],
        )
        self._vector_release(
            PAYLOADS_RELEASE, ns.logging,
            vector_values(
                role="Stateless-Aggregator", config_map=PAYLOADS_RELEASE, mirror=mirror, pull_secret=pull,
                replicas=2 if stack.is_prod else 1,
                extra={
                    "containerPorts": [
                        {"name": "http", "containerPort": shipper.PAYLOAD_PORT, "protocol": "TCP"},
                        {"name": "prom-exporter", "containerPort": shipper.METRICS_PORT, "protocol": "TCP"},
                    ],
                    "service": {"enabled": True, "type": "ClusterIP", "ports": [
                        {"name": "http", "port": shipper.PAYLOAD_PORT, "targetPort": shipper.PAYLOAD_PORT, "protocol": "TCP"}]},
                    "podDisruptionBudget": {"enabled": stack.is_prod, "minAvailable": 1},
                    "defaultVolumes": [], "defaultVolumeMounts": [],
                },
            ),
            [payloads_cm, *index_secrets, secrets.delivery(ns.logging, S3_SECRET)[0], *self._pulls(ns.logging)],
        )

    def _vector_release(
        self, release: str, namespace: str, values: dict, deps: list[pulumi.Resource]
    ) -> k8s.helm.v3.Release:
        chart = releases.VECTOR_CHART
        return k8s.helm.v3.Release(
            release, name=release, chart=chart.name, version=chart.version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
            namespace=namespace, create_namespace=False, atomic=True, cleanup_on_fail=True, max_history=10,
            values=values, opts=child(self, depends_on=deps),
        )

    def _alerts(self) -> None:
        ns = self._ns
        custom_resource(
            "compliance-alerts",
            api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
            metadata=meta("kfplatform-compliance", ns.monitoring, component="compliance"),
            spec={"groups": [{"name": "kfplatform-compliance", "rules": compliance_rules(
                audit_namespace=ns.audit, logging_namespace=ns.logging,
                base_url=self._args.config.stack.observability.runbook_base_url)}]},
            opts=child(self, depends_on=[self._args.namespaces[ns.monitoring]]),
        )

    def _payload_sink_access(self) -> None:
        """Strict mTLS on the payload sink, each tenant allowed its own path, and each tenant's egress to it."""
        args, ns = self._args, self._ns
        crd_installers = args.crd_installers
        sink_selector = {"app.kubernetes.io/instance": PAYLOADS_RELEASE}
        # Istio's CRDs come with Kubeflow's istio-crds Application (one installer for all its kinds).
        istio = [
            args.namespaces[ns.logging],
            *([crd_installers["AuthorizationPolicy"]] if "AuthorizationPolicy" in crd_installers else []),
        ]
        custom_resource(
            f"{PAYLOADS_RELEASE}-mtls",
            api_version="security.istio.io/v1", kind="PeerAuthentication",
            metadata=meta(PAYLOADS_RELEASE, ns.logging, component="compliance"),
            spec={"selector": {"matchLabels": sink_selector}, "mtls": {"mode": "STRICT"}},
            opts=child(self, depends_on=istio),
        )
        custom_resource(
            f"{PAYLOADS_RELEASE}-authz",
            api_version="security.istio.io/v1", kind="AuthorizationPolicy",
            metadata=meta(PAYLOADS_RELEASE, ns.logging, component="compliance"),
            spec=sink_authorization(self._tenants, args.config.stack.kubeflow.argocd.namespace, sink_selector),
            opts=child(self, depends_on=istio),
        )
        for tenant, namespace in sorted(args.tenant_namespaces.items()):
            k8s.networking.v1.NetworkPolicy(
                f"{tenant}-{PAYLOAD_SINK_POLICY}",
                metadata=meta(PAYLOAD_SINK_POLICY, tenant, component="compliance"),
                spec={
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [{
                        "to": [{
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns.logging}},
                            "podSelector": {"matchLabels": sink_selector},
                        }],
                        "ports": [{"port": shipper.PAYLOAD_PORT, "protocol": "TCP"}],
                    }],
                },
                opts=child(self, depends_on=[namespace]),
            )

    def _index_access(self) -> None:
        ns, compliance = self._ns, self._args.config.stack.compliance
        k8s.core.v1.ConfigMap(
            INDEX_ACCESS_CONFIGMAP,
            metadata=meta(INDEX_ACCESS_CONFIGMAP, ns.logging, component="compliance"),
            data={
                "roles.yml": yaml.safe_dump(security_roles(self._tenants), sort_keys=False),
                "roles_mapping.yml": yaml.safe_dump(
                    security_role_mappings(self._tenants, compliance.log_index.auditor_group_of, PLATFORM_AUDITORS),
                    sort_keys=False,
                ),
            },
            opts=child(self, depends_on=[self._args.namespaces[ns.logging]]),
        )

    def _deploy_notifications(self) -> None:
        stack = self._args.config.stack
        webhook = (
            stack.compliance.argocd_notifications.webhook_url
            or f"{sink_url(self._ns.logging, '')[:-1]}{shipper.ARGOCD_PATH}"
        )
        DeployNotifications(
            "deploy-notifications", namespace=stack.kubeflow.argocd.namespace, webhook_url=webhook,
            workloads_selector="kfplatform.io/tenant", opts=pulumi.ResourceOptions(parent=self),
        )


def sink_authorization(tenants: Sequence[str], argocd_namespace: str, selector: dict) -> dict:
    rules = [
        {"from": [{"source": {"namespaces": [t]}}], "to": [{"operation": {"methods": ["POST"], "paths": [f"/{t}"]}}]}
        for t in sorted(tenants)
    ]
    rules.append({
        "from": [{"source": {"namespaces": [argocd_namespace]}}],
        "to": [{"operation": {"methods": ["POST"], "paths": [shipper.ARGOCD_PATH]}}],
    })
    return {"selector": {"matchLabels": selector}, "action": "ALLOW", "rules": rules}

