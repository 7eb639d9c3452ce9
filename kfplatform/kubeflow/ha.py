"""ControlPlaneHA: the floor under Kubeflow's control plane, as objects this program owns.

For each Deployment of the HA set (release.HA_WORKLOADS):
- an HPA whose `minReplicas` is the floor. The HPA controller raises a Deployment below
  `minReplicas` before it looks at any metric, so the floor holds even without metrics, and
  even if a kustomize patch upstream stops matching after an upgrade;
- a PodDisruptionBudget (`maxUnavailable: 1`): a drain evicts one replica at a time and never
  blocks on a crash-looping pod (`unhealthyPodEvictionPolicy: AlwaysAllow`);
- patches on the upstream Deployment (in the install Application): replicas = the floor at
  creation, topology spread over nodes and zones, surge-only rolling updates, CPU requests
  the HPA can compute utilisation from;
- an alert when fewer than `minReplicas` replicas are available (`floor_rule_group`; rendered by
  the observability area, which knows the runbook's base URL and the labels Prometheus selects
  rules by).
"""
from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from ..alerts import PLATFORM_TEAM, alert_rule, runbook_url
from ..config.stack import PlatformNamespaces
from ..k8s import child, meta
from . import patches
from .config import ControlPlaneConfig, Scaling
from .release import HA_WORKLOADS, Workload

COMPONENT = "kubeflow-ha"
FLOOR_ALERT = "KubeflowControlPlaneBelowFloor"
# The PrometheusRule (in the monitoring namespace) and its one group.
FLOOR_RULE = "kubeflow-control-plane-ha"


def namespace_of(names: PlatformNamespaces, role: str) -> str:
    return names.model_dump(by_alias=True)[role]


def scaling_of(config: ControlPlaneConfig, key: str) -> Scaling:
    return getattr(config, key)


