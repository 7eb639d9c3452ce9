"""Write a render: manifests.yaml, resources.json, exports.json, and the one-screen summary."""
from __future__ import annotations

import collections
import json
import pathlib

import yaml

from .run import RenderResult


# libyaml's emitter when PyYAML has it (`yaml.__with_libyaml__`): the same representers, the same
# bytes (tests/render compare both), about five times faster than the pure-Python emitter.
class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    pass


class _PureDumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
_PureDumper.add_representer(str, _str)


def manifests_text(objects: list[dict], pure: bool = False) -> str:
    """The objects as one multi-document YAML stream, as manifests.yaml holds them."""
    return yaml.dump_all(objects, Dumper=_PureDumper if pure else _Dumper, sort_keys=False, explicit_start=True, width=120)


def write_render(result: RenderResult, out: pathlib.Path) -> list[pathlib.Path]:
    out.mkdir(parents=True, exist_ok=True)
    manifests = out / "manifests.yaml"
    manifests.write_text(manifests_text(result.kubernetes_objects()))
    resources = out / "resources.json"
    resources.write_text(json.dumps([r.as_json() for r in result.resources], indent=1) + "\n")
    exports = out / "exports.json"
    exports.write_text(json.dumps(result.exports, indent=1, sort_keys=True) + "\n")
    from .posture import write_posture

    return [manifests, resources, exports] + write_capacity(result, out) + write_posture(result, out)


def write_capacity(result: RenderResult, out: pathlib.Path) -> list[pathlib.Path]:
    """capacity.json and capacity.md: the GPU capacity plan, so a merge request shows the headroom."""
    from ..gpu.report import markdown_report

    plan = result.exports.get("gpuCapacity")
    if plan is None:
        return []
    as_json, as_md = out / "capacity.json", out / "capacity.md"
    as_json.write_text(json.dumps(plan, indent=1, sort_keys=True) + "\n")
    as_md.write_text(markdown_report(plan, result.stack))
    return [as_json, as_md]


def component_of(result: RenderResult) -> dict[str, str]:
    """URN -> the type of the nearest ancestor that is a direct child of the root Platform."""
    by_urn = {r.urn: r for r in result.resources}
    roots = {r.urn for r in result.resources if r.type == "kfplatform:index:Platform"}
    owner = {}
    for r in result.resources:
        node = r
        while node.parent and node.parent not in roots and node.parent in by_urn:
            node = by_urn[node.parent]
        owner[r.urn] = node.type if node.parent in roots else r.type
    return owner


def summary(result: RenderResult) -> str:
    owner = component_of(result)
    per_component = collections.Counter(owner[r.urn] for r in result.resources if r.custom)
    objects = result.kubernetes_objects()
    per_kind = collections.Counter(f"{o['apiVersion']} {o['kind']}" for o in objects)
    protected = sum(1 for r in result.resources if r.protect)
    tenants = result.exports.get("tenantNamespaces") or []
    lines = [
        f"stack {result.stack}: {len(result.resources)} resources registered "
        f"({sum(1 for r in result.resources if r.custom)} custom, {protected} protected), "
        f"{len(objects)} Kubernetes objects",
        "",
        "resources by component:",
    ]
    lines += [f"  {count:5d}  {name}" for name, count in per_component.most_common()]
    lines += ["", "objects by kind:"]
    lines += [f"  {count:5d}  {name}" for name, count in sorted(per_kind.items(), key=lambda kv: (-kv[1], kv[0]))]
    lines += ["", f"tenants ({len(tenants)}): {', '.join(tenants) if tenants else '-'}"]
    return "\n".join(lines)
