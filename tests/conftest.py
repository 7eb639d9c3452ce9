"""Shared fixtures: each stack is rendered once per test session, under Pulumi's mocks."""
from __future__ import annotations

import pathlib

import pytest

from kfplatform.render.run import RenderResult, render_stack

PROJECT_DIR = pathlib.Path(__file__).resolve().parent.parent
SHARED_DIR = PROJECT_DIR.parent / "shared"

_renders: dict[str, RenderResult] = {}


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
