"""Helpers for data-tier tests: stack configs with one change, and lookups in a render."""
from __future__ import annotations

import copy
import fnmatch
import json
import pathlib

import pytest

from kfplatform.config.errors import ConfigError
from kfplatform.config.loader import load_platform_config
from kfplatform.render.run import RenderResult, read_stack_config

PROJECT_DIR = pathlib.Path(__file__).resolve().parents[2]
DATA_KEY = "kubeflow-platform:data"


def stack_raw(stack: str) -> dict[str, str]:
    raw, _ = read_stack_config(PROJECT_DIR, stack)
    return raw


def data_section(stack: str) -> dict:
    return json.loads(stack_raw(stack)[DATA_KEY])


def load_with_data(stack: str, data: dict, project_dir: pathlib.Path = PROJECT_DIR):
    raw = stack_raw(stack)
    raw[DATA_KEY] = json.dumps(data)
    return load_platform_config(stack, raw, project_dir)


def issues_for(stack: str, change, project_dir: pathlib.Path = PROJECT_DIR) -> list:
    """The ConfigIssues raised for the committed stack's data section after `change(data)`."""
    data = copy.deepcopy(data_section(stack))
    change(data)
    with pytest.raises(ConfigError) as raised:
        load_with_data(stack, data, project_dir)
    return raised.value.issues


def resource(result: RenderResult, type_: str, name: str):
    matches = [r for r in result.resources if r.type == type_ and r.name == name]
    assert len(matches) == 1, f"{type_} {name}: {len(matches)} registered"
    return matches[0]


def urn_of(result: RenderResult, type_: str, name: str) -> str:
    return resource(result, type_, name).urn


def allowed(policy: dict, action: str, resource_arn: str, prefix: str | None = None) -> bool:
    """A small evaluator of the Allow statements we write (no Deny, StringLike on s3:prefix only)."""
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow" or action not in statement["Action"]:
            continue
        if not any(fnmatch.fnmatchcase(resource_arn, pattern) for pattern in statement["Resource"]):
            continue
        condition = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
        if condition is not None and (prefix is None or not any(fnmatch.fnmatchcase(prefix, p) for p in condition)):
            continue
        return True
    return False
