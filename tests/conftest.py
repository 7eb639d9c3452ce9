"""Shared fixtures: each stack is rendered once per test session, under Pulumi's mocks."""
from __future__ import annotations

import pathlib

import pytest

from kfplatform.render.run import RenderResult, render_stack

PROJECT_DIR = pathlib.Path(__file__).resolve().parent.parent
SHARED_DIR = PROJECT_DIR.parent / "shared"

_renders: dict[str, RenderResult] = {}

# What a copy of the project needs to load and render a stack: the program, the stack files, the
# committed MinIO geometry locks, and the tenants.
PROJECT_FILES = ("__main__.py", "Pulumi.yaml", "Pulumi.*.yaml", "data-geometry.*.json")


def copy_project(dest: pathlib.Path) -> pathlib.Path:
    """A copy of the committed project in `dest`, to change and load or render."""
    import shutil

    for pattern in PROJECT_FILES:
        for path in PROJECT_DIR.glob(pattern):
            shutil.copy(path, dest / path.name)
    shutil.copytree(PROJECT_DIR / "tenants", dest / "tenants")
    return dest


def rendered(stack: str) -> RenderResult:
    """The committed `Pulumi.<stack>.yaml` rendered (cached: rendering resets Pulumi's globals)."""
    if stack not in _renders:
        _renders[stack] = render_stack(PROJECT_DIR, stack)
    return _renders[stack]


@pytest.fixture(scope="session")
def prod() -> RenderResult:
    return rendered("prod")


@pytest.fixture(scope="session")
def sandbox() -> RenderResult:
    return rendered("sandbox")


@pytest.fixture(params=["prod", "sandbox"], scope="session")
def each_stack(request) -> RenderResult:
    return rendered(request.param)
