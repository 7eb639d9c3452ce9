"""Vector pipelines: the audit shipper and the payload sink, as data (rendered into ConfigMaps).

Both are Vector 0.56 (vectordotdev/vector tag v0.56.0, the chart's appVersion). Option names are
checked in that tag: `file` and `http_server` sources (src/sources/http_server.rs: `address`,
`path`, `strict_path`, `path_key`, `headers`, `method`, `response_code`, `decoding`), the `remap`
and `route` transforms (src/transforms/route.rs: one output per route plus `<id>._unmatched`),
the `aws_s3` sink (src/sinks/aws_s3/config.rs: `bucket`, `key_prefix`, `region.endpoint`,
`force_path_style`, `compression`, `encoding`, `framing`, `tls`, `auth`; every PutObject carries
Content-MD5, src/sinks/s3_common/service.rs, which S3 object lock requires) and the
`elasticsearch` sink (src/sinks/elasticsearch/config.rs: `endpoints`, `api_version`, `mode`,
`bulk.index`, `auth`).

Tenant isolation is in the routing: each tenant has exactly one route, whose condition compares
the event's namespace with that tenant's name for equality (never a prefix or pattern: team-a must
not catch team-ab), and exactly one sink per destination reads that route. What matches no tenant
goes to the platform's own prefix and index, never to a tenant's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

DATA_DIR = "/vector-data-dir"
OBJECT_STORE_CA_DIR = "/etc/kfplatform/object-store-ca"
AUDIT_LOG_DIR = "/var/log/kubernetes/audit"
PLATFORM = "platform"
ARGOCD_PATH = "/argocd"
PAYLOAD_PORT = 8080
METRICS_PORT = 9598  # the prometheus_exporter sink's default (src/sinks/prometheus/exporter.rs)
# The CloudEvent headers KServe's agent sends (binary mode; kserve v0.15.2 pkg/logger/worker.go):
# id (request id), type (request or response), time, source, and the extensions.
PAYLOAD_HEADERS = (
    "ce-id", "ce-type", "ce-time", "ce-source", "ce-inferenceservicename", "ce-namespace", "ce-component",
    "ce-endpoint", "ce-annotations",
)
# Environment variables the pods get from Secrets (Vector interpolates ${VAR} in its config).
S3_KEY_ENV, S3_SECRET_ENV = "AUDIT_S3_ACCESS_KEY", "AUDIT_S3_SECRET_KEY"
INDEX_USER_ENV, INDEX_PASSWORD_ENV = "LOG_INDEX_USER", "LOG_INDEX_PASSWORD"


@dataclass(frozen=True)
class Destinations:
    """Where events go: the WORM bucket (MinIO) and the log index (OpenSearch)."""

    bucket: str
    object_store_url: str
    index_url: str
    index_api_version: str


def component_id(name: str) -> str:
    """A Vector component id for a tenant: DNS labels have no `_`, so `-` -> `_` cannot collide."""
    return name.replace("-", "_")


def audit_index(tenant: str) -> str:
    return f"audit-{tenant}"


def payload_index(tenant: str) -> str:
    return f"payloads-{tenant}"


def bucket_prefix(tenant: str, trail: str) -> str:
    """The object key prefix of `tenant`'s `trail` (audit, deploys) in the WORM bucket."""
    owner = PLATFORM if tenant == PLATFORM else f"tenants/{tenant}"
    return f"{owner}/{trail}/%Y/%m/%d/"


def _vrl_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _s3_sink(inputs: list[str], dest: Destinations, prefix: str) -> dict:
    return {
        "type": "aws_s3",
        "inputs": inputs,
        "bucket": dest.bucket,
        "key_prefix": prefix,
        "endpoint": dest.object_store_url,
        "region": "us-east-1",  # MinIO's default region; the SDK needs one
        "force_path_style": True,
        "auth": {"access_key_id": f"${{{S3_KEY_ENV}}}", "secret_access_key": f"${{{S3_SECRET_ENV}}}"},
        "compression": "gzip",
        "encoding": {"codec": "json"},
        "framing": {"method": "newline_delimited"},
        "tls": {"ca_file": f"{OBJECT_STORE_CA_DIR}/ca.crt"},
        "batch": {"timeout_secs": 60},
        # Never drop the trail: back-pressure instead (the file source waits; the HTTP source answers 503).
        "buffer": {"type": "disk", "max_size": 1073741824, "when_full": "block"},
    }


def _index_sink(inputs: list[str], dest: Destinations, index: str) -> dict:
    return {
        "type": "elasticsearch",
        "inputs": inputs,
        "endpoints": [dest.index_url],
        "api_version": dest.index_api_version,
        "mode": "bulk",
        "bulk": {"index": index},
        "auth": {"strategy": "basic", "user": f"${{{INDEX_USER_ENV}}}", "password": f"${{{INDEX_PASSWORD_ENV}}}"},
        "buffer": {"type": "disk", "max_size": 1073741824, "when_full": "block"},
    }


def with_metrics(pipeline: dict) -> dict:
    """Vector's own metrics on :9598, for the alerts (alerts.py)."""
    pipeline["sources"]["vector_metrics"] = {"type": "internal_metrics"}
    pipeline["sinks"]["prometheus"] = {
        "type": "prometheus_exporter", "inputs": ["vector_metrics"], "address": f"0.0.0.0:{METRICS_PORT}",
    }
    return pipeline


