"""The posture diagram names what the render registered, and nothing it lacks."""
from __future__ import annotations

import collections
import dataclasses
import re
import xml.etree.ElementTree as ET

from kfplatform.render.mocks import RegisteredResource
from kfplatform.render.posture import mermaid, posture, write_posture
from kfplatform.render.run import RenderResult
from tests.conftest import PROJECT_DIR
from tests.tools import require_tool

GALERA, PROXYSQL, MINIO = "kfplatform_data_GaleraCluster", "kfplatform_data_ProxySql", "kfplatform_data_ObjectStore"
KFP, ESO = "app_kubeflow_pipelines", "kfplatform_secrets_ExternalSecretsOperator"


def without(result: RenderResult, drop) -> RenderResult:
    return RenderResult(result.stack, [r for r in result.resources if not drop(r)], result.exports)


def test_the_data_paths_of_the_render(prod):
    g = posture(prod)
    for path in [(KFP, PROXYSQL), (PROXYSQL, GALERA), (KFP, MINIO), ("runner", MINIO)]:
        assert path in g.edges, f"{path} missing from the posture: {sorted(g.edges)}"
    (vault,) = [n for n in g.nodes if n.startswith("vault_")]
    server = prod.by_type("kubernetes:external-secrets.io/v1:ClusterSecretStore")[0].inputs["spec"]["provider"]["vault"]["server"]
    assert g.nodes[vault][0] == f"Vault {server}"
    stores = len(prod.by_type("kubernetes:external-secrets.io/v1:ClusterSecretStore") + prod.by_type("kubernetes:external-secrets.io/v1:SecretStore"))
    assert g.edges[(ESO, vault)] == {f"{stores} secret stores"}


def test_every_component_under_the_platform_is_a_box(each_stack):
    roots = {r.urn for r in each_stack.resources if r.type == "kfplatform:index:Platform"}
    top = {r.type for r in each_stack.resources if r.parent in roots and not r.custom}
    g = posture(each_stack)
    assert set(g.boxes) == {"box_" + re.sub(r"[^A-Za-z0-9]+", "_", t) for t in top}
    text = mermaid(g, "t")
    assert all(f"subgraph {box}[" in text for box in g.boxes)
    # Mermaid refuses a node whose id is its own subgraph's (a cycle): boxes and nodes never share ids.
    assert not set(g.boxes) & set(g.nodes), sorted(set(g.boxes) & set(g.nodes))


def test_teams_are_summarised_from_their_quotas(prod):
    tenants = set(prod.exports["tenantNamespaces"])
    totals = collections.Counter()
    for quota in prod.by_type("kubernetes:core/v1:ResourceQuota"):
        if quota.inputs["metadata"]["namespace"] in tenants:
            for key, value in quota.inputs["spec"]["hard"].items():
                if key.startswith("requests.nvidia.com/") and int(value):
                    totals[key.split("/", 1)[1]] += int(value)
    label = posture(prod).nodes["teams"][0]
    assert label.startswith(f"{len(tenants)} teams<br/>GPU quota: ")
    assert label.endswith(", ".join(f"{k} {v}" for k, v in sorted(totals.items())))


def test_what_the_render_lacks_is_not_drawn(prod):
    g = posture(without(prod, lambda r: r.type.endswith(":MariaDB")))
    assert GALERA not in g.nodes and (PROXYSQL, GALERA) not in g.edges
    g = posture(without(prod, lambda r: "SecretStore" in r.type or r.type.startswith("vault:")))
    assert not any(n.startswith("vault") for n in g.nodes)
    g = posture(without(prod, lambda r: r.type.startswith("kubernetes:velero.io/")))
    assert "velero" not in g.nodes
    g = posture(without(prod, lambda r: r.type.endswith(":AlertmanagerConfig")))
    assert "alertmanager" not in g.nodes and not any(n.startswith("receiver_") for n in g.nodes)
    g = posture(without(prod, lambda r: r.type.startswith("kubernetes:monitoring.coreos.com/")))
    assert "prometheus" not in g.nodes


def test_boxes_other_areas_add_appear_from_their_objects(prod):
    """The backup and observability areas' boxes and paths, drawn from their objects alone."""
    g = posture(prod)
    assert "box_kfplatform_backup_Backups" in g.boxes and "box_kfplatform_observability_Observability" in g.boxes
    schedules = len(prod.by_type("kubernetes:velero.io/v1:Schedule"))
    assert schedules and g.nodes["velero"][0] == f"Velero<br/>{schedules} schedules"
    assert "backups to kfp-backups" in g.edges[("velero", MINIO)], "the bucket is the MinIO Tenant's"
    assert ("prometheus", "alertmanager") in g.edges
    receivers = {rcv["name"] for r in prod.by_type("kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig")
                 for rcv in r.inputs["spec"].get("receivers", [])}
    assert receivers and {n for n in g.nodes if n.startswith("receiver_")} == {
        "receiver_" + re.sub(r"[^A-Za-z0-9]+", "_", name) for name in receivers}


def test_the_readme_shows_no_box_or_path_the_render_lacks(prod):
    readme = (PROJECT_DIR / "README.md").read_text()
    block = re.search(r"```mermaid\n(.*?)```", readme, re.S)
    assert block, "README embeds the posture diagram (build/prod/posture.mmd)"
    drawn = mermaid(posture(prod), "t").splitlines()
    lines = [line for line in block.group(1).splitlines() if "-->" in line or re.match(r"\s+\w+\[", line)]
    missing = [line for line in lines if line not in drawn]
    assert lines and not missing, (
        "README's diagram shows what the prod render does not; refresh it from build/prod/posture.mmd "
        f"(python -m kfplatform render --stack prod): {missing}")


def test_svg_written_with_graphviz(sandbox, tmp_path):
    require_tool("dot")
    written = write_posture(sandbox, tmp_path)
    assert [p.name for p in written] == ["posture.mmd", "posture.svg"]
    svg = ET.parse(tmp_path / "posture.svg").getroot()
    texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "ProxySQL" in texts and "Galera (MariaDB)" in texts