def spread_and_rollout_patch(workload: Workload, scaling: Scaling, zone_key: str) -> dict:
    """Topology spread (nodes: hard, zones: soft), surge-only rollouts, requests for the HPA.

    `nodeTaintsPolicy: Honor`: only nodes the pod tolerates count as domains. With the default
    (Ignore) every tainted node (the dedicated GPU pools, cordoned nodes in a drain) is a domain
    that always holds 0 replicas, so the hard node spread would allow at most one replica per
    schedulable node, for ever: the HPA could not scale past the number of untainted nodes.
    """
    selector = {"matchLabels": dict(workload.selector)}
    constraints = [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": selector,
            "matchLabelKeys": ["pod-template-hash"],
            "nodeTaintsPolicy": "Honor",
        },
        {
            "maxSkew": 1,
            "topologyKey": zone_key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": selector,
            "matchLabelKeys": ["pod-template-hash"],
            "nodeTaintsPolicy": "Honor",
        },
    ]
    return patches.deployment(
        workload.deployment,
        spec={"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}},
        template_spec={
            "topologySpreadConstraints": constraints,
            "containers": [
                patches.container(
                    workload.container,
                    resources={"requests": {"cpu": str(scaling.cpu_request), "memory": str(scaling.memory_request)}},
                )
            ],
        },
    )


# The ingress gateway drains before it exits (istio/istio 1.28.0, the proxy kubeflow/manifests
# v1.11.0 ships: pkg/envoy/agent.go `terminate`, pilot/cmd/pilot-agent/options/options.go):
# on SIGTERM pilot-agent drains Envoy's listeners; with EXIT_ON_ZERO_ACTIVE_CONNECTIONS it then waits
# MINIMUM_DRAIN_DURATION and exits once no downstream connection is active (otherwise it exits
# after terminationDrainDuration, 5 s by default, whatever is still open). Before SIGTERM, a preStop
# sleep keeps the gateway serving while its endpoint is removed from the Service and from cloud
# load balancers, so no new connection is sent to a gateway that is already draining.
GATEWAY_PRESTOP_SECONDS = 15
GATEWAY_MIN_DRAIN = "10s"
GATEWAY_TERMINATION_GRACE_SECONDS = 90  # preStop + drain; the kubelet kills whatever is left then


def gateway_drain_patch(workload: Workload) -> dict:
    return patches.deployment(
        workload.deployment,
        template_spec={
            "terminationGracePeriodSeconds": GATEWAY_TERMINATION_GRACE_SECONDS,
            "containers": [patches.container(
                workload.container,
                env=[
                    patches.env_value("EXIT_ON_ZERO_ACTIVE_CONNECTIONS", "true"),
                    patches.env_value("MINIMUM_DRAIN_DURATION", GATEWAY_MIN_DRAIN),
                ],
                # The kubelet's own sleep (no binary needed in the proxy image; Kubernetes >= 1.30).
                lifecycle={"preStop": {"sleep": {"seconds": GATEWAY_PRESTOP_SECONDS}}},
            )],
        },
    )


DRAINED_WORKLOADS = {"istio_ingress_gateway": gateway_drain_patch}


def floor_rule_group(config: ControlPlaneConfig, namespaces: PlatformNamespaces, runbook_base_url: str) -> dict:
    """The HA-floor alert, one rule per Deployment (promtool sees no duplicate rules), in the alert
    contract of kfplatform/alerts.py: a floor of 2 or more is what keeps the control plane up
    through a node loss, so falling below it pages; a floor of 1 (sandbox) is a ticket."""
    rules = []
    for key, workload in HA_WORKLOADS.items():
        scaling = scaling_of(config, key)
        ns = namespace_of(namespaces, workload.namespace_role)
        rules.append(alert_rule(
            FLOOR_ALERT,
            f'kube_deployment_status_replicas_available{{namespace="{ns}",deployment="{workload.deployment}"}}'
            f" < {scaling.min_replicas}",
            for_=config.alert_after,
            severity="page" if scaling.min_replicas >= 2 else "ticket",
            slo=FLOOR_ALERT, team=PLATFORM_TEAM, name=workload.deployment,
            summary=f"{ns}/{workload.deployment} has fewer than {scaling.min_replicas} available replicas",
            runbook=runbook_url(runbook_base_url, FLOOR_ALERT),
        ))
    return {"name": FLOOR_RULE, "rules": rules}


def install_wiring(config: ControlPlaneConfig, zone_key: str) -> dict[str, dict]:
    """Per install Application: `patches`, `replicas` and `ignoreDifferences` of the HA set."""
    out: dict[str, dict] = {}
    for key, workload in HA_WORKLOADS.items():
        scaling = scaling_of(config, key)
        entry = out.setdefault(workload.component, {"patches": [], "replicas": [], "ignore": []})
        entry["patches"].append(spread_and_rollout_patch(workload, scaling, zone_key))
        if key in DRAINED_WORKLOADS:
            entry["patches"].append(DRAINED_WORKLOADS[key](workload))
        entry["replicas"].append({"name": workload.deployment, "count": scaling.min_replicas})
        # The HPA owns spec.replicas once the Deployment exists; Argo CD must not reset it.
        entry["ignore"].append({"group": "apps", "kind": "Deployment", "name": workload.deployment, "jsonPointers": ["/spec/replicas"]})
    return out


class ControlPlaneHA(pulumi.ComponentResource):
    """HPAs and PDBs for the HA set (its alert: `floor_rule_group`, rendered by observability)."""

    def __init__(
        self,
        name: str,
        config: ControlPlaneConfig,
        namespaces: PlatformNamespaces,
        namespace_resources: Mapping[str, k8s.core.v1.Namespace],
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`namespace_resources`: platform Namespace resources by name, so each object waits for its own."""
        super().__init__("kfplatform:kubeflow:ControlPlaneHA", name, None, opts)
        self.hpas: dict[str, k8s.autoscaling.v2.HorizontalPodAutoscaler] = {}
        self.pdbs: dict[str, k8s.policy.v1.PodDisruptionBudget] = {}
        for key, workload in HA_WORKLOADS.items():
            scaling = scaling_of(config, key)
            ns = namespace_of(namespaces, workload.namespace_role)
            labels = {"kfplatform.io/ha-target": workload.deployment}
            deps = [namespace_resources[ns]]
            self.hpas[key] = self._autoscaler(name, workload.deployment, ns, labels, scaling, deps)
            self.pdbs[key] = self._disruption_budget(name, workload, ns, labels, deps)
        self.register_outputs({"floors": {k: scaling_of(config, k).min_replicas for k in HA_WORKLOADS}})

    def _autoscaler(
        self, name: str, deployment: str, ns: str, labels: dict, scaling: Scaling, deps: list[pulumi.Resource]
    ) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
        """Scale on CPU between the floor and the ceiling; down slowly."""
        return k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-{deployment}-hpa",
            metadata=meta(deployment, ns, component=COMPONENT, extra_labels=labels),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=deployment
                ),
                min_replicas=scaling.min_replicas,
                max_replicas=scaling.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=scaling.target_cpu_utilization
                            ),
                        ),
                    )
                ],
                behavior=k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
                    # Scale down slowly: a burst of logins or runs should not flap the floor.
                    scale_down=k8s.autoscaling.v2.HPAScalingRulesArgs(
                        stabilization_window_seconds=300,
                        policies=[k8s.autoscaling.v2.HPAScalingPolicyArgs(type="Pods", value=1, period_seconds=60)],
                    ),
                ),
            ),
            opts=child(self, depends_on=deps),
        )

    def _disruption_budget(
        self, name: str, workload: Workload, ns: str, labels: dict, deps: list[pulumi.Resource]
    ) -> k8s.policy.v1.PodDisruptionBudget:
        """One pod at a time; an unhealthy pod may always be evicted (it cannot block a drain)."""
        return k8s.policy.v1.PodDisruptionBudget(
            f"{name}-{workload.deployment}-pdb",
            metadata=meta(workload.deployment, ns, component=COMPONENT, extra_labels=labels),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(workload.selector)),
                unhealthy_pod_eviction_policy="AlwaysAllow",
            ),
            opts=child(self, depends_on=deps),
        )
