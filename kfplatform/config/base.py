"""The base model every configuration model derives from, and shared value types."""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo
from pydantic.alias_generators import to_camel

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Kubernetes resource.Quantity, as apimachinery parses it.
QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?\d+))?$")


class Model(BaseModel):
    """Strict, immutable, camelCase in YAML (`storageClass`), snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )


def _dns_label(value: str) -> str:
    if len(value) > 63 or not DNS_LABEL.match(value):
        raise ValueError(f"{value!r} is not a DNS label (lower-case letters, digits and '-', at most 63)")
    return value


def _quantity(value: str | int | float) -> str:
    text = str(value)
    if not QUANTITY.match(text):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 4, 16Gi)")
    return text


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Quantity = Annotated[str | int | float, AfterValidator(_quantity)]


_SUFFIX = {
    "": 1, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}


def quantity_value(text: str | int | float) -> float:
    """The numeric value of a Kubernetes quantity (`16Gi` -> 17179869184.0)."""
    match = re.match(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))([eE][+-]?\d+|[A-Za-z]*)$", str(text))
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number, suffix = match.groups()
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return float(number + suffix)
    return float(number) * _SUFFIX[suffix]


def is_prod(info: ValidationInfo) -> bool:
    """True while validating a prod stack: the loader passes `{"environment": ...}` as context.

    Models whose rules are stricter in prod (odd Galera replicas, >= 2 replicas...) check this
    in their own validators, so the error is reported at their own key path.
    """
    return (info.context or {}).get("environment") == "prod"
