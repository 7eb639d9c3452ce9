"""Providers for the services the program configures from the machine that runs `pulumi up`.

Components never construct providers (Pulumi's component guidelines); `__main__.py` builds them
here from stack config and hands them to the Platform. Credentials come from the environment of
the runner, never from committed files: `VAULT_TOKEN` (or a CI login) for Vault.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_vault as vault

from .config import PlatformConfig


@dataclass(frozen=True)
class Providers:
    vault: pulumi.ProviderResource


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
    )
