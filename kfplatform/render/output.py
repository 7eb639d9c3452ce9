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

    return [manifests, resources, exports] + write_capacity(result, out) + write_audit_policy(result, out) \
        + write_rules(result, out) + write_posture(result, out)


def write_audit_policy(result: RenderResult, out: pathlib.Path) -> list[pathlib.Path]:
    """audit-policy.yaml: the API server's audit Policy (`--audit-policy-file`), docs/compliance.md."""
    from ..compliance.component import AUDIT_POLICY_CONFIGMAP, AUDIT_POLICY_KEY

    for obj in result.kubernetes_objects():
        if obj.get("kind") == "ConfigMap" and obj["metadata"]["name"] == AUDIT_POLICY_CONFIGMAP:
            path = out / AUDIT_POLICY_KEY
            path.write_text(obj["data"][AUDIT_POLICY_KEY])
            return [path]
    return []


def write_rules(result: RenderResult, out: pathlib.Path) -> list[pathlib.Path]:
    """rules/<namespace>-<name>.yaml: each PrometheusRule's groups as a Prometheus rule file, for
    `promtool check rules` / `promtool test rules` (docs/observability.md)."""
    rules = [o for o in result.kubernetes_objects() if o["kind"] == "PrometheusRule"]
    if not rules:
        return []
    folder = out / "rules"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.yaml"):
        stale.unlink()
    for rule in rules:
        meta = rule["metadata"]
        path = folder / f"{meta.get('namespace', 'default')}-{meta['name']}.yaml"
        path.write_text(yaml.dump({"groups": rule["spec"]["groups"]}, Dumper=_Dumper, sort_keys=False, width=120))
    return [folder]


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
    lines += [""] + image_lines()
    return "\n".join(lines)


def image_lines() -> list[str]:
    """The image table's unverified rows (kfplatform/images.py): what still needs a digest checked."""
    from ..images import table

    rows = table()
    pending = [e for e in rows if not e.verified]
    lines = [f"images: {len(rows)} pinned in the image table, {len(pending)} without a verified digest"]
    for e in pending:
        state = "PLACEHOLDER digest" if e.image.is_placeholder else "digest not verified"
        lines.append(f"  {e.component:18s} {e.upstream_ref}  ({state})")
    return lines


def write_policy_report(resources: pathlib.Path, out: pathlib.Path) -> tuple[list[str], list[pathlib.Path]]:
    """policy.txt and policy.json next to the render: the pack's result for the merge request.

    Returns the summary lines (counts, mandatory violations one per line, how to run the gate).
    """
    from .policy import engine, run_policy

    report, text = run_policy(resources)
    as_text, as_json = out / "policy.txt", out / "policy.json"
    as_text.write_text(text + "\n")
    as_json.write_text(json.dumps(engine().as_json(report), indent=1) + "\n")
    lines = [text.splitlines()[-1]]
    for v in report.mandatory:
        line = f"  [{v.level}] {v.policy}: {v.resource}: {v.message}"
        lines.append(line if len(line) <= 160 else line[:157] + "...")
    lines.append(f"  details in {as_text.name}; the gate: python -m kfplatform policy {resources} (exit 1 on mandatory)")
    return lines, [as_text, as_json]


def write_render_with_gate(result: RenderResult, out: pathlib.Path) -> tuple[str, list[pathlib.Path]]:
    """What `render` writes: the render files, the policy pack's result, and summary.txt.

    The pack runs over the written resources.json through the engine path. The render does not
    fail on violations (it writes files; the prod render has placeholder digests today): the gate is
    `python -m kfplatform policy` (docs/merge-requests.md). Returns (summary text, files written).
    """
    written = write_render(result, out)
    policy_lines, policy_files = write_policy_report(out / "resources.json", out)
    text = summary(result) + "\n\n" + "\n".join(policy_lines)
    summary_file = out / "summary.txt"  # the merge request shows it (.gitlab-ci.yml, expose_as)
    summary_file.write_text(text + "\n")
    return text, written + policy_files + [summary_file]
