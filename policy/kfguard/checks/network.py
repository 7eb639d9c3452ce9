"""Network policies: no internet peer."""
from __future__ import annotations

from typing import Any

from .. import walk as w
from .common import *  # noqa: F403 - the shared constants, Finding, Res


def internet_egress(resource_type: str, props: Any) -> list[Finding]:
    """A NetworkPolicy never opens 0.0.0.0/0 or ::/0: name the proxy or service instead."""
    if resource_type != "kubernetes:networking.k8s.io/v1:NetworkPolicy":
        return []
    found = []
    for direction, peers_key in (("egress", "to"), ("ingress", "from")):
        for rule in w.each(w.dig(props, "spec", direction)):
            for peer in w.each(w.get(rule, peers_key)):
                cidr = w.dig(peer, "ipBlock", "cidr")
                if isinstance(cidr, str) and cidr.endswith("/0"):
                    found.append(Finding(
                        f"NetworkPolicy {w.name_of(props)} opens {direction} to {cidr}",
                        "name the peer (namespace/pod labels, a /32 of the proxy, the tenant's egress proxy)",
                    ))
    return found
