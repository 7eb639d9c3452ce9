"""`python -m kfplatform diff OLD_DIR NEW_DIR`: what a change does to the render, for a reviewer.

Both folders are renders (`python -m kfplatform render --out DIR`); their `resources.json` lists
every Pulumi resource with its inputs and options (Kubernetes objects are the custom `kubernetes:`
ones). Resources are matched by URN, as the engine matches them. Printed per component (the box of
the posture under the Platform) and kind: added, removed and changed resources, changed ones with
their field-level changes. Secret values are never shown ("[secret]" inputs are masked by the
render; values of a Secret's `data`/`stringData` and of password/token-like keys are masked here).

Dangerous changes are listed first, each with a warning line (red on a terminal): the delete of a
resource that holds state (a namespace, a database, a bucket, a volume claim, a Vault secret, a
generated credential, CRDs), a change that replaces such a resource or a protected one (an
immutable field, a new name), and protection removed. Not covered: what Argo CD, Helm releases or
operators do inside the cluster with a changed input (only their inputs are compared).

Stack outputs (`exports.json`) that differ are listed too, under "(stack outputs)".

Exit status: 0 no change, 1 changes, 2 a folder is not a render. The same report is written as
markdown (default NEW_DIR/diff.md) for the merge request.
"""
from __future__ import annotations

import difflib
import json
import os
import pathlib
import re
import sys
from dataclasses import dataclass, field
from typing import Any

MISSING = object()
MASK = "***"
PLATFORM_TYPE = "kfplatform:index:Platform"
OUTPUT_TYPE = "pulumi:pulumi:StackOutput"  # how a stack output's entry is typed in the report

# Deleting one of these loses data or everything that depends on it (why, as the reviewer reads it).
STATEFUL: dict[str, str] = {
    "kubernetes:core/v1:Namespace": "deleting a namespace deletes every object and volume claim in it",
    "kubernetes:core/v1:PersistentVolumeClaim": "deleting a volume claim can delete its volume's data",
    "kubernetes:core/v1:PersistentVolume": "deleting a volume can delete its data",
    "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition": "deleting a CRD deletes every object of its kind",
    "kubernetes:apps/v1:StatefulSet": "a StatefulSet's pods hold data on their volumes",
    "kubernetes:k8s.mariadb.com/v1alpha1:MariaDB": "the Galera cluster: KFP, Katib and ML Metadata databases",
    "kubernetes:k8s.mariadb.com/v1alpha1:Database": "deleting a Database CR drops the schema",
    "kubernetes:k8s.mariadb.com/v1alpha1:Backup": "a database backup definition",
    "kubernetes:k8s.mariadb.com/v1alpha1:PhysicalBackup": "a database backup definition",
    "kubernetes:minio.min.io/v2:Tenant": "the object store: every artifact, backup and audit bucket",
    "kubernetes:kubeflow.org/v1:Profile": "the Profile controller deletes the namespace it owns",
    "minio:index/s3Bucket:S3Bucket": "a bucket and its objects",
    "vault:index/mount:Mount": "a Vault secrets engine and every secret under it",
    "vault:kv/secretV2:SecretV2": "a secret stored in Vault",
    "random:index/randomPassword:RandomPassword": "a generated credential: a new one is made, consumers must get it",
}
# A Helm release of CRDs: deleting it deletes the CRDs, and with them every object of their kinds.
CRD_CHART = re.compile(r"(^|-)crds?$")

