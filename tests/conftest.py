"""Shared fixtures: each stack is rendered once per test session, under Pulumi's mocks."""
from __future__ import annotations

import os
import pathlib
import pickle
import time
from typing import Callable

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


# Where the pytest-xdist workers of this session share what they build once (set by `_shared_dir`).
_SHARED: list[pathlib.Path] = []


def once_across_workers(name: str, produce: Callable[[], bytes]) -> bytes:
    """`produce()` run by the first worker that needs `name`, its bytes read by every other one.

    The workers share the session's base temp directory; the first to need `name` holds
    `name.lock` (O_EXCL) while it produces, and the others wait for `name.done`. Without a shared
    directory (a plain run), it just produces."""
    if not _SHARED:
        return produce()
    done, lock = _SHARED[0] / f"{name}.done", _SHARED[0] / f"{name}.lock"
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        deadline = time.monotonic() + 300
        while not done.exists():
            assert time.monotonic() < deadline, f"another worker never finished {name}"
            time.sleep(0.05)
        return done.read_bytes()
    data = produce()
    partial = done.with_suffix(".partial")
    partial.write_bytes(data)
    partial.rename(done)  # whole or absent: a waiting worker never reads half of it
    return data


@pytest.fixture(scope="session", autouse=True)
def _shared_dir(tmp_path_factory, worker_id):
    if worker_id != "master":
        shared = tmp_path_factory.getbasetemp().parent / "shared-builds"
        shared.mkdir(exist_ok=True)
        _SHARED.append(shared)
    yield
    _SHARED.clear()


def rendered(stack: str) -> RenderResult:
    """The committed `Pulumi.<stack>.yaml` rendered (cached: rendering resets Pulumi's globals), once
    for all the session's workers."""
    if stack not in _renders:
        _renders[stack] = pickle.loads(once_across_workers(
            f"render-{stack}", lambda: pickle.dumps(render_stack(PROJECT_DIR, stack)),
        ))
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
