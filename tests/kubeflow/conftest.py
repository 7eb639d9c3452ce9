"""Helpers for the Kubeflow area's tests: committed stacks with one setting changed."""
from __future__ import annotations

import copy
import json

import pytest

from kfplatform.config import ConfigError, load_platform_config
from kfplatform.kubeflow import patches
from kfplatform.render.run import read_stack_config
from tests.conftest import PROJECT_DIR


def stack_config(stack: str, change=None, key: str = "kubeflow") -> dict:
    """The committed stack's raw config, with `change(section)` applied to `kubeflow-platform:<key>`."""
    raw, _ = read_stack_config(PROJECT_DIR, stack)
    if change is not None:
        full = f"kubeflow-platform:{key}"
        section = copy.deepcopy(json.loads(raw[full]))
        change(section)
        raw[full] = json.dumps(section)
    return raw


def config_issues(stack: str, change, key: str = "kubeflow") -> list[str]:
    """`path: message` of every issue the loader reports for the changed config (none -> [])."""
    try:
        load_platform_config(stack, stack_config(stack, change, key), PROJECT_DIR)
    except ConfigError as e:
        return [f"{i.path}: {i.message}" for i in e.issues]
    return []


def app(result, component: str) -> dict:
    return result.find("Application", f"kubeflow-{component}", "argocd")


def app_patches(result, component: str) -> list[dict]:
    return app(result, component)["spec"]["source"]["kustomize"]["patches"]


def patch_for(result, component: str, kind: str, name: str | None = None) -> dict:
    """The parsed body of the (first) patch targeting kind/name in a component's Application."""
    for p in app_patches(result, component):
        t = p.get("target", {})
        if t.get("kind") == kind and (name is None or t.get("name") == name):
            return patches.parse(p)
    raise KeyError(f"no {kind} {name} patch in kubeflow-{component}")


def patches_for(result, component: str, kind: str, name: str) -> list[dict]:
    """Every parsed patch body targeting kind/name in a component's Application."""
    return [
        patches.parse(p) for p in app_patches(result, component)
        if p.get("target", {}).get("kind") == kind and p.get("target", {}).get("name") == name
    ]


def container_env(deployment_patch: dict, container: str) -> dict[str, dict]:
    (c,) = [c for c in deployment_patch["spec"]["template"]["spec"]["containers"] if c["name"] == container]
    return {e["name"]: e for e in c.get("env", [])}


@pytest.fixture
def issues():
    return config_issues