# Fields whose change replaces the resource (delete and create) rather than updating it in place.
# Kubernetes: immutable fields the API server refuses to update (the provider replaces the object);
# the Terraform random provider forces a new value on any input change.
REPLACING_FIELDS: dict[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:StatefulSet": ("spec.selector", "spec.volumeClaimTemplates", "spec.serviceName", "spec.podManagementPolicy"),
    "kubernetes:apps/v1:Deployment": ("spec.selector",),
    "kubernetes:apps/v1:DaemonSet": ("spec.selector",),
    "kubernetes:batch/v1:Job": ("spec.selector", "spec.template"),
    "kubernetes:core/v1:PersistentVolumeClaim": ("spec.accessModes", "spec.storageClassName", "spec.selector", "spec.volumeName", "spec.volumeMode"),
    "kubernetes:core/v1:Service": ("spec.clusterIP",),
    "kubernetes:storage.k8s.io/v1:StorageClass": ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"),
    # MinIO operator: a pool's servers and volumesPerServer are immutable (../shared/FACTS.md).
    "kubernetes:minio.min.io/v2:Tenant": ("spec.pools",),
    "minio:index/s3Bucket:S3Bucket": ("bucket", "objectLocking"),
    "vault:index/mount:Mount": ("path",),
    "vault:kv/secretV2:SecretV2": ("mount", "name"),
}
ALWAYS_REPLACED_PREFIXES = ("random:",)
SECRET_KEY = re.compile(r"(password|passwd|token|secret|privatekey|accesskey|secretkey|credentials?)$", re.IGNORECASE)


@dataclass
class Change:
    path: str
    old: Any
    new: Any


@dataclass
class Entry:
    """One resource that differs between the two renders."""

    action: str  # added | removed | changed
    urn: str
    type: str
    component: str
    kind: str  # a Kubernetes kind (`RoleBinding`) or the Pulumi type of anything else
    label: str  # namespace/name for an object, the resource name otherwise
    changes: list[Change] = field(default_factory=list)
    dangers: list[str] = field(default_factory=list)


class NotARender(Exception):
    pass


def load(folder: pathlib.Path) -> dict[str, dict]:
    path = folder / "resources.json"
    if not path.is_file():
        raise NotARender(f"{folder}: no resources.json (make one with `python -m kfplatform render --out {folder}`)")
    try:
        resources = json.loads(path.read_text())
    except ValueError as e:
        raise NotARender(f"{path}: not JSON ({e})") from None
    return {r["urn"]: r for r in resources}


def components(resources: dict[str, dict]) -> dict[str, str]:
    """URN -> the type of its box: the ancestor that is a direct child of the Platform."""
    roots = {urn for urn, r in resources.items() if r["type"] == PLATFORM_TYPE}
    owner = {}
    for urn, r in resources.items():
        node = r
        while node["parent"] and node["parent"] not in roots and node["parent"] in resources:
            node = resources[node["parent"]]
        owner[urn] = node["type"] if node["parent"] in roots else "(platform)" if r["type"] == PLATFORM_TYPE else r["type"]
    return owner


def is_object(r: dict) -> bool:
    return r["custom"] and r["type"].startswith("kubernetes:") and isinstance(r["inputs"], dict) and "kind" in r["inputs"]


def kind_and_label(r: dict) -> tuple[str, str]:
    if is_object(r):
        meta = r["inputs"].get("metadata") or {}
        name = meta.get("name") or r["name"]
        return r["inputs"]["kind"], f"{meta['namespace']}/{name}" if meta.get("namespace") else name
    return r["type"], r["name"]


def secret_path(r: dict, path: str) -> bool:
    """Whether the value at `path` of `r`'s inputs may be a secret value (masked when shown)."""
    if r["type"] == "kubernetes:core/v1:Secret" and re.search(r"^(data|stringData)(\.|$)", path):
        return True
    parts = [part.rstrip("]") for part in re.split(r"[.\[]", path)]
    if len(parts) >= 2 and parts[-1] == "value" and parts[-2].startswith("name="):
        return bool(SECRET_KEY.search(parts[-2]))  # env: [{name: DB_PASSWORD, value: ...}]
    return bool(SECRET_KEY.search(parts[-1]))


