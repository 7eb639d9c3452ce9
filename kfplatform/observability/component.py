"""Observability: rules, monitors, routing and dashboards (both modes), and in `install` mode the
monitoring stack itself (stack.py). docs/observability.md says what it guarantees."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from ..alerts import runbook_url
from ..config.platform_config import PlatformConfig
from ..data.endpoints import MINIO_TENANT, data_endpoints
from ..k8s import child, custom_resource, meta
from ..kubeflow.ha import FLOOR_RULE, floor_rule_group
from ..secrets.plane import SecretsPlane
from ..secrets.vault_layout import PLATFORM_ALERTING, TENANT_ALERTING, platform_home, tenant_home
from . import dashboards, routing
from .config import RECEIVER_PROPERTY
from .monitors import platform_monitors
from .platform_rules import PlatformScope, platform_group
from .slo import budget_group, drift_group, slo_group

COMPONENT = "observability"
MONITORING_API = "monitoring.coreos.com/v1"


def rule_groups(config: PlatformConfig) -> dict[str, list[dict]]:
    """PrometheusRule name -> its groups: the whole rule set of the stack, as rendered."""
    stack = config.stack
    obs = stack.observability
    ns = stack.cluster.namespaces
    tenants = tuple(sorted(t.config.name for t in config.tenants))
    scope = PlatformScope(
        kubeflow_ns=ns.kubeflow, database_ns=ns.database, object_store_ns=ns.object_store,
        tenant_namespaces=tenants,
        gpu_nodes=tuple(sorted(n for pool in stack.gpu.pools for n in (pool.nodes.names or []))),
        galera_replicas=stack.data.galera.replicas, monitoring_ns=ns.monitoring,
        argocd_install_project=stack.kubeflow.argocd.install_project,
    )
    out = {"kfplatform-platform": [platform_group(scope, obs.runbook_base_url)]}
    for tenant in sorted(config.tenant_configs, key=lambda t: t.name):
        groups = []
        slo = slo_group(tenant.name, tenant.name, tenant.serving, obs.serving_metrics, obs.slo, obs.runbook_base_url)
        if slo is not None:
            groups += [slo, budget_group(tenant.name, tenant.name, tenant.serving)]
        groups.append(drift_group(tenant.name, tenant.name, obs.drift, obs.runbook_base_url))
        if tenant.alerting.receiver is not None:
            # The team's receiver may be rejected (a missing Secret): its alerts then reach the
            # platform on-call as copies (routing.py).
            groups.append(routing.rerouted_alerts_group(
                tenant.name, tenant.name, runbook_url(obs.runbook_base_url, routing.REROUTED_ALERT),
            ))
        out[f"kfplatform-tenant-{tenant.name}"] = groups
    if stack.kubeflow.control_plane.alerts:
        # The HA-floor alert of kfplatform/kubeflow/ha.py, rendered here so it carries the runbook's
        # base URL and the labels Prometheus selects rules by.
        out[FLOOR_RULE] = [floor_rule_group(stack.kubeflow.control_plane, ns, obs.runbook_base_url)]
    return out


def _floor_rule_aliases(parent: pulumi.Resource | None) -> list[pulumi.Alias]:
    """Where the HA-floor PrometheusRule lived before (`ha-alerts`, a child of Kubeflow's
    ControlPlaneHA `ha`, a sibling of this component): without the alias, `pulumi up` would create
    the rule here and then delete the same Kubernetes object as the old resource."""
    if parent is None:
        return []
    kubeflow = pulumi.create_urn("kubeflow", "kfplatform:kubeflow:Kubeflow", parent=parent)
    ha = pulumi.create_urn("ha", "kfplatform:kubeflow:ControlPlaneHA", parent=kubeflow)
    return [pulumi.Alias(name="ha-alerts", parent=ha)]


@dataclass(frozen=True)
class ObservabilityArgs:
    """What the observability box reads: the whole config, the namespaces and the secrets plane."""

    config: PlatformConfig
    namespaces: Mapping[str, k8s.core.v1.Namespace]  # platform namespaces by name
    tenant_namespaces: Mapping[str, k8s.core.v1.Namespace]
    secrets: SecretsPlane


class Observability(pulumi.ComponentResource):
    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kfplatform:observability:Observability", name, None, opts)
        self._name, self._args = name, args
        self._parent = opts.parent if opts else None
        stack = args.config.stack
        obs = stack.observability
        self._monitoring = monitoring = stack.cluster.namespaces.monitoring
        self._labels = dict(obs.selector_labels)
        self._tenants = tuple(sorted(args.tenant_namespaces))
        base = [args.namespaces[monitoring]] if monitoring in args.namespaces else []

        self.stack = None
        if obs.mode == "install":
            from .stack import MonitoringStack

            self.stack = MonitoringStack(
                f"{name}-stack", stack, namespace=monitoring,
                pull_secret=args.secrets.pull_secret_delivery(monitoring), opts=child(self, depends_on=base),
            )
            base = [*base, self.stack.prometheus]
        # Objects of the operator's CRDs wait for whatever installs them (install mode: the stack).
        self._rules(deps=base)
        self._monitors(deps=base)
        with_receiver = self._routing(deps=base)
        self._dashboards(deps=base[:1])
        self.outputs = {
            "observabilityMode": obs.mode,
            "alertReceivers": {t: ("team" if t in with_receiver else "platform-oncall") for t in self._tenants},
        }
        self.register_outputs(self.outputs)

    def _rules(self, deps: list[pulumi.Resource]) -> None:
        self.rules = {}
        for rule_name, groups in rule_groups(self._args.config).items():
            aliases = _floor_rule_aliases(self._parent) if rule_name == FLOOR_RULE else []
            self.rules[rule_name] = custom_resource(
                f"{self._name}-{rule_name}", api_version=MONITORING_API, kind="PrometheusRule",
                metadata=meta(rule_name, self._monitoring, component=COMPONENT, extra_labels=self._labels),
                spec={"groups": groups}, opts=pulumi.ResourceOptions.merge(
                    child(self, depends_on=deps), pulumi.ResourceOptions(aliases=aliases or None)),
            )

    def _monitors(self, deps: list[pulumi.Resource]) -> None:
        stack = self._args.config.stack
        ns = stack.cluster.namespaces
        endpoints = data_endpoints(stack)
        for monitor in platform_monitors(
            kubeflow_ns=ns.kubeflow, database_ns=ns.database, operators_ns=ns.operators, tenants=self._tenants,
            gpu_ns=ns.gpu_operator, argocd_ns=stack.kubeflow.argocd.namespace,
            object_store=(ns.object_store, MINIO_TENANT, endpoints.object_store_host,
                          endpoints.object_store_ca_configmap, endpoints.object_store_ca_key),
        ):
            custom_resource(
                f"{self._name}-podmonitor-{monitor.name}", api_version=MONITORING_API, kind="PodMonitor",
                metadata=meta(f"kfplatform-{monitor.name}", self._monitoring, component=COMPONENT, extra_labels=self._labels),
                spec=monitor.spec(), opts=child(self, depends_on=deps),
            )

    def _routing(self, deps: list[pulumi.Resource]) -> list[str]:
        """Each team with a receiver gets its AlertmanagerConfig; the rest go to the platform's. Returns
        the teams with a receiver."""
        name, args, monitoring, labels = self._name, self._args, self._monitoring, self._labels
        secrets = args.secrets
        with_receiver = []
        for tenant in sorted(args.config.tenant_configs, key=lambda t: t.name):
            kind = tenant.alerting.receiver
            if kind is None:
                pulumi.log.warn(
                    f"tenants/{tenant.name}.yaml: alerting.receiver is not set; team {tenant.name}'s alerts "
                    "go to the platform on-call until the team writes its receiver to Vault and declares it"
                )
                continue
            with_receiver.append(tenant.name)
            secret = secrets.deliver(
                tenant.name, routing.TEAM_RECEIVER_SECRET, tenant_home(tenant.name, TENANT_ALERTING),
                {RECEIVER_PROPERTY[kind]: RECEIVER_PROPERTY[kind]},
            )
            custom_resource(
                f"{name}-{tenant.name}-alertmanagerconfig", api_version="monitoring.coreos.com/v1alpha1",
                kind="AlertmanagerConfig",
                metadata=meta(routing.TEAM_CONFIG, tenant.name, component=COMPONENT,
                              extra_labels={**labels, **routing.SELECT_LABEL}),
                spec=routing.team_spec(tenant.name, kind),
                opts=child(self, depends_on=[*deps, secret, args.tenant_namespaces[tenant.name]]),
            )
        platform_kind = args.config.stack.observability.platform_receiver.type
        platform_secret = secrets.deliver(
            monitoring, routing.PLATFORM_RECEIVER_SECRET, platform_home(PLATFORM_ALERTING),
            {RECEIVER_PROPERTY[platform_kind]: RECEIVER_PROPERTY[platform_kind]},
        )
        custom_resource(
            f"{name}-platform-alertmanagerconfig", api_version="monitoring.coreos.com/v1alpha1",
            kind="AlertmanagerConfig",
            metadata=meta(routing.PLATFORM_CONFIG, monitoring, component=COMPONENT,
                          extra_labels={**labels, **routing.SELECT_LABEL}),
            spec=routing.platform_spec(platform_kind, with_receiver),
            opts=child(self, depends_on=[*deps, platform_secret]),
        )
        return with_receiver

    def _dashboards(self, deps: list[pulumi.Resource]) -> None:
        config, monitoring = self._args.config, self._monitoring
        ns = config.stack.cluster.namespaces
        boards = {
            "kfplatform-kubeflow": dashboards.kubeflow_dashboard(monitoring, ns.kubeflow, self._tenants),
            "kfplatform-data-tier": dashboards.data_tier_dashboard(ns.database, ns.object_store),
        }
        for tenant in config.tenant_configs:
            # One per team: its SLOs and budgets (none declared yet: the drift panel alone).
            boards[f"kfplatform-slo-{tenant.name}"] = dashboards.tenant_dashboard(tenant.name, tenant.name, tenant.serving)
        self.dashboards = boards
        for board_name, board in sorted(boards.items()):
            k8s.core.v1.ConfigMap(
                f"{self._name}-dashboard-{board_name}",
                metadata=meta(board_name, monitoring, component=COMPONENT, extra_labels=dashboards.SIDECAR_LABEL),
                data={f"{board_name}.json": dashboards.as_json(board)},
                opts=child(self, depends_on=deps),
            )
