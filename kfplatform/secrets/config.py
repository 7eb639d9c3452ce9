"""Configuration of the secrets plane: the existing Vault service and External Secrets Operator.

Nothing here is secret. Vault's address, its CA certificate and the Kubernetes API's CA are
public material; the token the runner uses comes from its environment (`VAULT_TOKEN`).
"""
from __future__ import annotations

import base64
import binascii
import re

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..config.base import Model, duration_seconds, is_prod

VAULT_PATH = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_.-]*)*$")
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----")

# Prod ceilings for the tokens ESO gets from Vault: a stolen token is useful for minutes, not days.
PROD_MAX_TOKEN_TTL = 15 * 60
PROD_MAX_TOKEN_MAX_TTL = 60 * 60
# Prod ceiling for ESO's refresh: after a rotation (or a leak's replacement, runbooks A and B) the old
# value is gone from MinIO/MariaDB at once, and pods keep failing until ESO has fetched the new one.
PROD_MAX_REFRESH_INTERVAL = 60 * 60


def _pem_certificates(value: str | None) -> str | None:
    """A PEM bundle of one or more certificates (public material), checked for shape only."""
    if value is None:
        return None
    bodies = PEM_CERTIFICATE.findall(value)
    if not bodies:
        raise ValueError("expected a PEM certificate (-----BEGIN CERTIFICATE----- ...)")
    for body in bodies:
        try:
            base64.b64decode("".join(body.split()), validate=True)
        except binascii.Error:
            raise ValueError("a PEM certificate's body is not base64") from None
    if "PRIVATE KEY" in value:
        raise ValueError("this holds a private key; give the CA certificate only")
    return value.strip() + "\n"


class KubernetesAuthConfig(Model):
    """How Vault checks the cluster's ServiceAccount tokens (`auth/<authMount>/config`).

    Vault runs outside the cluster, so it reviews each login's token with the API server,
    using that same token as the reviewer JWT: no long-lived reviewer token exists anywhere.
    """

    # The API server as Vault reaches it (not the in-cluster Service address).
    host: str
    # PEM of the CA that signed the API server's certificate at `host`. Default: the cluster's
    # own CA, read at deploy time from the `kube-root-ca.crt` ConfigMap in kube-system.
    ca_cert: str | None = None

    @field_validator("host")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError(f"{value!r}: Vault must reach the Kubernetes API over https://")
        return value.rstrip("/")

    @field_validator("ca_cert")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        return _pem_certificates(value)


class VaultConfig(Model):
    """Vault is an existing service: this program configures mounts, policies and roles in it."""

    address: str
    kv_mount: str = "kfplatform"
    auth_mount: str = "kubernetes"
    # Enterprise/HCP namespace, if any.
    namespace: str | None = None
    # PEM of the CA that signed Vault's certificate, for ESO. Omit when it chains to a public root.
    # (The runner trusts it through VAULT_CACERT.)
    ca_cert: str | None = None
    kubernetes: KubernetesAuthConfig
    # Lifetime of the Vault token a SecretStore's login yields; ESO logs in again when needed.
    token_ttl: str = "10m"
    token_max_ttl: str = "30m"

    @field_validator("address")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError(f"{value!r}: Vault must be reached over https://")
        return value.rstrip("/")

    @field_validator("kv_mount", "auth_mount")
    @classmethod
    def _mount(cls, value: str) -> str:
        if not VAULT_PATH.fullmatch(value) or "/" in value:
            raise ValueError(f"{value!r} is not a mount name (lower-case letters, digits, '-', '_')")
        return value

    @field_validator("ca_cert")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        return _pem_certificates(value)

    @field_validator("token_ttl", "token_max_ttl")
    @classmethod
    def _duration(cls, value: str, info: ValidationInfo) -> str:
        seconds = duration_seconds(value)
        if seconds < 60:
            raise ValueError(f"{value!r}: at least 1m, or ESO's logins expire mid-sync")
        ceiling = PROD_MAX_TOKEN_TTL if info.field_name == "token_ttl" else PROD_MAX_TOKEN_MAX_TTL
        if is_prod(info) and seconds > ceiling:
            raise ValueError(f"{value!r}: prod tokens live at most {ceiling // 60}m")
        return value

    @model_validator(mode="after")
    def _ttl_order(self) -> "VaultConfig":
        if self.token_ttl_seconds > self.token_max_ttl_seconds:
            raise ValueError(f"tokenTtl {self.token_ttl} exceeds tokenMaxTtl {self.token_max_ttl}")
        return self

    @property
    def token_ttl_seconds(self) -> int:
        return duration_seconds(self.token_ttl)

    @property
    def token_max_ttl_seconds(self) -> int:
        return duration_seconds(self.token_max_ttl)


class EsoConfig(Model):
    refresh_interval: str = "1h"
    # Helm repository of the pinned chart; point it at an internal mirror on an egress-restricted runner.
    chart_repository: str = "https://charts.external-secrets.io"

    @field_validator("refresh_interval")
    @classmethod
    def _duration(cls, value: str, info: ValidationInfo) -> str:
        seconds = duration_seconds(value)
        if seconds < 60:
            raise ValueError(f"{value!r}: refresh at most once a minute (30 tenants hit one Vault)")
        if is_prod(info) and seconds > PROD_MAX_REFRESH_INTERVAL:
            raise ValueError(
                f"{value!r}: prod refreshes at least every {PROD_MAX_REFRESH_INTERVAL // 60}m; a rotated key is "
                "revoked at `pulumi up`, and its consumers fail until ESO delivers the new one"
            )
        return value

    @field_validator("chart_repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not value.startswith(("https://", "oci://")):
            raise ValueError(f"{value!r}: give an https:// or oci:// chart repository")
        return value.rstrip("/")


class SecretsConfig(Model):
    vault: VaultConfig
    eso: EsoConfig = EsoConfig()
    # Generated credentials (database passwords, object-store keys) are replaced after this many days.
    rotation_days: int = Field(default=90, ge=1, le=365)
