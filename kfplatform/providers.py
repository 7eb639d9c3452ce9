"""Providers for the services the program configures from the machine that runs `pulumi up`.

Components never construct providers (Pulumi's component guidelines); `__main__.py` builds them
here from stack config and hands them to the Platform. Credentials come from the environment of
the runner, never from committed files: `VAULT_TOKEN` (or a CI login) for Vault; `MINIO_USER` and
`MINIO_PASSWORD` for MinIO (the Tenant's root credentials, kept in Vault at
`platform/object-store/root`, keys `user` and `password`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import pulumi
import pulumi_minio as minio
import pulumi_vault as vault

from .config import PlatformConfig


@dataclass(frozen=True)
class Providers:
    vault: pulumi.ProviderResource
    minio: pulumi.ProviderResource


def build_providers(config: PlatformConfig) -> Providers:
    vault_cfg = config.stack.secrets.vault
    return Providers(
        vault=vault.Provider(
            "vault",
            address=vault_cfg.address,
            namespace=vault_cfg.namespace,
            # Token from VAULT_TOKEN in the runner's environment; never in stack config.
            skip_child_token=False,
        ),
        minio=minio_provider(config),
    )


def minio_provider(config: PlatformConfig) -> minio.Provider:
    """The MinIO API as the runner reaches it (`data.objectStore.adminEndpoint`, TLS).

    Credentials: MINIO_USER and MINIO_PASSWORD in the runner's environment (read explicitly: the
    bridged provider's own environment fallbacks differ between versions); the password is kept in
    state only as a Pulumi secret. Absent (the offline render), the provider gets none.
    """
    store = config.stack.data.object_store
    password = os.environ.get("MINIO_PASSWORD")
    return minio.Provider(
        "minio",
        minio_server=store.admin_endpoint,
        minio_ssl=True,
        minio_insecure=False,
        minio_cacert_file=store.admin_ca_cert_file,
        minio_user=os.environ.get("MINIO_USER"),
        minio_password=pulumi.Output.secret(password) if password else None,
    )
