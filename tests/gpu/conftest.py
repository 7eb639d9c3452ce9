"""A copy of the committed stacks and tenants in a tmp dir, to change and load (no render)."""
from __future__ import annotations

import pathlib
from typing import Callable

import pytest
import yaml

from kfplatform.config import ConfigError, PlatformConfig, load_platform_config
from kfplatform.render.run import read_stack_config

from ..conftest import copy_project

PREFIX = "kubeflow-platform:"


class Project:
    def __init__(self, root: pathlib.Path):
        self.root = copy_project(root)

    def edit_stack(self, stack: str, change: Callable[[dict], None]) -> None:
        """`change(config)` edits the stack's project keys in place (`gpu`, `cluster`, ...)."""
        path = self.root / f"Pulumi.{stack}.yaml"
        data = yaml.safe_load(path.read_text())
        values = {k[len(PREFIX):]: v for k, v in data["config"].items() if k.startswith(PREFIX)}
        change(values)
        data["config"] = {
            **{k: v for k, v in data["config"].items() if not k.startswith(PREFIX)},
            **{PREFIX + k: v for k, v in values.items()},
        }
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    def edit_gpu(self, change: Callable[[dict], None], stack: str = "prod") -> None:
        self.edit_stack(stack, lambda values: change(values["gpu"]))

    def edit_tenant(self, name: str, change: Callable[[dict], None]) -> None:
        path = self.root / "tenants" / f"{name}.yaml"
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    def load(self, stack: str = "prod") -> PlatformConfig:
        raw, _ = read_stack_config(self.root, stack)
        return load_platform_config(stack, raw, self.root)

    def errors(self, stack: str = "prod") -> ConfigError:
        """The ConfigError loading the stack raises (fails the test if it loads)."""
        with pytest.raises(ConfigError) as caught:
            self.load(stack)
        return caught.value


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path)


def issue_at(error: ConfigError, file: str, path: str):
    """The one issue of `error` at `file`/`path`."""
    found = [i for i in error.issues if i.file == file and i.path == path]
    assert found, f"no issue at {file}: {path}; issues: {[str(i) for i in error.issues]}"
    assert len(found) == 1, found
    return found[0]
