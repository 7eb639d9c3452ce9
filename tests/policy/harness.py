"""Helpers for policy tests: every evaluation goes through pulumi-policy's analyzer servicer
(policy/kfguard/engine.py), fed protobuf requests built from recorded resources."""
from __future__ import annotations

import copy
from typing import Any, Iterable

from kfguard import engine

UNKNOWN = engine.UNKNOWN
PROJECT = "kubeflow-platform"


def urn(type_: str, name: str, stack: str = "prod") -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{type_}::{name}"


def resource(type_: str, name: str, inputs: dict, *, stack: str = "prod", protect: bool = False,
             dependencies: Iterable[str] = (), custom: bool = True) -> dict:
    """A resources.json entry (what `render` records for each registration)."""
    return {
        "urn": urn(type_, name, stack), "type": type_, "name": name, "parent": "", "custom": custom,
        "inputs": inputs, "protect": protect, "dependencies": list(dependencies), "retain_on_delete": False,
        "ignore_changes": [],
    }


def k8s(kind_type: str, name: str, namespace: str | None, body: dict, labels: dict | None = None, **kw) -> dict:
    api, kind = kind_type.split(":")[1], kind_type.split(":")[2]
    api_version = api[len("core/"):] if api.startswith("core/") else api
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    return resource(kind_type, f"{namespace or 'cluster'}-{name}", {"apiVersion": api_version, "kind": kind,
                                                                     "metadata": meta, **body}, **kw)


def recorded(result) -> list[dict]:
    """A RenderResult's resources exactly as resources.json holds them."""
    return [copy.deepcopy(r.as_json()) for r in result.resources]


def config(stack: str = "prod") -> dict:
    return engine.load_config(engine.config_for_stack(stack))


def run(resources: list[dict], stack: str = "prod", cfg: dict | None = None, only: str | None = None) -> engine.Report:
    """The pack over `resources` with the stack's pack config; `only`: every other policy disabled
    through the config (the servicer then skips them, as the engine would), to keep tests fast."""
    cfg = dict(cfg if cfg is not None else config(stack))
    if only is not None:
        cfg = {name: (level if name == only else "disabled", props) for name, (level, props) in cfg.items()}
    return engine.evaluate(resources, cfg)


def found(report: engine.Report, policy: str) -> list[str]:
    return sorted(v.message for v in report.violations if v.policy == policy)


def by_name(resources: list[dict], name: str) -> dict:
    """The custom resource named `name` (`Kind:name` when several kinds share it)."""
    kind, _, name = name.rpartition(":")
    (match,) = [r for r in resources if r["name"] == name and r["custom"] and r["type"].endswith(f":{kind}" if kind else "")]
    return match


def deployment(name: str, namespace: str, image: str, *, resources: dict | None = None,
               security: dict | None = None, env: list | None = None, annotations: dict | None = None) -> dict:
    container: dict[str, Any] = {"name": name, "image": image}
    if resources is not None:
        container["resources"] = resources
    if security is not None:
        container["securityContext"] = security
    if env is not None:
        container["env"] = env
    template: dict[str, Any] = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}
    if annotations is not None:
        template["metadata"]["annotations"] = annotations
    return k8s("kubernetes:apps/v1:Deployment", name, namespace,
               {"spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}, "template": template}})


GOOD_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
SHA = "sha256:" + "ab" * 32
MIRROR = "registry.ml.example.com/mirror"
