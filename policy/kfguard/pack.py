"""The policies of the CrossGuard pack: what `pulumi preview --policy-pack policy` enforces.

Each policy has a name (the key in policy/config/<stack>.json), a description a reviewer
understands, and reports each violation as `<what is wrong>\\nfix: <how to fix it>`. Enforcement
levels come from the pack config file (`--policy-pack-config policy/config/prod.json`), not from
code; values a policy needs (the internal registry, HA floors, the rotation maximum age) come from
the same file, because a policy sees the engine's view of the resources and never the stack config.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

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
from .checks import Finding, Res

FIX = "\nfix: "
PACK_NAME = "kubeflow-platform-guardrails"


def _stack_of(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<type>::<name>
    return urn.split(":")[2] if urn.startswith("urn:pulumi:") else ""


def _report(report_violation: ReportViolation, finding: Finding, urn: str | None) -> None:
    report_violation(f"{finding.message}{FIX}{finding.hint}", urn or None)


def _resource_policy(name: str, description: str, check: Callable[[ResourceValidationArgs, dict], Iterable[Finding]],
                     properties: dict[str, dict] | None = None, **extra) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        config = dict(args.get_config() or {})
        for finding in check(args, config):
            _report(report_violation, finding, args.urn)

    schema = PolicyConfigSchema(properties=properties) if properties else None
    return ResourceValidationPolicy(name=name, description=description, validate=validate, config_schema=schema, **extra)


def _stack_resources(args: StackValidationArgs) -> list[Res]:
    return [
        Res(
            type=r.resource_type,
            props=r.props,
            urn=r.urn,
            name=r.name,
            protect=bool(r.opts.protect) if r.opts is not None else False,
            dependencies=tuple(d.urn for d in (r.dependencies or [])),
        )
        for r in args.resources
    ]


def _stack_policy(name: str, description: str, check: Callable[[list[Res], dict], Iterable[tuple[Res | None, Finding]]],
                  properties: dict[str, dict] | None = None, **extra) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config = dict(args.get_config() or {})
        for resource, finding in check(_stack_resources(args), config):
            _report(report_violation, finding, resource.urn if resource is not None else None)

    schema = PolicyConfigSchema(properties=properties) if properties else None
    return StackValidationPolicy(name=name, description=description, validate=validate, config_schema=schema, **extra)


def _strings(default: list[str], description: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "default": default, "description": description}


def _protected(args: ResourceValidationArgs, config: dict) -> list[Finding]:
    if _stack_of(args.urn) not in config.get("protectedStacks", ["prod"]):
        return []
    return checks.unprotected_stateful(args.resource_type, args.props, bool(args.opts.protect))


DEFAULT_FLOORS = {
    "kubeflow/ml-pipeline": 2,
    "kubeflow/metadata-grpc-deployment": 2,
    "kubeflow/ml-pipeline-ui": 2,
    "istio-system/istio-ingressgateway": 2,
    "kubeflow-db/proxysql": 2,
}
CREDENTIAL_NAMES = r"^(platform-database-|.*-object-store-)"

POLICIES = [
    _resource_policy(
        "images-pinned-by-digest",
        "Every image (pod specs, operator CRs, Helm values, Argo CD patches) is pulled from the internal "
        "registry and pinned by a real sha256 digest: no tag-only reference, no `latest`, no placeholder.",
        lambda a, c: checks.unpinned_images(a.resource_type, a.props, c.get("registries") or []),
        {"registries": _strings([], "registry prefixes images must come from (the stack's images.mirror)")},
    ),
    _resource_policy(
        "image-digests-verified",
        "Every image digest was verified against its registry (two independent sources or the upstream "
        "release artefact); the ones that were not are listed until someone checks them.",
        lambda a, c: checks.unverified_digests(a.resource_type, a.props, c.get("unverified") or []),
        {"unverified": _strings([], "<path>:<tag>@<digest> of each image whose digest is not verified "
                                    "(kfplatform/images.py, kept equal by a test)")},
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
    _resource_policy(
        "pipeline-sources-internal",
        "No rendered object points pipeline steps at a public package index or a public registry "
        "(pip reads the internal PyPI mirror, base images come from the internal registry).",
        lambda a, c: checks.public_pipeline_sources(
            a.resource_type, a.props, c.get("publicIndexes") or checks.PUBLIC_INDEXES,
            c.get("publicRegistries") or checks.PUBLIC_REGISTRIES),
        {
            "publicIndexes": _strings(list(checks.PUBLIC_INDEXES), "package index hosts that are public"),
            "publicRegistries": _strings(list(checks.PUBLIC_REGISTRIES), "registry hosts that are public"),
        },
    ),
    _resource_policy(
        "no-credential-literals",
        "No Kubernetes Secret carries literal data, and no credential-looking literal sits in a ConfigMap, "
        "an env var or an annotation: values live in Vault and arrive through ESO.",
        lambda a, c: checks.credential_literals(a.resource_type, a.props),
    ),
    _resource_policy(
        "stateful-resources-protected",
        "Galera, the MinIO tenant, buckets, Vault mounts, tenant namespaces and the charts owning their "
        "CRDs are protected against deletion on protected stacks.",
        _protected,
        {"protectedStacks": _strings(["prod"], "stacks whose stateful resources must be protected")},
    ),
    _resource_policy(
        "no-internet-network-policy",
        "No NetworkPolicy opens 0.0.0.0/0; internet egress goes through a named proxy.",
        lambda a, c: checks.internet_egress(a.resource_type, a.props),
    ),
    _resource_policy(
        "explicit-object-names",
        "Kubernetes objects have explicit names (auto-naming adds random suffixes).",
        lambda a, c: checks.auto_named(a.resource_type, a.props),
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
    _resource_policy(
        "workload-requests-limits",
        "Platform workloads (pod templates, the Galera cluster, MinIO pools) set CPU and memory requests "
        "and a memory limit on every container.",
        lambda a, c: checks.missing_requests_limits(a.resource_type, a.props),
    ),
    _stack_policy(
        "tenant-isolation",
        "Every tenant namespace has default-deny ingress and egress, a ResourceQuota and a LimitRange, "
        "and its GPU quotas name only resources the GPU pools supply.",
        lambda rs, c: checks.tenant_isolation(rs),
    ),
    _stack_policy(
        "ha-floors",
        "KFP API, ML Metadata, KFP UI, the Istio gateway and ProxySQL run >= 2 replicas with a PDB; "
        "Galera has an odd number >= 3 of nodes; MinIO pools have >= 4 servers and a parity that "
        "survives the loss of the configured failure domain.",
        lambda rs, c: checks.ha_floors(
            rs, {k: int(v) for k, v in (c.get("replicaFloors") or DEFAULT_FLOORS).items()},
            int(c.get("galeraMinReplicas", 3)), int(c.get("minioMinServers", 4)),
            c.get("failureDomain") or {"kind": "node"}),
        {
            "replicaFloors": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1},
                              "default": DEFAULT_FLOORS, "description": "namespace/workload -> minimum replicas"},
            "galeraMinReplicas": {"type": "integer", "minimum": 1, "default": 3},
            "minioMinServers": {"type": "integer", "minimum": 1, "default": 4},
            "failureDomain": {
                "type": "object", "default": {"kind": "node"},
                "properties": {"kind": {"enum": ["node", "zone"]}, "zones": {"type": "integer", "minimum": 1}},
                "required": ["kind"], "additionalProperties": False,
                "description": "what the object store must survive: one node, or one of `zones` zones",
            },
        },
    ),
    _stack_policy(
        "credential-rotation",
        "Generated database passwords and object-store keys are replaced within the configured maximum "
        "age (a time.Rotating keeper no longer than maxAgeDays); exceptions are listed by name.",
        lambda rs, c: checks.stale_credentials(
            rs, c.get("namePattern") or CREDENTIAL_NAMES, float(c.get("maxAgeDays", 90)),
            c.get("manuallyRotated") or []),
        {
            "maxAgeDays": {"type": "number", "minimum": 1, "default": 90},
            "namePattern": {"type": "string", "default": CREDENTIAL_NAMES,
                            "description": "regex over RandomPassword names that are database passwords or object-store keys"},
            "manuallyRotated": _strings([], "RandomPassword names rotated by hand (each documented in docs/secrets.md)"),
        },
    ),
    _stack_policy(
        "restricted-namespaces-non-root",
        "Workloads in namespaces labelled restricted (Pod Security `restricted` enforced) run as non-root.",
        lambda rs, c: checks.root_workloads(
            rs, c.get("restrictedLabels") or {"pod-security.kubernetes.io/enforce": "restricted"}),
        {"restrictedLabels": {"type": "object", "additionalProperties": {"type": "string"},
                              "default": {"pod-security.kubernetes.io/enforce": "restricted"}}},
    ),
    _stack_policy(
        "signed-artifact-admission",
        "When a namespace is regulated (or the stack asks for it), the admission policies for signed "
        "artifacts exist: ValidatingAdmissionPolicy kfplatform-regulated-inference with its binding and "
        "the Sigstore ClusterImagePolicy kfplatform-signed-images.",
        lambda rs, c: checks.missing_signed_artifact_policy(rs, bool(c.get("requireSignedImages", False))),
        {"requireSignedImages": {"type": "boolean", "default": False}},
    ),
]

POLICY_NAMES = [p.name for p in POLICIES]
