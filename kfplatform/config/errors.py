"""Configuration errors that name the file, the key path and what is wrong."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import pulumi


@dataclass(frozen=True, order=True)
class ConfigIssue:
    """One thing wrong with the configuration, located for the person who must fix it."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path or '(top level)'}: {self.message}"


class ConfigError(pulumi.RunError):
    """Invalid configuration: every issue at once, raised before any resource is registered.

    A subclass of `pulumi.RunError`, so `pulumi up` prints the message without a traceback.
    """

    def __init__(self, issues: Iterable[ConfigIssue]):
        self.issues = sorted(set(issues))
        lines = [f"invalid configuration ({len(self.issues)} problem{'s' if len(self.issues) != 1 else ''}):"]
        lines += [f"  - {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))


def pydantic_issues(error, file: str, prefix: str = "") -> list[ConfigIssue]:
    """Turn a pydantic ValidationError into ConfigIssues with dotted key paths (`a.b[2].c`)."""
    issues = []
    for item in error.errors(include_url=False):
        path = prefix
        for part in item["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            else:
                path += ("." if path and not path.endswith(":") else "") + str(part)
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; keys are camelCase)"
        issues.append(ConfigIssue(file, path, message))
    return issues