def audit_route_condition(tenant: str) -> str:
    """The tenant's audit events: objects in its namespace, and its Namespace object itself."""
    t = _vrl_string(tenant)
    return f'.objectRef.namespace == {t} || (.objectRef.resource == "namespaces" && .objectRef.name == {t})'


def audit_pipeline(tenants: Sequence[str], dest: Destinations, log_path: str) -> dict:
    """The control-plane DaemonSet: the API server's audit log -> per-tenant bucket prefix and index."""
    routes = {component_id(t): audit_route_condition(t) for t in sorted(tenants)}
    sinks: dict[str, dict] = {}
    for tenant in sorted(tenants):
        route = f"audit_by_tenant.{component_id(tenant)}"
        sinks[f"audit_bucket_{component_id(tenant)}"] = _s3_sink([route], dest, bucket_prefix(tenant, "audit"))
        sinks[f"audit_index_{component_id(tenant)}"] = _index_sink([route], dest, audit_index(tenant))
    sinks["audit_bucket_platform"] = _s3_sink(["audit_by_tenant._unmatched"], dest, bucket_prefix(PLATFORM, "audit"))
    sinks["audit_index_platform"] = _index_sink(["audit_by_tenant._unmatched"], dest, audit_index(PLATFORM))
    return with_metrics({
        "data_dir": DATA_DIR,
        "sources": {
            "k8s_audit": {
                "type": "file",
                # The active file and the API server's rotated backups (--audit-log-maxbackup).
                "include": [log_path, f"{log_path.rsplit('.', 1)[0]}-*.log"],
                "read_from": "beginning",
            },
        },
        "transforms": {
            # One audit.k8s.io/v1 Event per line; a line that is not JSON is kept whole, at the platform's.
            "audit_parsed": {
                "type": "remap",
                "inputs": ["k8s_audit"],
                "source": "parsed, err = parse_json(string!(.message))\nif err == null && is_object(parsed) { . = object!(parsed) }",
            },
            "audit_by_tenant": {"type": "route", "inputs": ["audit_parsed"], "route": routes},
        },
        "sinks": sinks,
    })


def payload_route_condition(tenant: str) -> str:
    """The tenant's predictions: posted to its own path, by its own namespace's logger.

    The path is what the admission policy pins (`url`), and the mesh lets only the tenant's own
    namespace post to it (payloads.py); the header is KServe's own record of the namespace.
    """
    t = _vrl_string(tenant)
    return f'.path == {_vrl_string("/" + tenant)} && ."ce-namespace" == {t}'


def argocd_route_condition(tenant: str) -> str:
    return f'.path == {_vrl_string(ARGOCD_PATH)} && .namespace == {_vrl_string(tenant)}'


def payload_pipeline(tenants: Sequence[str], dest: Destinations) -> dict:
    """The payload sink (a Deployment behind Service kfplatform-payloads): KServe's logger and Argo CD
    notifications -> the tenant's payload index; deploy notifications -> the WORM bucket too."""
    ordered = sorted(tenants)
    routes = {f"payloads_{component_id(t)}": payload_route_condition(t) for t in ordered}
    routes.update({f"deploys_{component_id(t)}": argocd_route_condition(t) for t in ordered})
    sinks: dict[str, dict] = {}
    for tenant in ordered:
        cid = component_id(tenant)
        sinks[f"payloads_index_{cid}"] = _index_sink([f"payloads_by_tenant.payloads_{cid}"], dest, payload_index(tenant))
        deploys = [f"payloads_by_tenant.deploys_{cid}"]
        sinks[f"deploys_bucket_{cid}"] = _s3_sink(deploys, dest, bucket_prefix(tenant, "deploys"))
        sinks[f"deploys_index_{cid}"] = _index_sink(deploys, dest, audit_index(tenant))
    # Posts no tenant owns (a wrong path, a forged header): counted, kept at the platform's, never a tenant's.
    sinks["payloads_unmatched_platform"] = _index_sink(["payloads_by_tenant._unmatched"], dest, payload_index(PLATFORM))
    return with_metrics({
        "data_dir": DATA_DIR,
        "sources": {
            "payloads": {
                "type": "http_server",
                "address": f"0.0.0.0:{PAYLOAD_PORT}",
                "path": "/",
                "strict_path": False,
                "path_key": "path",
                "method": "POST",
                # KServe's agent logs any status but 200 as an error (pkg/logger/worker.go).
                "response_code": 200,
                "headers": list(PAYLOAD_HEADERS),
                "decoding": {"codec": "bytes"},
            },
        },
        "transforms": {
            # The body is the raw request or response; JSON bodies are also kept parsed, for queries
            # like "the prediction for customer X on date Y".
            "payloads_parsed": {
                "type": "remap",
                "inputs": ["payloads"],
                "source": (
                    ".received_at = now()\n"
                    "parsed, err = parse_json(string!(.message))\n"
                    "if err == null { .payload = parsed }\n"
                    'if .path == "/argocd" && is_object(.payload) { . = merge(., object!(.payload)) }'
                ),
            },
            "payloads_by_tenant": {"type": "route", "inputs": ["payloads_parsed"], "route": routes},
        },
        "sinks": sinks,
    })
