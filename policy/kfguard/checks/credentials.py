"""Credentials: no literal values in Secrets, ConfigMaps, env, annotations or chart values; rotation age."""
from __future__ import annotations

import re
from typing import Any, Iterator, Sequence

from .. import walk as w
from .common import *  # noqa: F403 - the shared constants, Finding, Res
from .common import _objects


_CREDENTIAL_WORDS = re.compile(
    r"(^|[_.\-/])(password|passwd|pwd|secret|secret[_-]?key|secretkey|token|api[_-]?key|apikey|"
    r"access[_-]?key|accesskey|private[_-]?key|client[_-]?secret|credentials?)$"
)


_SECRET_REFERENCE_NAME = re.compile(r"(^|[_.\-/])(existing|pull|tls|cert|ca|config|env|root[_-]?ca)[_-]?secret$")


class _CredentialKey:
    """Matches names that hold a credential: `DB_PASSWORD`, `rootPassword`, `minio.secret-key`, `apiKey`."""

    @staticmethod
    def search(name: str):
        normal = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
        if _SECRET_REFERENCE_NAME.search(normal):
            return None  # names a Secret object (`existingSecret`, `tlsSecret`), not a secret value
        return _CREDENTIAL_WORDS.search(normal)


CREDENTIAL_KEY = _CredentialKey()
CREDENTIAL_VALUE = (
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@{}$]+:[^/\s@{}$]+@"), "a URL with an embedded password"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"), "a GitHub token"),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20}\b"), "a GitLab token"),
)
# Values that name where a credential is, not the credential: paths, references, templates.
_REFERENCE = re.compile(r"^(/|\$\(|\$\{|\{\{|[a-z0-9-]+/[a-z0-9/_.-]+$|secret:|vault:|ref\+)")


def _looks_literal(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != "" and not _REFERENCE.search(value.strip())


def _value_patterns(path: str, value: str) -> list[Finding]:
    return [
        Finding(f"{path} holds {what}", "remove it; keep the value in Vault and deliver it with an ExternalSecret")
        for pattern, what in CREDENTIAL_VALUE
        if pattern.search(value)
    ]


def credential_literals(resource_type: str, props: Any) -> list[Finding]:
    """No Secret with literal data; no credential-looking literal in ConfigMaps, env or annotations."""
    if not resource_type.startswith("kubernetes:"):
        return []
    found = []
    name = w.name_of(props)
    if resource_type.startswith("kubernetes:helm.sh/"):
        # Chart values: a credential-named key with a literal (charts' `auth.password`, `apiKey`, ...).
        for path, value in w.walk(w.get(props, "values"), "values"):
            key = path.rsplit(".", 1)[-1]
            if isinstance(value, str) and CREDENTIAL_KEY.search(key) and _looks_literal(value):
                found.append(Finding(
                    f"{path}: chart value looks like a credential with a literal value",
                    "point the chart at an existing Secret (its `existingSecret`-style value) delivered by an "
                    "ExternalSecret; Helm stores values in the release Secret in clear",
                ))
    if resource_type == "kubernetes:core/v1:Secret":
        for key in ("data", "stringData"):
            if w.keys(w.get(props, key)):
                found.append(Finding(
                    f"Secret {name} has literal `{key}`",
                    "keep the value in Vault and deliver it with an ExternalSecret",
                ))
        return found
    if resource_type == "kubernetes:core/v1:ConfigMap":
        for key, value in w.items(w.get(props, "data")):
            if CREDENTIAL_KEY.search(str(key)) and _looks_literal(value):
                found.append(Finding(
                    f"ConfigMap {name} key {key!r} looks like a credential with a literal value",
                    "a ConfigMap is readable by anyone who can read the namespace: move the value to Vault "
                    "and mount the ExternalSecret's Secret",
                ))
    docs: list[tuple[str, Any]] = [("", props)]
    if resource_type in ARGO_APPLICATION_TYPES:
        docs += list(argo_patches(props))
    for base, doc in docs:
        for path, value in w.walk(doc, base):
            if path.endswith(".env") and w.is_seq(value):
                for index, entry in w.elements(value):
                    var, literal = w.get(entry, "name"), w.get(entry, "value")
                    if isinstance(var, str) and CREDENTIAL_KEY.search(var) and _looks_literal(literal):
                        found.append(Finding(
                            f"{path}[{index}]: env {var} has a literal value",
                            "use valueFrom.secretKeyRef on a Secret delivered by an ExternalSecret",
                        ))
            elif path.endswith("metadata.annotations") and w.is_map(value):
                for key, literal in w.items(value):
                    if CREDENTIAL_KEY.search(str(key)) and _looks_literal(literal):
                        found.append(Finding(
                            f"{path}: annotation {key} looks like a credential with a literal value",
                            "annotations are readable by anyone who can list the object: never put a credential there",
                        ))
            elif isinstance(value, str):
                found.extend(_value_patterns(path or "(root)", value))
    return found



ROTATION_UNITS_DAYS = {"rotationMinutes": 1 / 1440, "rotationHours": 1 / 24, "rotationDays": 1,
                       "rotationMonths": 31, "rotationYears": 366}


def rotation_days(props: Any) -> float | None:
    for key, days in ROTATION_UNITS_DAYS.items():
        value = w.get(props, key)
        if isinstance(value, (int, float)):
            return value * days
    return None


def stale_credentials(resources: Sequence[Res], name_pattern: str, max_age_days: float,
                      manual: Sequence[str]) -> Iterator[tuple[Res, Finding]]:
    """Generated database passwords and object-store keys are replaced at least every max_age_days:
    each RandomPassword matching `name_pattern` depends on a `time.Rotating` (its keeper) whose period
    is at most the maximum age. `manual` names those rotated by hand (documented, listed in config)."""
    by_urn = {r.urn: r for r in resources}
    pattern = re.compile(name_pattern)
    for r in _objects(resources, RANDOM_PASSWORD_TYPE):
        if not pattern.search(r.name) or r.name in manual:
            continue
        rotations = [by_urn[d] for d in r.dependencies if d in by_urn and by_urn[d].type == ROTATING_TYPE]
        if not rotations or not w.has(r.props, "keepers"):
            yield r, Finding(
                f"{r.name} is a generated credential that never rotates",
                "generate it with rotate=True (SecretsPlane.generate), or list it under manuallyRotated in "
                "policy/config/<stack>.json with the runbook that rotates it")
            continue
        for rotation in rotations:
            days = rotation_days(rotation.props)
            if days is not None and days > max_age_days:
                yield r, Finding(
                    f"{r.name} rotates every {days:g} days, above the maximum age of {max_age_days:g}",
                    f"lower secrets.rotationDays (or the path's rotate_days) to <= {max_age_days:g}")
