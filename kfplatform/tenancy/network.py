"""TenantNetworkPolicies: default deny of ingress and egress, then one named policy per allow-list.

A reader finds everything a tenant namespace may reach, and be reached by, in this file and in
`network:` of the stack config. Internet egress stays closed unless the tenant names a proxy.
"""
from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from ..config.network import NetworkConfig, Peer, kebab
from ..config.tenant import TenantConfig
from ..k8s import child, meta

NP = k8s.networking.v1


def _peers(peer: Peer) -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
    if peer.cidrs:
        return [NP.NetworkPolicyPeerArgs(ip_block=NP.IPBlockArgs(cidr=cidr)) for cidr in peer.cidrs]
    return [
        NP.NetworkPolicyPeerArgs(
            namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels={"kubernetes.io/metadata.name": peer.namespace}
            ),
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(peer.pod_labels)) if peer.pod_labels else None,
        )
    ]


def _ports(peer: Peer) -> list[k8s.networking.v1.NetworkPolicyPortArgs] | None:
    return [NP.NetworkPolicyPortArgs(port=p.port, protocol=p.protocol) for p in peer.ports] or None


class TenantNetworkPolicies(pulumi.ComponentResource):
    """Default-deny plus allow-lists for one tenant namespace."""

    def __init__(
        self,
        name: str,
        tenant: TenantConfig,
        network: NetworkConfig,
        namespace: k8s.core.v1.Namespace,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:tenancy:TenantNetworkPolicies", name, None, opts)
        ns = tenant.name
        all_pods = k8s.meta.v1.LabelSelectorArgs()
        self.policy_names: list[str] = []

        def policy(key: str, spec: k8s.networking.v1.NetworkPolicySpecArgs) -> None:
            NP.NetworkPolicy(
                f"{ns}-{key}",
                metadata=meta(key, ns, component="tenant-network"),
                spec=spec,
                opts=child(self, depends_on=[namespace]),
            )
            self.policy_names.append(key)

        policy("default-deny", NP.NetworkPolicySpecArgs(pod_selector=all_pods, policy_types=["Ingress", "Egress"]))
        # The team's own pods talk to each other (pipeline steps, distributed training, notebooks).
        same_ns = [NP.NetworkPolicyPeerArgs(pod_selector=all_pods)]
        policy(
            "allow-same-namespace",
            NP.NetworkPolicySpecArgs(
                pod_selector=all_pods,
                policy_types=["Ingress", "Egress"],
                ingress=[NP.NetworkPolicyIngressRuleArgs(from_=same_ns)],
                egress=[NP.NetworkPolicyEgressRuleArgs(to=same_ns)],
            ),
        )
        for key, peer in sorted(network.egress.items()):
            policy(
                f"allow-egress-{kebab(key)}",
                NP.NetworkPolicySpecArgs(
                    pod_selector=all_pods,
                    policy_types=["Egress"],
                    egress=[NP.NetworkPolicyEgressRuleArgs(to=_peers(peer), ports=_ports(peer))],
                ),
            )
        for key, peer in sorted(network.ingress.items()):
            policy(
                f"allow-ingress-{kebab(key)}",
                NP.NetworkPolicySpecArgs(
                    pod_selector=all_pods,
                    policy_types=["Ingress"],
                    ingress=[NP.NetworkPolicyIngressRuleArgs(from_=_peers(peer), ports=_ports(peer))],
                ),
            )
        if tenant.egress_proxy is not None:
            policy(
                "allow-egress-proxy",
                NP.NetworkPolicySpecArgs(
                    pod_selector=all_pods,
                    policy_types=["Egress"],
                    egress=[NP.NetworkPolicyEgressRuleArgs(to=_peers(tenant.egress_proxy), ports=_ports(tenant.egress_proxy))],
                ),
            )
        self.register_outputs({"policies": self.policy_names})
