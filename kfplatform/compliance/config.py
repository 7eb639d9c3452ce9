"""Compliance configuration: the stack's `compliance:` key and each tenant's level.

`kubeflow-platform:compliance` in `Pulumi.<stack>.yaml`:

```yaml
compliance:
  defaultLevel: standard            # a tenant file's `compliance:` overrides it
  signing:
    publicKey: |                    # the platform signing key's PUBLIC half (cosign.pub); never the private key
      -----BEGIN PUBLIC KEY-----
      ...
  audit:
    logPath: /var/log/kubernetes/audit/audit.log
    retentionDays: 2555             # object lock, COMPLIANCE mode, on the WORM audit bucket
  logIndex:
    endpoint: https://opensearch.example.com:9200
    auditorGroup: "{tenant}-auditors"
  argocdNotifications:
    webhookUrl: https://audit-trail.example.com/argocd
```
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from enum import Enum
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..config.base import DnsLabel, LabelKey, Model, is_prod
from ..config.identities import idp_group
from ..config.urls import RegistryPrefix, url_problem


# /var/log/<dirs>/<name>.log: directory names without '.', so `rsplit(".", 1)` splits at `.log`.
AUDIT_LOG_PATH = re.compile(r"/var/log(/[A-Za-z0-9_-]+)*/[A-Za-z0-9_-]+\.log")


class ComplianceLevel(str, Enum):
    STANDARD = "standard"
    REGULATED = "regulated"


# The NetworkPolicy in every tenant namespace that admits KServe's payload logger to the sink.
PAYLOAD_SINK_POLICY = "allow-egress-payload-sink"

PEM = re.compile(
    r"^\s*-----BEGIN PUBLIC KEY-----\s*\n(?P<body>[A-Za-z0-9+/=\s]+?)\n?-----END PUBLIC KEY-----\s*$"
)
# SubjectPublicKeyInfo algorithm OIDs (DER-encoded) cosign keys use: ECDSA, RSA, Ed25519.
KEY_ALGORITHMS = {
    "ECDSA": bytes.fromhex("06072a8648ce3d0201"),
    "RSA": bytes.fromhex("06092a864886f70d010101"),
    "Ed25519": bytes.fromhex("06032b6570"),
}


def public_key_algorithm(pem: str) -> str:
    """The algorithm of a PEM `PUBLIC KEY` (SubjectPublicKeyInfo); ValueError for anything else."""
    if "PRIVATE KEY" in pem:
        raise ValueError("this is a PRIVATE key: only the public half belongs in config (the private key never touches the program)")
    match = PEM.fullmatch(pem)
    if not match:
        raise ValueError("not a PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)")
    try:
        der = base64.b64decode("".join(match.group("body").split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the PEM body is not valid base64") from None
    if len(der) < 32 or der[0] != 0x30:
        raise ValueError("the PEM body is not a DER SubjectPublicKeyInfo")
    for name, oid in KEY_ALGORITHMS.items():
        if oid in der[:24]:
            return name
    raise ValueError("unsupported key algorithm (cosign keys are ECDSA, RSA or Ed25519)")


# SHA-256 of the DER of the stand-in public key committed in both stack files: its private half was
# discarded, so nothing can be signed for it and policy-controller refuses every image in regulated
# namespaces until the real platform key replaces it. Every render and `pulumi up` warns while it is in use.
STAND_IN_KEY_SHA256 = "c66af8caaaefc70906116915d6147a87e56e2379a2e268524214ad31ef0d986a"


def public_key_sha256(pem: str) -> str:
    match = PEM.fullmatch(pem)
    if not match:
        raise ValueError("not a PEM public key")
    return hashlib.sha256(base64.b64decode("".join(match.group("body").split()))).hexdigest()


def stand_in_key_problem(pem: str) -> str | None:
    """Why `pem` cannot be the platform signing key yet (the committed stand-in), or None."""
    if public_key_sha256(pem) != STAND_IN_KEY_SHA256:
        return None
    return ("compliance.signing.publicKey is the committed stand-in (its private half was discarded): "
            "every image in a regulated namespace will be refused until the platform key's public half "
            "replaces it (docs/compliance.md)")


class SigningConfig(Model):
    """Who may sign what runs in regulated namespaces: the platform key's public half."""

    public_key: str
    # The registry (prefix) whose images must carry the signature; default: the stack's images.mirror.
    # It becomes the policy's glob `<registry>/**`: a registry prefix, nothing else (no `*`).
    registry: RegistryPrefix | None = None

    @field_validator("public_key")
    @classmethod
    def _public_key(cls, value: str) -> str:
        public_key_algorithm(value)
        return value


