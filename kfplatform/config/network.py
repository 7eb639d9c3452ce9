"""Network configuration: the peers a tenant namespace may reach, and who may reach it."""
from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import DnsLabel, Model

REQUIRED_EGRESS = ("dns", "kubernetesApi", "kfpApi", "objectStore", "identityProvider", "logCollector")
REQUIRED_INGRESS = ("prometheus",)


class Port(Model):
    port: int = Field(ge=1, le=65535)
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"


class Peer(Model):
    """One allow-list entry: pods of a namespace (optionally by label), or CIDR blocks, on ports."""

    namespace: DnsLabel | None = None
    pod_labels: dict[str, str] = {}
    cidrs: list[str] = []
    ports: list[Port] = []
    description: str = ""

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as e:
                raise ValueError(f"{cidr!r} is not a CIDR block ({e})") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> "Peer":
        if bool(self.namespace) == bool(self.cidrs):
            raise ValueError("give exactly one of `namespace` (in-cluster peer) or `cidrs` (external peer)")
        if self.pod_labels and not self.namespace:
            raise ValueError("`podLabels` needs `namespace`")
        for cidr in self.cidrs:
            if ipaddress.ip_network(cidr).prefixlen == 0:
                raise ValueError(f"{cidr} opens the whole internet; name the proxy or service instead")
        return self


class NetworkConfig(Model):
    """Named allow-lists. Every tenant namespace denies all traffic except these."""

    egress: dict[str, Peer]
    ingress: dict[str, Peer]

    @model_validator(mode="after")
    def _required(self) -> "NetworkConfig":
        missing = [f"egress.{k}" for k in REQUIRED_EGRESS if k not in self.egress]
        missing += [f"ingress.{k}" for k in REQUIRED_INGRESS if k not in self.ingress]
        if missing:
            raise ValueError(f"missing required allow-list entries: {', '.join(missing)}")
        for direction, peers in (("egress", self.egress), ("ingress", self.ingress)):
            for key, peer in peers.items():
                if direction == "egress" and not peer.ports:
                    raise ValueError(f"egress.{key}: give `ports`; an egress allow-list entry opens named ports only")
        return self
