"""The posture diagram, drawn from what the render registered (never a hand-kept picture).

`posture.mmd` (Mermaid, which GitLab and GitHub draw) and, when Graphviz's `dot` is installed,
`posture.svg`. Every box and arrow is derived from registered resources:
- boxes: the components directly under the Platform (a box another area adds appears by itself);
  inside them the actors: the components that own workloads (ProxySQL, Galera, MinIO, ...), and the
  Argo CD Applications that other actors talk to;
- data paths: an object that names an in-cluster host `<service>.<namespace>.svc` links its actor to
  the actor that provides that service (a registered Service, Deployment or StatefulSet of that
  name; a MariaDB's `<name>`/`-primary`/`-secondary`/`-internal`; a MinIO Tenant's `minio`; an
  Application `install-<service>` deploying into that namespace);
- ESO -> Vault from the SecretStores' `provider.vault.server`; the runner (`pulumi up`) -> Vault and
  MinIO from the provider resources (`vault:*`, `minio:*`);
- Prometheus -> targets from ServiceMonitors/PodMonitors, rules from PrometheusRules, Alertmanager ->
  receivers from AlertmanagerConfigs (monitoring.coreos.com); Velero -> bucket from
  BackupStorageLocations (velero.io) and Galera -> bucket from MariaDB Backup/PhysicalBackup;
- GitOps: Git repository -> Argo CD per AppProject, the workloads ApplicationSet -> teams;
- teams summarised: how many, and the GPU quota totals of their ResourceQuotas.
"""
from __future__ import annotations

import collections
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Iterable

from .run import RenderResult, RegisteredResource

HOST = re.compile(r"\b([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc\b")
FRIENDLY = {
    "ProxySql": "ProxySQL", "GaleraCluster": "Galera (MariaDB)", "ObjectStore": "MinIO", "ObjectUsers": "MinIO users (mc)",
    "ExternalSecretsOperator": "External Secrets (ESO)", "pipelines": "KFP", "katib": "Katib", "dex": "Dex",
}
APP_PREFIXES = ("kubeflow-", "install-")


def _app_short(name: str) -> str:
    for prefix in APP_PREFIXES:
        name = name.removeprefix(prefix)
    return name
MONITORING = "kubernetes:monitoring.coreos.com/"


@dataclass
class Graph:
    boxes: dict[str, str] = field(default_factory=dict)  # box id -> label
    nodes: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # node id -> (label, box id)
    edges: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (from, to) -> labels

    def node(self, node_id: str, label: str, box: str | None = None) -> str:
        if node_id not in self.nodes:
            self.nodes[node_id] = (label, box)
        return node_id

    def edge(self, src: str, dst: str, label: str = "") -> None:
        if src != dst:
            self.edges.setdefault((src, dst), set()).update({label} if label else set())


