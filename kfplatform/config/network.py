"""Network configuration: the peers a tenant namespace may reach, and who may reach it."""
from __future__ import annotations

import ipaddress
import re
from fractions import Fraction
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import DnsLabel, LabelKey, LabelValue, Model

REQUIRED_EGRESS = ("dns", "kubernetesApi", "kfpApi", "objectStore", "identityProvider", "logCollector")
REQUIRED_INGRESS = ("prometheus",)
# The allow-list entry that may name the `kubernetes` Service's ClusterIP inside the service CIDRs.
KUBERNETES_API = "kubernetesApi"
# Allow-list keys become NetworkPolicy names (`allow-egress-<kebab-case key>`); `proxy` is taken by
# the tenant's own egressProxy policy (`allow-egress-proxy`).
ALLOW_LIST_KEY = re.compile(r"[a-z][a-zA-Z0-9]{0,40}")
RESERVED_EGRESS_KEYS = ("proxy",)


def kebab(key: str) -> str:
    """`kfpApi` -> `kfp-api`: the NetworkPolicy name part of an allow-list key."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower()


class Port(Model):
    port: int = Field(ge=1, le=65535)
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"


class Peer(Model):
    """One allow-list entry: pods of a namespace (optionally by label), or CIDR blocks, on ports."""

    namespace: DnsLabel | None = None
    pod_labels: dict[LabelKey, LabelValue] = {}
    cidrs: list[str] = []
    ports: list[Port] = []
    # Free text for people: rendered nowhere.
    description: str = Field(default="", max_length=500)

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


class CidrLimits(Model):
    """How much of the address space an egress allow-list may open (IPv4 and IPv6 counted apart).

    `maxAddressShare`: the union of a namespace's egress CIDRs (overlaps merged first) may cover at
    most this share of the IPv4 space, and of the IPv6 space. `broadestPrefixV4`/`V6`: no single
    block may be broader than this prefix length.
    """

    max_address_share: float = Field(default=0.0001, gt=0, le=1)
    broadest_prefix_v4: int = Field(default=16, ge=1, le=32)
    broadest_prefix_v6: int = Field(default=48, ge=1, le=128)

    @property
    def share(self) -> Fraction:
        return Fraction(str(self.max_address_share))


class NetworkConfig(Model):
    """Named allow-lists. Every tenant namespace denies all traffic except these."""

    egress: dict[str, Peer]
    ingress: dict[str, Peer]
    cidr_limits: CidrLimits = CidrLimits()

    @field_validator("egress", "ingress")
    @classmethod
    def _keys(cls, value: dict[str, Peer]) -> dict[str, Peer]:
        bad = [key for key in value if not ALLOW_LIST_KEY.fullmatch(key)]
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))}: allow-list keys are camelCase words (e.g. kfpApi), at most 41 "
                "characters: they name NetworkPolicies"
            )
        taken = [key for key in value if key in RESERVED_EGRESS_KEYS]
        if taken:
            raise ValueError(f"{', '.join(taken)}: reserved (a tenant's egressProxy policy is allow-egress-proxy)")
        by_name: dict[str, str] = {}
        for key in value:
            if kebab(key) in by_name:
                raise ValueError(f"{by_name[kebab(key)]!r} and {key!r} would both be named allow-*-{kebab(key)}")
            by_name[kebab(key)] = key
        return value

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
