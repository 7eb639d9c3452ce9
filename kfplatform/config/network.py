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

    @field_validator("egress", mode="before")
    @classmethod
    def _required_egress(cls, value: object) -> object:
        return _require(value, REQUIRED_EGRESS)

    @field_validator("ingress", mode="before")
    @classmethod
    def _required_ingress(cls, value: object) -> object:
        return _require(value, REQUIRED_INGRESS)

    @field_validator("egress")
    @classmethod
    def _egress_ports(cls, value: dict[str, Peer]) -> dict[str, Peer]:
        open_ended = [key for key, peer in value.items() if not peer.ports]
        if open_ended:
            raise ValueError(f"{', '.join(open_ended)}: give `ports`; an egress allow-list entry opens named ports only")
        return value


def _require(value: object, required: tuple[str, ...]) -> object:
    if isinstance(value, dict):
        missing = [key for key in required if key not in value]
        if missing:
            raise ValueError(f"missing required allow-list entries: {', '.join(missing)}")
    return value
