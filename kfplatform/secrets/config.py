"""Configuration of the secrets plane: the existing Vault service and External Secrets Operator."""
from __future__ import annotations

import re

from pydantic import Field, field_validator

from ..config.base import Model

VAULT_PATH = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_.-]*)*$")


class VaultConfig(Model):
    """Vault is an existing service: this program configures mounts, policies and roles in it."""

    address: str
    kv_mount: str = "kfplatform"
    auth_mount: str = "kubernetes"
    # Enterprise/HCP namespace, if any.
    namespace: str | None = None

    @field_validator("address")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError(f"{value!r}: Vault must be reached over https://")
        return value.rstrip("/")


class EsoConfig(Model):
    refresh_interval: str = "1h"

    @field_validator("refresh_interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not re.fullmatch(r"(\d+(s|m|h))+", value):
            raise ValueError(f"{value!r} is not a duration like 15m or 1h")
        return value


class SecretsConfig(Model):
    vault: VaultConfig
    eso: EsoConfig = EsoConfig()
    # Generated credentials (database passwords, object-store keys) are replaced after this many days.
    rotation_days: int = Field(default=90, ge=1, le=365)
