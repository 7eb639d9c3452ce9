"""Build variants of the committed configuration for config-error tests."""
from __future__ import annotations

import copy
import json
import pathlib

import yaml

from tests.conftest import PROJECT_DIR, copy_project


def stack_config(stack: str = "prod") -> dict:
    """`Pulumi.<stack>.yaml`'s `config:` mapping, as a mutable dict."""
    return copy.deepcopy(yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"])


def tenant(name: str = "team-vision") -> dict:
    return yaml.safe_load((PROJECT_DIR / "tenants" / f"{name}.yaml").read_text())


def as_engine_config(config: dict) -> dict[str, str]:
    """What the Pulumi engine hands the program: namespaced keys, JSON-encoded objects."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def project_copy(tmp_path: pathlib.Path, stack: str = "prod", config: dict | None = None,
                 tenants: dict[str, dict] | None = None) -> pathlib.Path:
    """A copy of the project (program, stack file, tenants) with the given overrides."""
    copy_project(tmp_path)
    if config is not None:
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    tenants_dir = tmp_path / "tenants"
    for name, body in (tenants or {}).items():
        target = tenants_dir / f"{name}.yaml"
        if body is None:
            target.unlink()
        else:
            target.write_text(body if isinstance(body, str) else yaml.safe_dump(body))
    return tmp_path
