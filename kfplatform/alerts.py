"""The contract every alert the platform renders follows (observability, backups, compliance).

Labels: `severity` (`page` wakes someone, `ticket` is for working hours, `info`), `slo` (what is
measured: `latency_p95`, `error_rate`, ... or the platform/drift alert's own name), `team` (the
owning tenant, or `platform`), `name` (the InferenceService or platform component). Annotations:
`summary` and `runbook_url`, which points at a heading of `docs/runbook.md` (a test checks that
every rendered `runbook_url` lands on an existing heading).
"""
from __future__ import annotations

import re
from typing import Literal

Severity = Literal["page", "ticket", "info"]
PLATFORM_TEAM = "platform"
RUNBOOK_PATH = "docs/runbook.md"


def anchor(heading: str) -> str:
    """GitLab/GitHub's anchor for a markdown heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_url(base_url: str, heading: str) -> str:
    """`<base_url>/docs/runbook.md#<anchor>`; base_url is where the repository's files are browsed."""
    return f"{base_url.rstrip('/')}/{RUNBOOK_PATH}#{anchor(heading)}"


def alert_rule(
    alert: str, expr: str, *, for_: str, severity: Severity, slo: str, team: str, name: str,
    summary: str, runbook: str, extra_labels: dict[str, str] | None = None,
) -> dict:
    """One Prometheus alerting rule in the platform's label contract (`runbook` is a full URL)."""
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, "slo": slo, "team": team, "name": name, **(extra_labels or {})},
        "annotations": {"summary": summary, "runbook_url": runbook},
    }
