"""Helpers for backup tests: the committed stacks with a changed `backup` section, and renders of copies."""
from __future__ import annotations

import copy
import json

import pytest
import yaml

from kfplatform.config.errors import ConfigError
from kfplatform.config.loader import load_platform_config
from kfplatform.render.run import read_stack_config
from tests.conftest import PROJECT_DIR, copy_project

KEY = "kubeflow-platform:backup"


def backup_section(stack: str) -> dict:
    raw, _ = read_stack_config(PROJECT_DIR, stack)
    return json.loads(raw[KEY])


def load_with_backup(stack: str, section: dict | None):
    raw, _ = read_stack_config(PROJECT_DIR, stack)
    if section is None:
        raw.pop(KEY)
    else:
        raw[KEY] = json.dumps(section)
    return load_platform_config(stack, raw, PROJECT_DIR)


def issues(stack: str, change) -> dict[str, str]:
    """{key path: message} of the ConfigIssues for the committed section after `change(section)`."""
    section = copy.deepcopy(backup_section(stack))
    change(section)
    with pytest.raises(ConfigError) as raised:
        load_with_backup(stack, section)
    return {i.path: f"{i.file}: {i.message}" for i in raised.value.issues}


def project_with(tmp_path, stack: str, change_config=None, tenants: dict | None = None):
    """A copy of the project with the stack file's config changed by `change_config(config)`."""
    copy_project(tmp_path)
    path = tmp_path / f"Pulumi.{stack}.yaml"
    data = yaml.safe_load(path.read_text())
    if change_config:
        change_config(data["config"])
    path.write_text(yaml.safe_dump(data))
    for name, body in (tenants or {}).items():
        (tmp_path / "tenants" / f"{name}.yaml").write_text(yaml.safe_dump(body))
    return tmp_path