def _ident(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _words(type_name: str) -> str:
    return FRIENDLY.get(type_name) or re.sub(r"(?<=[a-z])(?=[A-Z])", " ", type_name)


def _strings(value) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _kind(r: RegisteredResource) -> str:
    return r.type.rsplit(":", 1)[-1]


def _meta(r: RegisteredResource) -> dict:
    return (r.inputs.get("metadata") or {}) if isinstance(r.inputs, dict) else {}


class _Posture:
    def __init__(self, result: RenderResult):
        self.result = result
        self.by_urn = {r.urn: r for r in result.resources}
        self.tenants = set(result.exports.get("tenantNamespaces") or [])
        self.graph = Graph()
        roots = {r.urn for r in result.resources if r.type == "kfplatform:index:Platform"}
        self.top = [r for r in result.resources if r.parent in roots and not r.custom]
        self.top_urns = {r.urn for r in self.top}

    def box_of(self, r: RegisteredResource) -> str | None:
        node = r
        while node is not None and node.urn not in self.top_urns:
            node = self.by_urn.get(node.parent)
        return None if node is None else _box_id(node.type)

    def component_of(self, r: RegisteredResource) -> RegisteredResource | None:
        node = self.by_urn.get(r.parent)
        while node is not None and not node.type.startswith("kfplatform:"):
            node = self.by_urn.get(node.parent)
        return node

    def actor(self, r: RegisteredResource) -> str | None:
        """The node an object belongs to: its Application, the teams, or its owning component."""
        g = self.graph
        if _meta(r).get("namespace") in self.tenants:
            return "teams"
        if _kind(r) == "Application" and r.type.startswith("kubernetes:argoproj.io/"):
            name = _meta(r).get("name") or r.name
            short = _app_short(name)
            return g.node(_ident("app_" + name), f"{FRIENDLY.get(short, short)}<br/>Application {name}", self.box_of(r))
        owner = self.component_of(r)
        if owner is None or owner.type == "kfplatform:index:Platform":
            return None
        type_name = owner.type.rsplit(":", 1)[-1]
        return g.node(_ident(owner.type), _words(type_name), self.box_of(owner))

    def build(self) -> Graph:
        g = self.graph
        for top in self.top:
            g.boxes[_box_id(top.type)] = _words(top.type.rsplit(":", 1)[-1])
        self.teams()
        self.data_paths()
        self.secrets()
        self.monitoring()
        self.backups()
        self.gitops()
        # A box nothing points at still shows: a node for the box itself.
        used = {box for _, box in g.nodes.values()}
        for box_id, label in g.boxes.items():
            if box_id not in used:
                g.node(box_id.removeprefix(BOX_PREFIX) + "_box", label, box_id)
        return g

    def objects(self, kind: str, group: str = "") -> list[RegisteredResource]:
        return [r for r in self.result.resources if r.custom and r.type.startswith("kubernetes:" + group) and _kind(r) == kind]

    def teams(self) -> None:
        if not self.tenants:
            return
        gpus: collections.Counter = collections.Counter()
        for quota in self.objects("ResourceQuota"):
            if _meta(quota).get("namespace") in self.tenants:
                for key, value in ((quota.inputs.get("spec") or {}).get("hard") or {}).items():
                    if key.startswith("requests.nvidia.com/") and str(value).isdigit():
                        gpus[key.removeprefix("requests.nvidia.com/")] += int(value)
        quota = ", ".join(f"{k} {v}" for k, v in sorted(gpus.items()) if v) or "none"
        box = next((self.box_of(q) for q in self.objects("ResourceQuota") if _meta(q).get("namespace") in self.tenants), None)
        self.graph.node("teams", f"{len(self.tenants)} teams<br/>GPU quota: {quota}", box)

    def data_paths(self) -> None:
        providers: dict[tuple[str, str], str] = {}
        for r in self.result.resources:
            meta, kind = _meta(r), _kind(r)
            ns, name = meta.get("namespace"), meta.get("name")
            if not r.custom or not name:
                continue
            names: list[str] = []
            if kind in ("Service", "Deployment", "StatefulSet"):
                names = [name]
            elif kind == "MariaDB":
                names = [name, f"{name}-primary", f"{name}-secondary", f"{name}-internal"]
            elif kind == "Tenant" and r.type.startswith("kubernetes:minio.min.io/"):
                names = ["minio", f"{name}-hl"]
            elif kind == "Application" and r.type.startswith("kubernetes:argoproj.io/"):
                ns = ((r.inputs.get("spec") or {}).get("destination") or {}).get("namespace")
                names = [_app_short(name)]
            owner = self.actor(r) if names else None
            for n in names:
                if ns and owner:
                    providers.setdefault((n, ns), owner)
        for r in self.result.resources:
            if not r.custom or not r.type.startswith("kubernetes:"):
                continue
            consumer = None
            for text in _strings(r.inputs):
                for m in HOST.finditer(text):
                    provider = providers.get((m.group(1), m.group(3)))
                    if provider is None:
                        continue
                    consumer = consumer or self.actor(r)
                    if consumer:
                        self.graph.edge(consumer, provider, m.group(1))

    def secrets(self) -> None:
        servers: collections.Counter = collections.Counter()
        stores = self.objects("ClusterSecretStore", "external-secrets.io/") + self.objects("SecretStore", "external-secrets.io/")
        for store in stores:
            server = (((store.inputs.get("spec") or {}).get("provider") or {}).get("vault") or {}).get("server")
            if server:
                servers[server] += 1
        # ESO is whoever installs its chart; else whoever declares the platform's store.
        installers = [r for r in self.result.resources if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs.get("chart") == "external-secrets"]
        eso = next((self.actor(r) for r in installers + [s for s in stores if _meta(s).get("namespace") not in self.tenants]), None)
        for server, count in sorted(servers.items()):
            vault = self.graph.node("vault_" + _ident(server), f"Vault {server}")
            if eso:
                self.graph.edge(eso, vault, f"{count} secret stores")
        by_provider = collections.Counter(r.type.split(":", 1)[0] for r in self.result.resources
                                          if r.custom and r.type.split(":", 1)[0] in ("vault", "minio"))
        if by_provider:
            runner = self.graph.node("runner", "pulumi up (runner)")
            if by_provider["vault"]:
                target = next(iter(sorted(n for n in self.graph.nodes if n.startswith("vault_"))), None) or self.graph.node("vault", "Vault")
                self.graph.edge(runner, target, f"{by_provider['vault']} Vault resources")
            if by_provider["minio"]:
                minio = next((self.actor(t) for t in self.objects("Tenant", "minio.min.io/")), None) or self.graph.node("minio", "MinIO")
                self.graph.edge(runner, minio, f"{by_provider['minio']} MinIO resources")

    def monitoring(self) -> None:
        g = self.graph
        rules = [r for r in self.result.resources if r.type.startswith(MONITORING) and _kind(r) == "PrometheusRule"]
        monitors = [r for r in self.result.resources if r.type.startswith(MONITORING) and _kind(r) in ("ServiceMonitor", "PodMonitor")]
        configs = [r for r in self.result.resources if r.type.startswith(MONITORING) and _kind(r) in ("AlertmanagerConfig", "Alertmanager")]
        if not (rules or monitors or configs):
            return
        prometheus = g.node("prometheus", "Prometheus")
        for rule in rules:
            count = sum(1 for grp in (rule.inputs.get("spec") or {}).get("groups") or [] for x in grp.get("rules") or [] if "alert" in x)
            source = self.actor(rule)
            if source:
                g.edge(source, prometheus, f"{count} alert rules")
        for monitor in monitors:
            target = self.actor(monitor)
            if target:
                g.edge(prometheus, target, "scrapes")
        if configs:
            alertmanager = g.node("alertmanager", "Alertmanager")
            g.edge(prometheus, alertmanager, "alerts")
            for config in configs:
                for receiver in (config.inputs.get("spec") or {}).get("receivers") or []:
                    kinds = sorted(k.removesuffix("Configs") for k in receiver if k.endswith("Configs"))
                    node = g.node("receiver_" + _ident(receiver.get("name", "")), f"receiver {receiver.get('name')} ({', '.join(kinds) or 'none'})")
                    g.edge(alertmanager, node)

    def _bucket(self, bucket: str) -> str:
        for tenant in self.objects("Tenant", "minio.min.io/"):
            if any(b.get("name") == bucket for b in (tenant.inputs.get("spec") or {}).get("buckets") or []):
                return self.actor(tenant)
        for b in self.result.by_type("minio:index/s3Bucket:S3Bucket"):
            if b.inputs.get("bucket") == bucket:
                return next((self.actor(t) for t in self.objects("Tenant", "minio.min.io/")), None) or self.graph.node("minio", "MinIO")
        return self.graph.node("bucket_" + _ident(bucket), f"bucket {bucket}")

    def backups(self) -> None:
        g = self.graph
        velero = [r for r in self.result.resources if r.type.startswith("kubernetes:velero.io/")]
        if velero:
            schedules = sum(1 for r in velero if _kind(r) == "Schedule")
            node = g.node("velero", f"Velero<br/>{schedules} schedules")
            for location in (r for r in velero if _kind(r) == "BackupStorageLocation"):
                bucket = ((location.inputs.get("spec") or {}).get("objectStorage") or {}).get("bucket")
                if bucket:
                    g.edge(node, self._bucket(bucket), f"backups to {bucket}")
        for backup in self.objects("Backup", "k8s.mariadb.com/") + self.objects("PhysicalBackup", "k8s.mariadb.com/"):
            s3 = ((backup.inputs.get("spec") or {}).get("storage") or {}).get("s3") or {}
            source = self.actor(backup)
            if s3.get("bucket") and source:
                g.edge(source, self._bucket(s3["bucket"]), f"{_kind(backup)} to {s3['bucket']}")

    def gitops(self) -> None:
        g = self.graph
        apps = self.objects("Application", "argoproj.io/")
        sets = self.objects("ApplicationSet", "argoproj.io/")
        if not (apps or sets):
            return
        argocd = g.node("argocd", "Argo CD")
        per_source: collections.Counter = collections.Counter()
        for app in apps:
            spec = app.inputs.get("spec") or {}
            for source in [spec.get("source")] + list(spec.get("sources") or []):
                if source and source.get("repoURL"):
                    per_source[(source["repoURL"], spec.get("project", "default"))] += 1
        for (repo, project), count in sorted(per_source.items()):
            g.edge(g.node("git_" + _ident(repo), f"Git {repo}"), argocd, f"{project}: {count} Applications")
        for appset in sets:
            spec = appset.inputs.get("spec") or {}
            source = ((spec.get("template") or {}).get("spec") or {}).get("source") or {}
            elements = sum(len((gen.get("list") or {}).get("elements") or []) for gen in spec.get("generators") or [])
            name = _meta(appset).get("name") or appset.name
            if source.get("repoURL"):
                g.edge(g.node("git_" + _ident(source["repoURL"]), f"Git {source['repoURL']}"), argocd, f"ApplicationSet {name}")
            if "teams" in g.nodes:
                g.edge(argocd, "teams", f"{name}: {elements} Applications")
        for app in apps:
            node = _ident("app_" + (_meta(app).get("name") or app.name))
            if node in g.nodes and any(node in pair for pair in g.edges if argocd not in pair):
                g.edge(argocd, node, "syncs")
        # Applications that take part in no data path are counted in Argo CD's edges, not drawn.
        for node_id in [n for n in g.nodes if n.startswith("app_") and not any(n in pair for pair in g.edges)]:
            del g.nodes[node_id]


BOX_PREFIX = "box_"


def _box_id(type_token: str) -> str:
    """A subgraph's id: never a node's (a component is both a box and, as an actor, a node; Mermaid
    refuses a node that shares its subgraph's id as a cycle)."""
    return BOX_PREFIX + _ident(type_token)


def posture(result: RenderResult) -> Graph:
    return _Posture(result).build()


def _label(text: str) -> str:
    return text.replace('"', "'")


def mermaid(graph: Graph, title: str) -> str:
    lines = ["---", f"title: {title}", "---", "flowchart LR"]
    by_box: dict[str | None, list[str]] = collections.defaultdict(list)
    for node_id, (label, box) in graph.nodes.items():
        by_box[box].append(f'    {node_id}["{_label(label)}"]')
    for box_id, label in graph.boxes.items():
        if by_box.get(box_id):
            lines.append(f'  subgraph {box_id}["{_label(label)}"]')
            lines += sorted(by_box[box_id])
            lines.append("  end")
    lines += sorted(line[2:] for line in by_box.get(None, []))
    for (src, dst), labels in sorted(graph.edges.items()):
        text = ", ".join(sorted(labels))
        lines.append(f'  {src} -->|"{_label(text)}"| {dst}' if text else f"  {src} --> {dst}")
    return "\n".join(lines) + "\n"


def dot(graph: Graph, title: str) -> str:
    def q(text: str) -> str:
        return json.dumps(text.replace("<br/>", "\n"))

    lines = [f"digraph posture {{", f"  label={q(title)}; labelloc=t; rankdir=LR;",
             '  node [shape=box, style="rounded", fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=10];']
    by_box: dict[str | None, list[str]] = collections.defaultdict(list)
    for node_id, (label, box) in graph.nodes.items():
        by_box[box].append(f"    {node_id} [label={q(label)}];")
    for box_id, label in graph.boxes.items():
        if by_box.get(box_id):
            lines += [f"  subgraph cluster_{box_id} {{", f"    label={q(label)};", *sorted(by_box[box_id]), "  }"]
    lines += sorted(line[2:] for line in by_box.get(None, []))
    for (src, dst), labels in sorted(graph.edges.items()):
        lines.append(f"  {src} -> {dst} [label={q(', '.join(sorted(labels)))}];")
    return "\n".join(lines + ["}"]) + "\n"


def write_posture(result: RenderResult, out) -> list:
    """posture.mmd always; posture.svg when Graphviz's `dot` is installed (else skipped, said once)."""
    graph = posture(result)
    title = f"kubeflow-platform posture: stack {result.stack}"
    written = [out / "posture.mmd"]
    written[0].write_text(mermaid(graph, title))
    dot_bin = shutil.which("dot")
    if dot_bin:
        svg = subprocess.run([dot_bin, "-Tsvg"], input=dot(graph, title), capture_output=True, text=True, timeout=60, check=True).stdout
        (out / "posture.svg").write_text(svg)
        written.append(out / "posture.svg")
    return written
