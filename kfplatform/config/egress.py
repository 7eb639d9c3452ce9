"""What an egress allow-list may open by address: checks on CIDR peers (stack and tenant).

A NetworkPolicy `ipBlock` opens every address in it, on the ports named. So a CIDR peer must not:
- be broader than `network.cidrLimits.broadestPrefixV4/V6` (one block), nor, with every other
  CIDR the namespace may reach, cover more than `maxAddressShare` of the IPv4 or the IPv6 space
  (overlaps merged first: two /1s are the whole internet, whatever each looks like alone);
- overlap link-local 169.254.0.0/16 (the cloud metadata endpoint 169.254.169.254 hands out node
  credentials), fe80::/10, AWS's IPv6 metadata address fd00:ec2::254, or their IPv4-mapped form;
- overlap the cluster's pod or Service ranges (`cluster.podCidrs`, `cluster.serviceCidrs`): by
  address, that would reach every pod, the platform's included, past the namespace allow-lists.

One deliberate exception: the `kubernetesApi` entry of `network.egress` may name the `kubernetes`
Service's ClusterIP (the first address of a service range) as a single address. Policies apply
after kube-proxy's DNAT on most CNIs, so that entry also lists the API server endpoints; the
ClusterIP itself opens nothing else.
"""
from __future__ import annotations

import ipaddress
from fractions import Fraction
from typing import Iterable, Union

from .network import CidrLimits

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

FORBIDDEN: dict[str, str] = {
    "169.254.0.0/16": "link-local (the cloud metadata endpoint 169.254.169.254)",
    "fe80::/10": "IPv6 link-local",
    "fd00:ec2::254/128": "the IPv6 cloud metadata endpoint",
    "::ffff:169.254.0.0/112": "link-local written as IPv4-mapped IPv6",
}


def _networks(cidrs: Iterable[str]) -> list[Network]:
    out = []
    for cidr in cidrs:
        try:
            out.append(ipaddress.ip_network(cidr, strict=True))
        except ValueError:
            continue  # reported by the model that holds it
    return out


def block_problems(cidr: str, limits: CidrLimits, pod_cidrs: list[str], service_cidrs: list[str],
                   may_name_api_service: bool = False) -> list[str]:
    """Why one CIDR block may not be an egress peer (empty when it may)."""
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        return []
    problems = []
    broadest = limits.broadest_prefix_v4 if net.version == 4 else limits.broadest_prefix_v6
    if net.prefixlen < broadest:
        problems.append(
            f"{cidr} is broader than /{broadest} (network.cidrLimits.broadestPrefixV{net.version}); "
            "name the proxy or service's own addresses"
        )
    for forbidden, what in FORBIDDEN.items():
        bad = ipaddress.ip_network(forbidden)
        if bad.version == net.version and net.overlaps(bad):
            problems.append(f"{cidr} overlaps {forbidden}, {what}")
    for other in _networks(pod_cidrs):
        if other.version == net.version and net.overlaps(other):
            problems.append(f"{cidr} overlaps the pod range {other} (cluster.podCidrs): allow pods by namespace instead")
    for other in _networks(service_cidrs):
        if other.version == net.version and net.overlaps(other):
            api_ip = net.num_addresses == 1 and net.network_address == other.network_address + 1
            if not (may_name_api_service and api_ip):
                problems.append(
                    f"{cidr} overlaps the Service range {other} (cluster.serviceCidrs): allow pods by namespace instead"
                )
    return problems


def union_problems(cidrs: Iterable[str], limits: CidrLimits, what: str) -> list[str]:
    """Why the union of `cidrs` opens too much of the IPv4 or IPv6 space (each counted apart)."""
    problems = []
    networks = _networks(cidrs)
    for version, bits in ((4, 32), (6, 128)):
        merged = list(ipaddress.collapse_addresses(n for n in networks if n.version == version))
        covered = sum(n.num_addresses for n in merged)
        share = Fraction(covered, 2**bits)
        if share > limits.share:
            problems.append(
                f"{what} together cover {float(share):.4%} of the IPv{version} address space "
                f"({', '.join(map(str, merged))}), more than network.cidrLimits.maxAddressShare "
                f"{limits.max_address_share:g}"
            )
    return problems