def field_changes(old: Any, new: Any, path: str = "") -> list[Change]:
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += field_changes(old.get(key, MISSING), new.get(key, MISSING), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(old, list) and isinstance(new, list):
        named = [x for x in old + new if isinstance(x, dict) and isinstance(x.get("name"), str)]
        if len(named) == len(old) + len(new) and len({x["name"] for x in old}) == len(old) and len({x["name"] for x in new}) == len(new):
            # Lists of named things (containers, env, volumes, ports): matched by name, not position.
            by_old, by_new = {x["name"]: x for x in old}, {x["name"]: x for x in new}
            out = []
            for name in list(by_old) + [n for n in by_new if n not in by_old]:
                out += field_changes(by_old.get(name, MISSING), by_new.get(name, MISSING), f"{path}[name={name}]")
            return out
        if all(not isinstance(x, (dict, list)) for x in old + new):
            return [Change(path, old, new)]
        return _aligned(old, new, path)
    return [Change(path, old, new)]


def _aligned(old: list, new: list, path: str) -> list[Change]:
    """Other lists: elements aligned as a text diff aligns lines, so one insertion is one change."""
    keys = lambda items: [json.dumps(x, sort_keys=True) for x in items]  # noqa: E731
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, keys(old), keys(new), autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            for i, j in zip(range(i1, i2), range(j1, j2)):
                out += field_changes(old[i], new[j], f"{path}[{j}]")
            continue
        out += [Change(f"{path}[{i}]", old[i], MISSING) for i in range(i1, i2)]
        out += [Change(f"{path}[{j}]", MISSING, new[j]) for j in range(j1, j2)]
    return out


def short_urn(urn: str) -> str:
    """`type::name` of a URN (the type chain of its parents dropped)."""
    head, _, name = urn.rpartition("::")
    return f"{head.rpartition('$')[2].rpartition('::')[2]}::{name}"


def option_changes(old: dict, new: dict) -> list[Change]:
    out = []
    for key in ("protect", "retain_on_delete", "ignore_changes", "parent"):
        if old.get(key) != new.get(key):
            out.append(Change(f"(option) {key}", old.get(key), new.get(key)))
    before, after = set(old.get("dependencies") or ()), set(new.get("dependencies") or ())
    out += [Change("(option) dependsOn", short_urn(u), MISSING) for u in sorted(before - after)]
    out += [Change("(option) dependsOn", MISSING, short_urn(u)) for u in sorted(after - before)]
    return out


def _replace_reason(r: dict, changes: list[Change]) -> str | None:
    paths = [c.path for c in changes if not c.path.startswith("(option)")]
    if not paths:
        return None
    if r["type"].startswith(ALWAYS_REPLACED_PREFIXES):
        return "any input change replaces it (new value)"
    renamed = [p for p in paths if p in ("metadata.name", "metadata.namespace")]
    if renamed:
        return f"{renamed[0]} changed: the object is replaced (deleted, then created)"
    for prefix in REPLACING_FIELDS.get(r["type"], ()):
        hit = next((p for p in paths if p == prefix or p.startswith((prefix + ".", prefix + "["))), None)
        if hit:
            return f"{hit} is immutable: the change replaces it (or the API server refuses it)"
    return None


def _stateful(r: dict) -> str | None:
    if r["type"] in STATEFUL:
        return STATEFUL[r["type"]]
    if r["type"] == "kubernetes:helm.sh/v3:Release" and CRD_CHART.search(str((r["inputs"] or {}).get("chart", ""))):
        return "a release of CRDs: deleting it deletes the CRDs and every object of their kinds"
    return None


def dangers(entry: Entry, old: dict | None, new: dict | None) -> list[str]:
    out = []
    if entry.action == "removed":
        why = _stateful(old)
        if old["protect"]:
            out.append("delete of a protected resource (pulumi up refuses until `protect` is lifted)"
                       + (f": {why}" if why else ""))
        elif why and not old["retain_on_delete"]:
            out.append(f"delete of stateful data: {why}")
    elif entry.action == "changed":
        reason = _replace_reason(new, entry.changes)
        why = _stateful(old) or _stateful(new)
        if reason and (old["protect"] or why):
            out.append(f"replace of a {'protected' if old['protect'] else 'stateful'} resource: {reason}" + (f"; {why}" if why else ""))
        if old["protect"] and not new["protect"]:
            out.append("protection removed: a later change can delete it")
    return out


def compare(old: dict[str, dict], new: dict[str, dict]) -> list[Entry]:
    old_owner, new_owner = components(old), components(new)
    entries = []
    for urn in sorted(set(old) | set(new)):
        a, b = old.get(urn), new.get(urn)
        if a is not None and b is not None:
            changes = field_changes(a["inputs"], b["inputs"]) + option_changes(a, b)
            if not changes:
                continue
            action, ref, owner = "changed", b, new_owner[urn]
        elif a is None:
            changes, action, ref, owner = [], "added", b, new_owner[urn]
        else:
            changes, action, ref, owner = [], "removed", a, old_owner[urn]
        kind, label = kind_and_label(ref)
        entry = Entry(action, urn, ref["type"], owner, kind, label, changes)
        entry.dangers = dangers(entry, a, b)
        entry.changes = [_masked(ref, c) for c in changes]
        entries.append(entry)
    return entries


def _masked(r: dict, change: Change) -> Change:
    if change.path.startswith("(option)"):
        return change
    if secret_path(r, change.path):
        shown = lambda v: v if v is MISSING else MASK  # noqa: E731
        return Change(change.path, shown(change.old), shown(change.new))
    return Change(change.path, _mask_deep(change.old), _mask_deep(change.new))


def _mask_deep(value: Any) -> Any:
    """A whole added/removed value: its secret-looking keys (and env entries named so) masked."""
    if isinstance(value, dict):
        named_secret = isinstance(value.get("name"), str) and SECRET_KEY.search(value["name"]) and "value" in value
        return {k: MASK if (SECRET_KEY.search(str(k)) and not isinstance(v, (dict, list))) or (named_secret and k == "value")
                else _mask_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_deep(v) for v in value]
    return value


# --- the report ----------------------------------------------------------------------------------

def _value(v: Any) -> str:
    if v is MISSING:
        return "(absent)"
    text = json.dumps(v, sort_keys=True) if not isinstance(v, str) else json.dumps(v)
    return text if len(text) <= 100 else text[:97] + "..."


def _change_lines(c: Change) -> list[str]:
    if isinstance(c.old, str) and isinstance(c.new, str) and ("\n" in c.old or "\n" in c.new):
        diff = list(difflib.unified_diff(c.old.splitlines(), c.new.splitlines(), lineterm="", n=1))[2:]
        shown = diff[:30] + ([f"... {len(diff) - 30} more lines"] if len(diff) > 30 else [])
        return [f"{c.path}: text changed"] + [f"    {line}" for line in shown]
    return [f"{c.path}: {_value(c.old)} -> {_value(c.new)}"]


SYMBOL = {"added": "+", "removed": "-", "changed": "~"}


def counts(entries: list[Entry]) -> str:
    resources = [e for e in entries if e.type != OUTPUT_TYPE]

    def n(action: str, objects: bool) -> int:
        return sum(1 for e in resources if e.action == action and (e.type.startswith("kubernetes:") and e.kind != e.type) == objects)

    parts = []
    for action in ("added", "removed", "changed"):
        parts.append(f"{n(action, True) + n(action, False)} {action} ({n(action, True)} objects)")
    outputs = len(entries) - len(resources)
    return ", ".join(parts) + (f"; {outputs} stack outputs differ" if outputs else "")


def _grouped(entries: list[Entry]) -> dict[str, dict[str, list[Entry]]]:
    groups: dict[str, dict[str, list[Entry]]] = {}
    for e in sorted(entries, key=lambda e: (e.component, e.kind, e.label, e.action)):
        groups.setdefault(e.component, {}).setdefault(e.kind, []).append(e)
    return groups


def text_report(entries: list[Entry], old_dir: str, new_dir: str, color: bool = False) -> str:
    red, bold, reset = ("\033[31m", "\033[1m", "\033[0m") if color else ("", "", "")
    if not entries:
        return f"no change: {old_dir} and {new_dir} declare the same resources\n"
    lines = [f"render diff {old_dir} -> {new_dir}: {counts(entries)}"]
    dangerous = [e for e in entries if e.dangers]
    if dangerous:
        lines += ["", f"{red}{bold}WARNING: {len(dangerous)} dangerous change(s), review these first:{reset}"]
        for e in dangerous:
            for d in e.dangers:
                lines.append(f"{red}  ! {SYMBOL[e.action]} {e.kind} {e.label} [{e.component}]: {d}{reset}")
    for component, kinds in _grouped(entries).items():
        lines += ["", f"{bold}{component}{reset}"]
        for kind, items in kinds.items():
            lines.append(f"  {kind}")
            for e in items:
                flag = f"{red}!{reset}" if e.dangers else " "
                lines.append(f"   {flag}{SYMBOL[e.action]} {e.label}")
                for c in e.changes:
                    lines += [f"        {line}" for line in _change_lines(c)]
    return "\n".join(lines) + "\n"


def markdown_report(entries: list[Entry], old_dir: str, new_dir: str) -> str:
    lines = [f"### Render diff `{old_dir}` → `{new_dir}`", ""]
    if not entries:
        return "\n".join(lines + ["No change: both renders declare the same resources.", ""])
    lines.append(counts(entries))
    dangerous = [e for e in entries if e.dangers]
    if dangerous:
        lines += ["", f"> **Warning: {len(dangerous)} dangerous change(s), review these first**", ">"]
        lines += [f"> - :warning: `{SYMBOL[e.action]}` {e.kind} `{e.label}` ({e.component}): {d}"
                  for e in dangerous for d in e.dangers]
    for component, kinds in _grouped(entries).items():
        lines += ["", f"#### `{component}`", ""]
        for kind, items in kinds.items():
            lines.append(f"- **{kind}**")
            for e in items:
                lines.append(f"  - `{SYMBOL[e.action]}` `{e.label}`" + (" :warning:" if e.dangers else ""))
                if e.changes:
                    lines.append("    ```")
                    lines += [f"    {line}" for c in e.changes for line in _change_lines(c)]
                    lines.append("    ```")
    return "\n".join(lines) + "\n"


def load_exports(folder: pathlib.Path) -> dict:
    path = folder / "exports.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def compare_exports(old: dict, new: dict) -> list[Entry]:
    """The stack outputs (exports.json) that differ, each as one entry with its field changes."""
    entries = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, MISSING), new.get(key, MISSING)
        if a == b:
            continue
        action = "added" if a is MISSING else "removed" if b is MISSING else "changed"
        changes = [Change(f"{key}.{c.path}" if c.path else key, c.old, c.new) for c in field_changes(a, b)]
        pseudo = {"type": OUTPUT_TYPE, "inputs": {}}
        entries.append(Entry(action, f"output:{key}", OUTPUT_TYPE, "(stack outputs)", "output", key,
                             [_masked(pseudo, c) for c in changes]))
    return entries


def diff_dirs(old_dir: pathlib.Path, new_dir: pathlib.Path) -> list[Entry]:
    return compare(load(old_dir), load(new_dir)) + compare_exports(load_exports(old_dir), load_exports(new_dir))


def main(old_dir: pathlib.Path, new_dir: pathlib.Path, markdown: pathlib.Path | None = None) -> int:
    try:
        entries = diff_dirs(old_dir, new_dir)
    except NotARender as e:
        print(str(e), file=sys.stderr)
        return 2
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    print(text_report(entries, str(old_dir), str(new_dir), color=color), end="")
    target = markdown or new_dir / "diff.md"
    target.write_text(markdown_report(entries, str(old_dir), str(new_dir)))
    print(f"wrote {target}")
    sys.stdout.flush()
    return 1 if entries else 0
