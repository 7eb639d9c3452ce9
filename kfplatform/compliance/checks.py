"""Cross-checks of the compliance configuration against the tenants.

Registered when the config package loads (kfplatform/config/loader.py imports this module), so
every problem is reported with the rest, before any resource exists.
"""
from __future__ import annotations

from typing import Iterable

from ..config.errors import ConfigIssue
from ..config.loader import KEY_PREFIX, PlatformConfig, cross_check
from .config import ComplianceLevel


@cross_check
def regulated_tenants_need_a_signing_key(config: PlatformConfig) -> Iterable[ConfigIssue]:
    """A regulated tenant without the signing key would run unsigned images: refuse the config."""
    compliance = config.stack.compliance
    if compliance.signing is not None:
        return
    for tenant in config.tenants:
        if compliance.level_of(tenant.config.compliance) is ComplianceLevel.REGULATED:
            yield ConfigIssue(
                tenant.path, "compliance",
                f"regulated, but {KEY_PREFIX}compliance.signing.publicKey is not set in {config.stack_file}: "
                "without the platform key nothing verifies its images and models",
            )
