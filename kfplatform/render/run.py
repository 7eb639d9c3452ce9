"""Run the program exactly as `pulumi up` would, in-process under Pulumi's mocks."""
from __future__ import annotations

import contextlib
import gc
import json
import pathlib
import runpy
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

from .. import PROJECT
from ..config.errors import ConfigError, ConfigIssue
from .mocks import PlatformMocks, RecordingMonitor, RegisteredResource, plain


@dataclass
class RenderResult:
    stack: str
    resources: list[RegisteredResource]
    exports: dict[str, Any] = field(default_factory=dict)
    _objects: list[dict] | None = field(default=None, init=False, repr=False, compare=False)

    def kubernetes_objects(self) -> list[dict]:
        """Every Kubernetes object the program declares, as the API server would receive it."""
        if self._objects is None:
            self._objects = [obj for r in self.resources if (obj := kubernetes_object(r)) is not None]
        return list(self._objects)

    def by_type(self, type_: str) -> list[RegisteredResource]:
        return [r for r in self.resources if r.type == type_]

    def under(self, component_type: str) -> list[RegisteredResource]:
        """Resources below a component of `component_type` (e.g. `kfplatform:data:DataTier`)."""
        by_urn = {r.urn: r for r in self.resources}
        found = []
        for r in self.resources:
            node = by_urn.get(r.parent)
            while node is not None and node.type != component_type:
                node = by_urn.get(node.parent)
            if node is not None:
                found.append(r)
        return found

    def helm_release(self, chart: str) -> RegisteredResource:
        """The one Helm release of `chart`; AssertionError if there is none or more than one."""
        found = [r for r in self.by_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("chart") == chart]
        assert len(found) == 1, f"{len(found)} Helm releases of chart {chart!r}"
        return found[0]

    def find(self, kind: str, name: str, namespace: str | None = None) -> dict:
        """The rendered object of `kind` named `name` (in `namespace`); KeyError if absent."""
        for obj in self.kubernetes_objects():
            meta = obj.get("metadata", {})
            if obj.get("kind") == kind and meta.get("name") == name and meta.get("namespace") == namespace:
                return obj
        raise KeyError(f"{kind} {namespace or '-'}/{name} not rendered")


# Pulumi types that are Kubernetes objects but not API objects (Helm releases, kustomize, YAML groups).
NON_OBJECT_PREFIXES = ("kubernetes:helm.sh/", "kubernetes:kustomize:", "kubernetes:yaml:", "pulumi:providers:")


def kubernetes_object(resource: RegisteredResource) -> dict | None:
    if not resource.custom or not resource.type.startswith("kubernetes:") or resource.type.startswith(NON_OBJECT_PREFIXES):
        return None
    inputs = resource.inputs
    if not isinstance(inputs, dict) or "apiVersion" not in inputs or "kind" not in inputs:
        return None
    head = {k: inputs[k] for k in ("apiVersion", "kind", "metadata") if k in inputs}
    body = {k: v for k, v in inputs.items() if k not in head and v is not None}
    return {**head, **body}


