"""CrossGuard wrappers around `checks`: what `pulumi preview --policy-pack policy` enforces."""
from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import checks


def _stack_of(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<type>::<name>
    return urn.split(":")[2] if urn.startswith("urn:pulumi:") else ""


def _resource_policy(name: str, description: str, check, **extra) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for problem in check(args):
            report_violation(problem, args.urn)

    return ResourceValidationPolicy(name=name, description=description, validate=validate, **extra)


def _protected(args: ResourceValidationArgs) -> list[str]:
    stacks = args.get_config().get("protectedStacks", ["prod"])
    if _stack_of(args.urn) not in stacks:
        return []
    return checks.unprotected_stateful(args.resource_type, args.props, bool(args.opts.protect))


def _regulated(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    objects = [r.props for r in args.resources if r.resource_type.startswith("kubernetes:") and "kind" in r.props]
    for problem in checks.regulated_namespaces_unenforced(objects):
        report_violation(problem)


def _default_deny(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    objects = [r.props for r in args.resources if r.resource_type.startswith("kubernetes:") and "kind" in r.props]
    for problem in checks.tenants_without_default_deny(objects):
        report_violation(problem)


POLICIES = [
    _resource_policy(
        "images-pinned-by-digest",
        "Every image the platform deploys is pinned by sha256 digest.",
        lambda a: checks.unpinned_images(a.resource_type, a.props),
    ),
    _resource_policy(
        "no-literal-secret-data",
        "No Kubernetes Secret carries literal data; values live in Vault and arrive through ESO.",
        lambda a: checks.literal_secret_data(a.resource_type, a.props),
    ),
    _resource_policy(
        "stateful-resources-protected",
        "Galera, the MinIO tenant, buckets, Vault mounts and tenant namespaces are protected on protected stacks.",
        _protected,
        config_schema=PolicyConfigSchema(
            properties={"protectedStacks": {"type": "array", "items": {"type": "string"}, "default": ["prod"]}}
        ),
    ),
    _resource_policy(
        "no-internet-network-policy",
        "No NetworkPolicy opens 0.0.0.0/0; internet egress goes through a named proxy.",
        lambda a: checks.internet_egress(a.resource_type, a.props),
    ),
    _resource_policy(
        "explicit-object-names",
        "Kubernetes objects have explicit names (auto-naming adds random suffixes).",
        lambda a: checks.auto_named(a.resource_type, a.props),
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
    StackValidationPolicy(
        name="tenant-default-deny",
        description="Every tenant namespace has a default-deny NetworkPolicy for ingress and egress.",
        validate=_default_deny,
    ),
    StackValidationPolicy(
        name="regulated-namespaces-enforced",
        description="Regulated tenant namespaces are opted in to signature checks; both compliance admission checks deny.",
        validate=_regulated,
    ),
]
