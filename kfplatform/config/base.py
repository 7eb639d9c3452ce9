"""The base model every configuration model derives from, and shared value types."""
from __future__ import annotations

import re
from fractions import Fraction
from typing import Annotated, Any, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator
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

    @field_validator("*", mode="before")
    @classmethod
    def _no_stray_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        """YAML `true`/`yes` is a boolean, and pydantic's lax mode would make it 1 (or 1.0) in a number
        field: a boolean is accepted only where the field itself takes one."""
        field = cls.model_fields.get(info.field_name or "")
        where = _bool_at(value)
        if field is not None and where is not None and not _takes_bool(field.annotation):
            raise ValueError(
                f"{where + ': ' if where else ''}a YAML boolean (true/false, yes/no, on/off) is not a value here; "
                "write a number or quoted text"
            )
        # And the other way round: a yes/no field takes a YAML boolean only. Pydantic's lax mode
        # would read "no", "off", "0" or 0 as False and "yes" or 1 as True, a silent guess at
        # what a quoted string meant.
        if field is not None and value is not None and not isinstance(value, bool) and _only_bool(field.annotation):
            raise ValueError(f"Input should be a valid boolean: an unquoted YAML true or false, not {value!r}")
        return value


def _bool_at(value: Any, path: str = "") -> str | None:
    """The key path of the first boolean inside `value` ("" for `value` itself), or None."""
    if isinstance(value, bool):
        return path
    if isinstance(value, dict):
        for k, v in value.items():
            inner = _bool_at(k, path) if isinstance(k, bool) else _bool_at(v, f"{path}.{k}" if path else str(k))
            if inner is not None:
                return inner
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            inner = _bool_at(v, f"{path}[{i}]")
            if inner is not None:
                return inner
    return None


def _only_bool(annotation: Any) -> bool:
    """True if `annotation` is `bool` or `bool | None`: a field that takes nothing but yes or no."""
    if annotation is bool:
        return True
    args = get_args(annotation)
    return bool(args) and bool in args and all(a is bool or a is type(None) for a in args)


def _takes_bool(annotation: Any) -> bool:
    """True if `annotation` accepts a bool somewhere, or holds a model (which checks its own fields)."""
    if annotation is bool or annotation is Any:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_takes_bool(arg) for arg in get_args(annotation))


def _dns_label(value: str) -> str:
    if len(value) > 63 or not DNS_LABEL.fullmatch(value):
        raise ValueError(f"{value!r} is not a DNS label (lower-case letters, digits and '-', at most 63)")
    return value


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not DNS_SUBDOMAIN.fullmatch(value):
        raise ValueError(f"{value!r} is not a DNS subdomain (lower-case letters, digits, '-' and '.', at most 253)")
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
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
LabelValue = Annotated[str, AfterValidator(label_value)]
LabelKey = Annotated[str, AfterValidator(label_key)]
# Every quantity in the configuration is a request, limit or size: apimachinery's grammar, non-negative.
Quantity = Annotated[str, BeforeValidator(non_negative_quantity)]
SizeQuantity = Annotated[str, BeforeValidator(positive_quantity)]
# A whole number of things (devices, objects) written as a quantity.
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


# Go's time.ParseDuration, the subset the platform's consumers read (Vault TTLs, Velero and
# mariadb-operator retention): hours, minutes, seconds in that order, at least one; a Go duration
# is an int64 of nanoseconds, so it stops at about 2562047h.
GO_DURATION = re.compile(r"(?=\d)((?P<h>\d+)h)?((?P<m>\d+)m)?((?P<s>\d+)s)?")
MAX_GO_DURATION_S = (2**63 - 1) // 10**9


def duration_seconds(value: str) -> int:
    """`720h` / `1h30m` / `90s` in seconds; ValueError for anything else or out of Go's range."""
    match = GO_DURATION.fullmatch(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration like 720h, 1h30m or 90s")
    seconds = int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + int(match["s"] or 0)
    if seconds > MAX_GO_DURATION_S:
        raise ValueError(f"{value!r} is out of range (a Go duration stops at about 2562047h, 292 years)")
    return seconds
