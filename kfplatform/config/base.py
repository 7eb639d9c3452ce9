"""The base model every configuration model derives from, and shared value types."""
from __future__ import annotations

import re
from fractions import Fraction
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo
from pydantic.alias_generators import to_camel

from .quantity import QUANTITY, QuantityError, count_quantity, non_negative_quantity, parse_quantity, positive_quantity  # noqa: F401

# Every validation regex here is applied with `fullmatch`: `re.match(r"^...$")` accepts a trailing
# newline (`$` matches before it), and a value with a newline is never a name.
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# apimachinery pkg/api/validate/content/kube.go (v0.36.3): labelKeyFmt / labelValueFmt, each at most 63.
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


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
    if len(value) > 63 or not DNS_LABEL.fullmatch(value):
        raise ValueError(f"{value!r} is not a DNS label (lower-case letters, digits and '-', at most 63)")
    return value


def label_value(value: str) -> str:
    """A Kubernetes label value: empty, or <= 63 of [A-Za-z0-9-_.] starting and ending alphanumeric."""
    if len(value) > 63 or not LABEL_VALUE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Kubernetes label value (at most 63 letters, digits, '-', '_', '.', "
            "starting and ending with a letter or digit)"
        )
    return value


def label_key(value: str) -> str:
    """A Kubernetes label key: `[prefix/]name`, prefix a DNS subdomain (<= 253), name <= 63."""
    prefix, _, name = value.rpartition("/")
    if "/" in value and (not prefix or len(prefix) > 253 or not DNS_SUBDOMAIN.fullmatch(prefix)):
        raise ValueError(f"{value!r}: the label key's prefix must be a DNS subdomain (e.g. example.com/name)")
    if len(name) > 63 or not LABEL_NAME.fullmatch(name):
        raise ValueError(f"{value!r} is not a Kubernetes label key ([prefix/]name, name at most 63 of [A-Za-z0-9-_.])")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
LabelValue = Annotated[str, AfterValidator(label_value)]
LabelKey = Annotated[str, AfterValidator(label_key)]
# Every quantity in the configuration is a request, limit or size: apimachinery's grammar, non-negative.
Quantity = Annotated[str, BeforeValidator(non_negative_quantity)]
SizeQuantity = Annotated[str, BeforeValidator(positive_quantity)]
CountQuantity = Annotated[str, BeforeValidator(count_quantity)]


def quantity_value(text: object) -> Fraction:
    """The exact value of a Kubernetes quantity (`16Gi` -> 17179869184); QuantityError if it is not one."""
    return parse_quantity(text)


def is_prod(info: ValidationInfo) -> bool:
    """True while validating a prod stack: the loader passes `{"environment": ...}` as context.

    Models whose rules are stricter in prod (odd Galera replicas, >= 2 replicas...) check this
    in their own validators, so the error is reported at their own key path.
    """
    return (info.context or {}).get("environment") == "prod"
