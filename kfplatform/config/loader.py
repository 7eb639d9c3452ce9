"""Load and validate `Pulumi.<stack>.yaml` and `tenants/*.yaml` into one PlatformConfig.

Every problem is collected and raised at once as a ConfigError, before any resource exists.
"""
from __future__ import annotations

import json
import pathlib
from typing import Any, Mapping

import pydantic

from .errors import ConfigError, ConfigIssue, pydantic_issues
from .platform_config import KEY_PREFIX, CrossCheck, PlatformConfig, TenantFile
from .stack import StackConfig
from .tenant import TenantConfig
from .yamlsafe import load_yaml

__all__ = [
    "KEY_PREFIX", "CrossCheck", "PlatformConfig", "TenantFile", "load_from_pulumi", "load_platform_config",
    "load_tenants", "stack_values", "validate_stack",
]

def stack_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Project keys of a stack's config (`kubeflow-platform:x` -> `x`), JSON strings decoded."""
    values = {}
    for key, value in raw.items():
        if not key.startswith(KEY_PREFIX):
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        values[key[len(KEY_PREFIX):]] = value
    return values


def validate_stack(values: Mapping[str, Any], stack_file: str) -> tuple[StackConfig | None, list[ConfigIssue]]:
    context = {"environment": values.get("environment")}
    try:
        return StackConfig.model_validate(dict(values), context=context), []
    except pydantic.ValidationError as e:
        return None, pydantic_issues(e, stack_file, KEY_PREFIX)


# A tenant file ends in .yaml or .yml, in any case (`team-a.YML` is read like `team-a.yaml`).
TENANT_SUFFIXES = (".yaml", ".yml")
# Other entries of tenants/ that are not tenants and may stay: notes for people, hidden files.
NOT_TENANTS_SUFFIXES = (".md",)


def tenant_paths(tenants_dir: pathlib.Path) -> list[pathlib.Path]:
    if not tenants_dir.is_dir():
        return []
    return sorted(
        p for p in tenants_dir.iterdir()
        if not p.name.startswith(".") and p.suffix.lower() in TENANT_SUFFIXES and p.is_file()
    )


def stray_entries(tenants_dir: pathlib.Path) -> list[pathlib.Path]:
    """Entries of tenants/ that are neither tenant files nor notes: refused, never silently skipped."""
    if not tenants_dir.is_dir():
        return []
    return sorted(
        p for p in tenants_dir.iterdir()
        if not p.name.startswith(".")
        and not (p.is_file() and p.suffix.lower() in TENANT_SUFFIXES + NOT_TENANTS_SUFFIXES)
    )


def _shown(path: pathlib.Path, project_dir: pathlib.Path) -> str:
    return str(path.relative_to(project_dir)) if path.is_relative_to(project_dir) else str(path)


def load_tenants(tenants_dir: pathlib.Path, project_dir: pathlib.Path, environment: str | None) -> tuple[list[TenantFile], list[ConfigIssue]]:
    tenants, issues = [], []
    if not tenants_dir.is_dir():
        return [], [ConfigIssue(str(tenants_dir), "", "tenants directory not found")]
    for path in stray_entries(tenants_dir):
        issues.append(ConfigIssue(
            _shown(path, project_dir), "",
            "not read: tenant files are tenants/<team>.yaml (or .yml) directly in tenants/; rename or remove it",
        ))
    for path in tenant_paths(tenants_dir):
        shown = _shown(path, project_dir)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            issues.append(ConfigIssue(shown, "", f"cannot be read: {e}"))
            continue
        data, problems = load_yaml(text, shown)
        if problems:
            issues.extend(problems)
            continue
        if not isinstance(data, dict):
            issues.append(ConfigIssue(shown, "", "expected a mapping of tenant settings"))
            continue
        try:
            tenant = TenantConfig.model_validate(data, context={"environment": environment})
        except pydantic.ValidationError as e:
            issues.extend(pydantic_issues(e, shown))
            continue
        if tenant.name != path.stem:
            issues.append(ConfigIssue(shown, "name", f"{tenant.name!r} must match the file name {path.stem!r}"))
            continue
        tenants.append(TenantFile(shown, tenant))
    by_name: dict[str, list[TenantFile]] = {}
    for tenant in tenants:
        by_name.setdefault(tenant.config.name, []).append(tenant)
    for name, files in by_name.items():
        if len(files) > 1:
            paths = [f.path for f in files]
            issues.append(ConfigIssue(
                paths[0], "name", f"team {name!r} is defined in {len(paths)} files ({', '.join(paths)}); keep one"
            ))
    return [t for t in tenants if len(by_name[t.config.name]) == 1], issues


def load_platform_config(
    stack_name: str, raw_config: Mapping[str, Any], project_dir: pathlib.Path, tenants_dir: pathlib.Path | None = None
) -> PlatformConfig:
    """Validate the stack's config and every tenant file; raise ConfigError listing every problem."""
    stack_file = f"Pulumi.{stack_name}.yaml"
    values = stack_values(raw_config)
    stack, issues = validate_stack(values, stack_file)
    tenants_dir = tenants_dir or project_dir / "tenants"
    tenants, tenant_issues = load_tenants(tenants_dir, project_dir, values.get("environment"))
    issues += tenant_issues
    if stack is not None:
        config = PlatformConfig(
            stack_name, stack_file, stack, tuple(tenants), len(tenant_paths(tenants_dir)), project_dir
        )
        # The areas' checks, composed in one explicit list (kfplatform/config/checks.py); imported here
        # so that loading the config never depends on which area module was imported first.
        from . import checks

        for check in checks.CROSS_CHECKS:
            issues.extend(check(config))
    if issues:
        raise ConfigError(issues)
    return config


def load_from_pulumi(project_dir: pathlib.Path) -> PlatformConfig:
    """The program's entry: the stack's config as the Pulumi engine hands it to this process.

    Under `pulumi up` the language host passes config in the PULUMI_CONFIG environment variable;
    in-process (render, tests) it is set with `pulumi.runtime.set_all_config`. Both are read.
    """
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    return load_platform_config(pulumi.get_stack(), {**get_config_env(), **CONFIG.get()}, project_dir)
