"""Cross-checks of the compliance configuration against the tenants.

Exported as CHECKS and run by the config loader (composed in kfplatform/config/checks.py), so
every problem is reported with the rest, before any resource exists.
"""
from __future__ import annotations

from typing import Iterable

from ..config.errors import ConfigIssue
from ..config.platform_config import KEY_PREFIX, PlatformConfig
from .config import ComplianceLevel


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


# The area's cross-checks, in the order they run (composed by kfplatform/config/checks.py).
CHECKS = (regulated_tenants_need_a_signing_key,)