class PolicyControllerConfig(Model):
    chart_repository: str = "https://sigstore.github.io/helm-charts"
    replicas: int = Field(default=2, ge=1, le=5)

    @field_validator("chart_repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        # Helm pulls the chart from it on the runner: https (or an OCI registry), no credentials.
        if (why := url_problem(value, ("https", "oci"))) is not None:
            raise ValueError(why)
        return value

    @field_validator("replicas")
    @classmethod
    def _ha_in_prod(cls, value: int, info: ValidationInfo) -> int:
        # failurePolicy Fail: with one replica, a drain blocks every pod start in regulated namespaces.
        if is_prod(info) and value < 2:
            raise ValueError("prod runs at least 2 policy-controller webhooks (failurePolicy Fail blocks pod starts while none is up)")
        return value


class AuditConfig(Model):
    """The Kubernetes audit trail: where the API server writes it and how long the bucket keeps it."""

    # The API server's --audit-log-path: a `.log` file under /var/log/ (the shipper reads it and the
    # rotated backups lumberjack names `<name>-<timestamp>.log` beside it, so the name must end in
    # `.log` and no directory may hold a '.').
    log_path: str = "/var/log/kubernetes/audit/audit.log"
    # Object lock retention on the WORM bucket, COMPLIANCE mode: nobody, root included, shortens it.
    retention_days: int = Field(default=2555, ge=1, le=36500)
    lock_mode: Literal["COMPLIANCE"] = "COMPLIANCE"
    # Control-plane nodes carry this label (kubeadm); the shipper runs only there.
    control_plane_label: LabelKey = "node-role.kubernetes.io/control-plane"

    @field_validator("log_path")
    @classmethod
    def _log_path(cls, value: str) -> str:
        if not AUDIT_LOG_PATH.fullmatch(value):
            raise ValueError(
                f"{value!r}: give a file under /var/log/ named <name>.log (the API server's --audit-log-path; "
                "letters, digits, '_' and '-' in directory names, no globs, spaces or '..')"
            )
        return value

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: int, info: ValidationInfo) -> int:
        if is_prod(info) and value < 365:
            raise ValueError("prod keeps the audit trail at least 365 days (regulators ask for years, never less than one)")
        return value


class LogIndexConfig(Model):
    """The log index (OpenSearch, run outside this program) that holds each tenant's audit and payload indices."""

    endpoint: str = "https://opensearch.logging.svc.cluster.local:9200"
    # The IdP group whose members audit one tenant; `{tenant}` is replaced by the tenant's name.
    auditor_group: str = "{tenant}-auditors"
    # Vector's elasticsearch sink: v8 bulk API (OpenSearch 2.x has no mapping types).
    api_version: Literal["v7", "v8"] = "v8"

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str, info: ValidationInfo) -> str:
        if (why := url_problem(value, ("https", "http"), path=False)) is not None:
            raise ValueError(f"{why} (the index's base URL, e.g. https://opensearch.example.com:9200)")
        if is_prod(info) and not value.startswith("https://"):
            raise ValueError("prod ships audit events over https only")
        return value

    @field_validator("auditor_group")
    @classmethod
    def _auditor_group(cls, value: str) -> str:
        if value.count("{tenant}") != 1 or re.search(r"[{}]", value.replace("{tenant}", "")):
            raise ValueError(f"{value!r}: name each tenant's auditors with exactly one `{{tenant}}`, e.g. '{{tenant}}-auditors'")
        # The group lands in OpenSearch's roles_mapping `backend_roles`, which are patterns there
        # (opensearch-project/security 3.8.0.0 ConfigurableRoleMapper.java: `WildcardMatcher.matchers`
        # of the backend roles; WildcardMatcher.java: `*` and `?` are wildcards, `/.../` a regex): a
        # '*' or '?' would hand one team's audit role to other teams' groups. So the group, with
        # any team name in it, is a literal IdP group (identities.py: no '*', '?', starts and ends
        # with a letter or digit, so never `/.../`).
        for sample in ("t", "team-" + "a" * 58):
            try:
                idp_group(value.replace("{tenant}", sample))
            except ValueError as e:
                raise ValueError(f"{value!r}: with a team name in it, {e}") from None
        return value

    def auditor_group_of(self, tenant: str) -> str:
        return self.auditor_group.replace("{tenant}", tenant)


class ArgoNotificationsConfig(Model):
    """The second, independent deploy trail: Argo CD notifications on InferenceService syncs."""

    # Empty: the platform's own payload sink (`http://kfplatform-payloads.<logging>.svc.../argocd`).
    webhook_url: str = ""

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and (why := url_problem(value)) is not None:
            raise ValueError(f"{why} (the audit webhook takes https URLs only)")
        return value


class ComplianceConfig(Model):
    """Everything under `kubeflow-platform:compliance`."""

    default_level: ComplianceLevel = ComplianceLevel.STANDARD
    # With defaultLevel regulated, the teams that may still write `compliance: standard` in their
    # file. A team cannot downgrade itself: the exception is the platform's, in the stack file
    # (compliance/checks.py refuses a downgrade of a team not listed here).
    standard_exceptions: list[DnsLabel] = []
    signing: SigningConfig | None = None
    policy_controller: PolicyControllerConfig = PolicyControllerConfig()
    audit: AuditConfig = AuditConfig()
    log_index: LogIndexConfig = LogIndexConfig()
    argocd_notifications: ArgoNotificationsConfig = ArgoNotificationsConfig()

    @model_validator(mode="after")
    def _exceptions(self) -> "ComplianceConfig":
        if self.standard_exceptions and self.default_level is not ComplianceLevel.REGULATED:
            raise ValueError(
                "standardExceptions: only read when defaultLevel is regulated (every team may choose standard now); remove it"
            )
        twice = sorted({t for t in self.standard_exceptions if self.standard_exceptions.count(t) > 1})
        if twice:
            raise ValueError(f"standardExceptions: {', '.join(twice)} listed twice")
        return self

    def level_of(self, tenant_level: ComplianceLevel | None) -> ComplianceLevel:
        return tenant_level or self.default_level