def read_stack_config(project_dir: pathlib.Path, stack: str) -> tuple[dict[str, str], list[str]]:
    """`Pulumi.<stack>.yaml` as the engine hands it to a program: namespaced keys, JSON values."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        stacks = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        raise ConfigError([ConfigIssue(path.name, "", f"no such stack file (stacks here: {', '.join(stacks) or 'none'})")])
    from ..config.yamlsafe import load_yaml

    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([ConfigIssue(path.name, "", f"cannot be read: {e}")]) from None
    data, issues = load_yaml(text, path.name, strip_prefix="config.")
    if issues:
        raise ConfigError(issues)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(path.name, "", "expected a mapping with a `config:` key (a Pulumi stack file)")])
    raw = data.get("config") or {}
    if not isinstance(raw, dict):
        raise ConfigError([ConfigIssue(path.name, "config", "expected a mapping of config keys")])
    bad_keys = [key for key in raw if not isinstance(key, str)]
    if bad_keys:
        raise ConfigError([ConfigIssue(path.name, f"config.{key}", "a config key must be text") for key in bad_keys])
    config, secret_keys = {}, []
    for key, value in raw.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            # Never committed here (see README); accepted for stacks a user configured locally.
            secret_keys.append(full)
            value = "[secret]"
        config[full] = value if isinstance(value, str) else json.dumps(value)
    return config, secret_keys


def canonical_order(resources: list[RegisteredResource]) -> list[RegisteredResource]:
    """The registrations in an order that depends only on what was registered, not on timing.

    The engine gets registrations in the order their inputs resolve, which varies from run to run
    (asyncio scheduling), so the render would not be byte-for-byte reproducible. This is a walk of
    the parent tree, parents before children, siblings by URN (unique).
    """
    children: dict[str, list[RegisteredResource]] = {}
    urns = {r.urn for r in resources}
    for r in resources:
        children.setdefault(r.parent if r.parent in urns else "", []).append(r)
    ordered: list[RegisteredResource] = []
    stack = sorted(children.get("", []), key=lambda r: r.urn, reverse=True)
    while stack:
        node = stack.pop()
        ordered.append(node)
        stack.extend(sorted(children.get(node.urn, []), key=lambda r: r.urn, reverse=True))
    return ordered


@contextlib.contextmanager
def no_source_positions():
    """Skip the SDK's per-resource stack capture while the program runs under our mocks.

    pulumi 3.272 (`pulumi/runtime/resource.py`, `register_resource` and `read_resource`) calls
    `_get_stack_trace()` for every resource: `traceback.extract_stack()` plus a file URI per frame,
    sent as the request's `sourcePosition`/`stackTrace`, which only the real engine uses (for
    diagnostics). The SDK has no switch for it. Mock monitors never read those fields, so returning
    the empty `StackTrace` the SDK itself returns when it finds no user frame changes nothing that
    is registered or recorded; it saves ~0.4 ms per resource. Restored afterwards; `pulumi up`
    never runs this code. tests/render checks the SDK still has the function (else: remove this).
    """
    from pulumi.runtime import resource as sdk_resource
    from pulumi.runtime.proto import source_pb2

    original = sdk_resource._get_stack_trace
    sdk_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = original


@contextlib.contextmanager
def cyclic_gc_paused():
    """No cyclic garbage collection while the program runs (reference counting still frees).

    The run allocates ~100,000 short-lived asyncio handles and futures per 1,000 resources on top of
    a large live heap (the SDK's modules and every registration); each automatic full collection
    rescans that heap to find almost nothing (~1,000 objects in cycles in a 30-team render). Paused,
    the 30-team render needs ~20% less CPU for ~10 MiB more peak memory (benchmarks/results.md).
    The previous state is restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_under_mocks(program: Callable[[], Any], stack: str, config: dict[str, str] | None = None,
                    secret_keys: list[str] | None = None) -> RenderResult:
    """Run `program` in-process under Pulumi's mocks; return every registration and the exports.

    Also the harness for component tests: build one component inside `program` and inspect
    the result's resources and Kubernetes objects.
    """
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.sync_await import _sync_await

    pulumi.runtime.set_all_config(dict(config or {}), list(secret_keys or []))
    mocks = PlatformMocks()
    monitor = RecordingMonitor(mocks)
    settings.ROOT.set(None)  # a fresh root stack, so two runs in one process do not mix
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    with no_source_positions(), cyclic_gc_paused():
        pulumi.runtime.test(program)()
    exports = {}
    root = settings.get_root_resource()
    for key, value in (getattr(root, "outputs", None) or {}).items():
        if isinstance(value, pulumi.Output):
            value = _sync_await(value.future())
        exports[key] = plain(value)
    return RenderResult(stack, canonical_order(monitor.registered), exports)


def render_stack(project_dir: pathlib.Path, stack: str, extra_config: dict[str, str] | None = None) -> RenderResult:
    """Run `__main__.py` for `stack` exactly as `pulumi up` would, under mocks.

    Raises ConfigError (before any resource is registered) when the configuration is invalid.
    """
    config, secret_keys = read_stack_config(project_dir, stack)
    config.update(extra_config or {})
    return run_under_mocks(
        lambda: runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__"), stack, config, secret_keys
    )
