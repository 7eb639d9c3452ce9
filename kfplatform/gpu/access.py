"""TenantGpuAccess: what a GPU-using tenant's namespace gets so its GPU work can run, and stays in bounds.

- PodDefault `gpu-pools`: tolerates the dedicated pools' `nvidia.com/gpu` taint. The
  ExtendedResourceToleration admission plugin (off by default) adds that toleration only to pods
  requesting `nvidia.com/gpu` itself, never to `nvidia.com/mig-*` requests. Pods opt in with the
  label `kfplatform.io/gpu-pools: "true"`: notebooks by picking it in the spawner
  ("configurations"), pipeline steps with `kfp.kubernetes.add_pod_label`, Katib trials in their
  trial template's pod labels (docs/gpus.md, "Tenant quotas and Katib").
- For a tenant that declares `katib:`, a ValidatingAdmissionPolicy (and its binding to the
  tenant's namespace) refuses Experiments above the declared `maxParallelTrials`: the number
  the capacity plan checked against the quota is the number that can run.
"""
from __future__ import annotations

from typing import Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..config.tenant import TenantConfig
from ..k8s import child, custom_resource, meta
from .operator import gpu_taint_toleration

PODDEFAULT_NAME = "gpu-pools"
PODDEFAULT_LABEL = "kfplatform.io/gpu-pools"
KATIB_DEFAULT_PARALLEL_TRIALS = 3  # Katib's default when an Experiment sets no parallelTrialCount


def uses_gpus(tenant: TenantConfig) -> bool:
    return any(count > 0 for count in tenant.gpu_quota().values())


def katib_policy_name(tenant: str) -> str:
    return f"katib-max-parallel-trials-{tenant}"


class TenantGpuAccess(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        tenant: TenantConfig,
        tenant_file: str,
        namespace: k8s.core.v1.Namespace,
        poddefault_crd: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`poddefault_crd`: what installs the PodDefault CRD (Kubeflow's admission webhook)."""
        super().__init__("kfplatform:gpu:TenantGpuAccess", name, None, opts)
        ns = tenant.name
        in_namespace = child(self, depends_on=[namespace, *poddefault_crd])
        self.pod_default = custom_resource(
            f"{name}-poddefault",
            api_version="kubeflow.org/v1alpha1",
            kind="PodDefault",
            metadata=meta(PODDEFAULT_NAME, ns, component="tenant-gpu"),
            spec={
                "desc": "Run on the GPU pools (tolerate the nvidia.com/gpu taint)",
                "selector": {"matchLabels": {PODDEFAULT_LABEL: "true"}},
                "tolerations": [gpu_taint_toleration()],
            },
            opts=in_namespace,
        )
        self.katib_policy = self._katib_trials_policy(name, tenant, tenant_file) if tenant.katib is not None else None
        self.register_outputs({"namespace": ns, "podDefault": PODDEFAULT_NAME})

    def _katib_trials_policy(
        self, name: str, tenant: TenantConfig, tenant_file: str
    ) -> k8s.admissionregistration.v1.ValidatingAdmissionPolicy:
        """The team's Katib Experiments run at most `katib.maxParallelTrials` trials at once (admission)."""
        ns = tenant.name
        limit = tenant.katib.max_parallel_trials
        policy = katib_policy_name(ns)
        katib_policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}-katib-policy",
            metadata=meta(policy, component="tenant-gpu"),
            spec=k8s.admissionregistration.v1.ValidatingAdmissionPolicySpecArgs(
                failure_policy="Fail",
                match_constraints=k8s.admissionregistration.v1.MatchResourcesArgs(
                    resource_rules=[
                        k8s.admissionregistration.v1.NamedRuleWithOperationsArgs(
                            api_groups=["kubeflow.org"],
                            api_versions=["*"],
                            operations=["CREATE", "UPDATE"],
                            resources=["experiments"],
                        )
                    ]
                ),
                validations=[
                    k8s.admissionregistration.v1.ValidationArgs(
                        expression=(
                            "(has(object.spec.parallelTrialCount) ? object.spec.parallelTrialCount : "
                            f"{KATIB_DEFAULT_PARALLEL_TRIALS}) <= {limit}"
                        ),
                        message=(
                            f"{ns} runs at most {limit} Katib trials in parallel ({tenant_file}: "
                            "katib.maxParallelTrials, which the GPU capacity plan checks against the quota)"
                        ),
                    )
                ],
            ),
            opts=child(self),
        )
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}-katib-policy-binding",
            metadata=meta(policy, component="tenant-gpu"),
            spec=k8s.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpecArgs(
                policy_name=policy,
                validation_actions=["Deny"],
                match_resources=k8s.admissionregistration.v1.MatchResourcesArgs(
                    namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                        match_labels={"kubernetes.io/metadata.name": ns}
                    )
                ),
            ),
            opts=child(self, depends_on=[katib_policy]),
        )
        return katib_policy
