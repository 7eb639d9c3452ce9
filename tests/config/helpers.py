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


def tenants_copy(tmp_path: pathlib.Path, tenants: dict[str, object] | None = None) -> pathlib.Path:
    """A copy of tenants/ in `tmp_path` with overrides: name -> dict (dumped), str (written as is), None (removed).

    A name with a suffix (`team-a.YML`) is written under that file name; without, `<name>.yaml`.
    """
    import shutil

    target = tmp_path / "tenants"
    shutil.copytree(PROJECT_DIR / "tenants", target)
    for name, body in (tenants or {}).items():
        path = target / (name if "." in name else f"{name}.yaml")
        if body is None:
            path.unlink()
        else:
            path.write_text(body if isinstance(body, str) else yaml.safe_dump(body, sort_keys=False))
    return target


def load(tmp_path: pathlib.Path, config: dict | None = None, tenants: dict[str, object] | None = None,
         stack: str = "prod"):
    """Validate in-process (no project copy): the stack's config (or `config`) with tenants/ plus overrides."""
    from kfplatform.config import load_platform_config

    raw = stack_config(stack) if config is None else config
    return load_platform_config(stack, raw, PROJECT_DIR, tenants_copy(tmp_path, tenants))


def errors(tmp_path: pathlib.Path, config: dict | None = None, tenants: dict[str, object] | None = None,
           stack: str = "prod") -> list[str]:
    """The ConfigError's issues as `FILE: key.path: message` lines; fails if the input loads."""
    import pytest

    from kfplatform.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        load(tmp_path, config, tenants, stack)
    # Tenant files are shown as the loader shows them under a project: tenants/<file>.
    return [str(issue).replace(f"{tmp_path}/", "") for issue in caught.value.issues]


def with_tenant(name: str = "team-vision", /, **changes) -> dict[str, dict]:
    """{name: the committed tenant file with `changes` applied (key -> value; None deletes)}."""
    body = tenant(name)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return {name: body}


def with_stack(stack: str = "prod", **sections) -> dict:
    """The committed stack's config with whole sections (by key without the project prefix) merged in."""
    config = stack_config(stack)
    for key, value in sections.items():
        full = f"kubeflow-platform:{key}"
        if isinstance(value, dict) and isinstance(config.get(full), dict):
            config[full] = {**config[full], **value}
        else:
            config[full] = value
    return config
