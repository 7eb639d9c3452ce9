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


def no_team_downgrades_itself(config: PlatformConfig) -> Iterable[ConfigIssue]:
    """With `defaultLevel: regulated`, a tenant file's `compliance: standard` would take the team
    out of signed-model admission, payload logging and the signed-images policy on its own say-so:
    refused unless the stack file (the platform's, reviewed by the platform team) lists the team in
    `compliance.standardExceptions`."""
    compliance = config.stack.compliance
    if compliance.default_level is not ComplianceLevel.REGULATED:
        return
    allowed = set(compliance.standard_exceptions)
    for tenant in config.tenants:
        if tenant.config.compliance is ComplianceLevel.STANDARD and tenant.config.name not in allowed:
            yield ConfigIssue(
                tenant.path, "compliance",
                f"standard, but {config.stack_file} makes every team regulated ({KEY_PREFIX}compliance.defaultLevel); "
                f"a team cannot downgrade itself: remove the key, or the platform lists {tenant.config.name} in "
                f"{KEY_PREFIX}compliance.standardExceptions",
            )
    teams = {t.config.name for t in config.tenants}
    unknown = sorted(allowed - teams)
    if unknown and config.tenant_file_count == len(config.tenants):
        yield ConfigIssue(
            config.stack_file, f"{KEY_PREFIX}compliance.standardExceptions",
            f"{', '.join(unknown)}: not a team of tenants/ (a stale exception would exempt whoever takes the name next)",
        )


def signed_registry_is_under_the_mirror(config: PlatformConfig) -> Iterable[ConfigIssue]:
    """`signing.registry` outside `images.mirror` would match none of the images the platform and the
    admission policy allow (models and images come from the mirror): with `no-match-policy: deny`
    every pod of a regulated namespace would be refused. It is the mirror or a path under it."""
    signing = config.stack.compliance.signing
    mirror = config.stack.images.mirror
    if signing is None or signing.registry is None:
        return
    if signing.registry != mirror and not signing.registry.startswith(mirror + "/"):
        yield ConfigIssue(
            config.stack_file, f"{KEY_PREFIX}compliance.signing.registry",
            f"{signing.registry!r} is not {KEY_PREFIX}images.mirror {mirror!r} or a path under it: images from the "
            "mirror would match no policy and every pod of a regulated namespace would be refused",
        )

# The area's cross-checks, in the order they run (composed by kfplatform/config/checks.py).
CHECKS = (regulated_tenants_need_a_signing_key, no_team_downgrades_itself, signed_registry_is_under_the_mirror)
