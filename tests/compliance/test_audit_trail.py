"""The audit trail: the API server's audit Policy, the shippers' per-tenant routing, the bucket's
retention, Argo CD's second trail. Routing conditions are evaluated (helpers.vrl_condition), not
only read; the tenants include prefix-sharing names, where a pattern match would leak."""
from __future__ import annotations

import fnmatch
import json
import re

import pytest
import yaml

from kfplatform.compliance import argocd, shipper
from kfplatform.compliance.audit_policy import audit_policy
from kfplatform.compliance.component import audit_writer_policy, sink_authorization

from .helpers import routed, vrl_condition

TENANTS = ["team-a", "team-ab", "team-nlp", "a-team"]
DEST = shipper.Destinations("kfp-audit", "https://minio.kubeflow-minio.svc.cluster.local:443", "https://index:9200", "v8")


# -- the API server's audit Policy ------------------------------------------------------------

RULE_KEYS = {"level", "users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs", "omitStages",
             "omitManagedFields"}
LEVELS = {"None", "Metadata", "Request", "RequestResponse"}


def level_for(policy: dict, *, user: str = "alice@example.com", groups=("oidc:ml-nlp",), verb: str, group: str = "",
              resource: str = "", namespace: str = "", path: str = "") -> str:
    """The audit level of a request: Kubernetes' first-matching-rule semantics
    (k8s.io/apiserver/pkg/audit/policy/checker.go ruleMatches)."""
    for rule in policy["rules"]:
        if "users" in rule and user not in rule["users"]:
            continue
        if "userGroups" in rule and not set(groups) & set(rule["userGroups"]):
            continue
        if "verbs" in rule and verb not in rule["verbs"]:
            continue
        if path:
            if "resources" in rule or "namespaces" in rule:
                continue
            if "nonResourceURLs" in rule and not any(
                path == u or (u.endswith("*") and path.startswith(u[:-1])) for u in rule["nonResourceURLs"]
            ):
                continue
        else:
            if "nonResourceURLs" in rule:
                continue
            if "namespaces" in rule and namespace not in rule["namespaces"]:
                continue
            if "resources" in rule and not any(
                r.get("group", "") == group and (not r.get("resources") or resource in r["resources"]) for r in rule["resources"]
            ):
                continue
        return rule["level"]
    return "None"


@pytest.fixture(scope="module")
def policy() -> dict:
    return audit_policy(["kubeflow", "kubeflow-minio", "logging"])


def test_the_audit_policy_is_well_formed(policy):
    assert policy["apiVersion"] == "audit.k8s.io/v1" and policy["kind"] == "Policy"
    for rule in policy["rules"]:
        assert set(rule) <= RULE_KEYS and rule["level"] in LEVELS


@pytest.mark.parametrize("request_, level", [
    (dict(verb="create", group="serving.kserve.io", resource="inferenceservices", namespace="team-nlp"), "RequestResponse"),
    (dict(verb="patch", group="serving.kserve.io", resource="inferenceservices", namespace="team-nlp"), "RequestResponse"),
    (dict(verb="delete", group="serving.kserve.io", resource="inferenceservices", namespace="team-nlp"), "RequestResponse"),
    (dict(verb="get", group="serving.kserve.io", resource="inferenceservices", namespace="team-nlp"), "Metadata"),
    (dict(verb="create", resource="pods", namespace="team-nlp"), "Metadata"),
    (dict(verb="create", group="argoproj.io", resource="workflows", namespace="team-nlp"), "Metadata"),
    (dict(verb="get", resource="secrets", namespace="team-nlp"), "Metadata"),
    (dict(verb="update", resource="secrets", namespace="team-nlp"), "Metadata"),
    (dict(verb="watch", resource="pods", namespace="team-nlp"), "None"),
    (dict(verb="update", group="coordination.k8s.io", resource="leases", namespace="kube-system"), "None"),
    (dict(verb="create", resource="events", namespace="team-nlp"), "None"),
    (dict(verb="get", path="/healthz"), "None"),
    (dict(verb="get", path="/readyz/etcd"), "None"),
    (dict(verb="list", resource="pods", namespace="team-nlp", user="system:serviceaccount:kubeflow:ml-pipeline",
          groups=("system:serviceaccounts", "system:serviceaccounts:kubeflow")), "None"),
    (dict(verb="create", resource="pods", namespace="team-nlp", user="system:serviceaccount:kubeflow:ml-pipeline",
          groups=("system:serviceaccounts", "system:serviceaccounts:kubeflow")), "Metadata"),
])
def test_levels(policy, request_, level):
    assert level_for(policy, **request_) == level


def test_secret_values_never_reach_the_trail(policy):
    # Even a kserve-group rule placed first could not: Secrets are matched before any RequestResponse rule.
    first_rr = next(i for i, r in enumerate(policy["rules"]) if r["level"] == "RequestResponse")
    secrets = next(i for i, r in enumerate(policy["rules"])
                   if any("secrets" in res.get("resources", []) for res in r.get("resources", [])))
    assert secrets < first_rr and policy["rules"][secrets]["level"] == "Metadata"


def test_the_render_writes_the_policy_file_and_configmap(prod, tmp_path):
    from kfplatform.render.output import write_render

    written = {p.name: p for p in write_render(prod, tmp_path)}
    on_disk = yaml.safe_load(written["audit-policy.yaml"].read_text())
    cm = prod.find("ConfigMap", "kfplatform-audit-policy", "kfplatform-audit")
    assert yaml.safe_load(cm["data"]["audit-policy.yaml"]) == on_disk
    assert on_disk["kind"] == "Policy"


# -- routing: per tenant, nothing crosses ------------------------------------------------------

def audit_event(namespace: str | None, resource: str = "inferenceservices", name: str = "x") -> dict:
    ref = {"resource": resource, "name": name, "apiGroup": "serving.kserve.io"}
    if namespace is not None:
        ref["namespace"] = namespace
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "create", "user": {"username": "alice"}, "objectRef": ref}


def test_an_audit_event_reaches_its_tenant_s_prefix_and_index_and_nothing_else():
    pipeline = shipper.audit_pipeline(TENANTS, DEST, "/var/log/kubernetes/audit/audit.log")
    for tenant in TENANTS:
        sinks = routed(pipeline, "audit_by_tenant", audit_event(tenant))
        cid = shipper.component_id(tenant)
        assert sinks == {f"audit_bucket_{cid}", f"audit_index_{cid}"}, tenant
        assert pipeline["sinks"][f"audit_bucket_{cid}"]["key_prefix"].startswith(f"tenants/{tenant}/audit/")
        assert pipeline["sinks"][f"audit_index_{cid}"]["bulk"]["index"] == f"audit-{tenant}"
        # The tenant's own Namespace object is the tenant's too.
        assert routed(pipeline, "audit_by_tenant", audit_event(None, "namespaces", tenant)) == sinks


@pytest.mark.parametrize("event", [
    audit_event("kubeflow"), audit_event("team"), audit_event("team-a-2"), audit_event("TEAM-A"), audit_event(None, "nodes"),
    audit_event(None, "namespaces", "kubeflow"), {"kind": "Event", "requestURI": "/version"}, {"message": "not json"},
])
def test_events_of_no_tenant_go_to_the_platform_only(event):
    pipeline = shipper.audit_pipeline(TENANTS, DEST, "/var/log/kubernetes/audit/audit.log")
    assert routed(pipeline, "audit_by_tenant", event) == {"audit_bucket_platform", "audit_index_platform"}


def test_every_sink_reads_exactly_one_route_and_writes_where_that_route_s_tenant_owns():
    for pipeline, transform in ((shipper.audit_pipeline(TENANTS, DEST, "/var/log/a.log"), "audit_by_tenant"),
                                (shipper.payload_pipeline(TENANTS, DEST), "payloads_by_tenant")):
        for name, sink in pipeline["sinks"].items():
            if sink["type"] == "prometheus_exporter":
                assert sink["inputs"] == ["vector_metrics"]
                continue
            assert len(sink["inputs"]) == 1, name
            (source,) = sink["inputs"]
            assert source.startswith(transform + "."), name
            route = source.split(".", 1)[1]
            by_id = {shipper.component_id(t): t for t in TENANTS}
            owner = "platform" if route == "_unmatched" else by_id[re.sub(r"^(payloads|deploys)_", "", route)]
            where = sink.get("key_prefix") or sink["bulk"]["index"]
            assert where in (f"tenants/{owner}/audit/%Y/%m/%d/", f"tenants/{owner}/deploys/%Y/%m/%d/",
                             f"{owner}/audit/%Y/%m/%d/", f"audit-{owner}", f"payloads-{owner}"), (name, where)


def kserve_post(path: str, namespace: str, body: dict | None = None) -> dict:
    return {"path": path, "ce-namespace": namespace, "ce-type": "org.kubeflow.serving.inference.request",
            "ce-annotations": json.dumps({"kfplatform.io/model-digest": "sha256:" + "4f" * 32}), "payload": body or {}}


def test_payloads_reach_the_tenant_s_index_only_when_path_and_namespace_agree():
    pipeline = shipper.payload_pipeline(TENANTS, DEST)
    for tenant in TENANTS:
        cid = shipper.component_id(tenant)
        assert routed(pipeline, "payloads_by_tenant", kserve_post(f"/{tenant}", tenant)) == {f"payloads_index_{cid}"}
        assert pipeline["sinks"][f"payloads_index_{cid}"]["bulk"]["index"] == f"payloads-{tenant}"
    unmatched = {"payloads_unmatched_platform"}
    assert routed(pipeline, "payloads_by_tenant", kserve_post("/team-a", "team-ab")) == unmatched  # forged header
    assert routed(pipeline, "payloads_by_tenant", kserve_post("/team-ab", "team-a")) == unmatched
    assert routed(pipeline, "payloads_by_tenant", kserve_post("/team-a/", "team-a")) == unmatched
    assert routed(pipeline, "payloads_by_tenant", kserve_post("/", "team-a")) == unmatched


def test_deploy_notifications_are_filed_under_the_application_s_tenant():
    pipeline = shipper.payload_pipeline(TENANTS, DEST)
    note = {"path": "/argocd", "namespace": "team-ab", "application": "team-ab", "revision": "abc"}
    assert routed(pipeline, "payloads_by_tenant", note) == {"deploys_bucket_team_ab", "deploys_index_team_ab"}
    assert pipeline["sinks"]["deploys_bucket_team_ab"]["key_prefix"].startswith("tenants/team-ab/deploys/")
    assert pipeline["sinks"]["deploys_index_team_ab"]["bulk"]["index"] == "audit-team-ab"
    assert routed(pipeline, "payloads_by_tenant", {**note, "path": "/team-ab"}) == {"payloads_unmatched_platform"}


def test_the_routing_subset_evaluator_refuses_what_it_does_not_understand():
    with pytest.raises(ValueError):
        vrl_condition('starts_with(.path, "/team")', {"path": "/team-a"})
    assert vrl_condition('.a == "x" || .b == "y"', {"b": "y"})


def test_the_shippers_write_the_bucket_with_content_md5_and_never_drop():
    for pipeline in (shipper.audit_pipeline(TENANTS, DEST, "/var/log/a.log"), shipper.payload_pipeline(TENANTS, DEST)):
        for sink in pipeline["sinks"].values():
            if sink["type"] == "prometheus_exporter":
                continue
            assert sink["buffer"]["when_full"] == "block"
            if sink["type"] == "aws_s3":
                assert sink["bucket"] == "kfp-audit" and sink["force_path_style"] is True


def test_the_mesh_lets_each_namespace_post_to_its_own_path_only():
    policy = sink_authorization(TENANTS, "argocd", {"app.kubernetes.io/instance": "kfplatform-payloads"})
    assert policy["action"] == "ALLOW"

    def allowed(source_ns: str, path: str) -> bool:
        return any(source_ns in r["from"][0]["source"]["namespaces"]
                   and any(fnmatch.fnmatchcase(path, p) for p in r["to"][0]["operation"]["paths"]) for r in policy["rules"])

    for source in [*TENANTS, "argocd", "kubeflow"]:
        for target in [*TENANTS, "argocd"]:
            path = f"/{target}"
            assert allowed(source, path) == (source == target), (source, path)
    for rule in policy["rules"]:
        assert all("*" not in p for p in rule["to"][0]["operation"]["paths"])


def test_the_rendered_sink_wiring_matches_the_chart_and_the_contract(prod):
    authz = prod.find("AuthorizationPolicy", "kfplatform-payloads", "logging")
    assert prod.find("PeerAuthentication", "kfplatform-payloads", "logging")["spec"]["mtls"]["mode"] == "STRICT"
    releases = {r.inputs["name"]: r.inputs for r in prod.by_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("chart") == "vector"}
    payloads = releases["kfplatform-payloads"]
    # Service name = fullnameOverride (the contract's host); pods labelled instance=<release> (chart selectorLabels).
    assert payloads["values"]["fullnameOverride"] == "kfplatform-payloads" and payloads["namespace"] == "logging"
    assert payloads["values"]["service"]["ports"][0]["port"] == shipper.PAYLOAD_PORT
    assert authz["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/instance": "kfplatform-payloads"}
    sinks = json.loads(json.dumps(prod.exports["compliancePayloadSinks"]))
    assert sinks["team-nlp"] == "http://kfplatform-payloads.logging.svc.cluster.local:8080/team-nlp"
    for tenant in ("team-forecasting", "team-nlp", "team-vision"):
        np = prod.find("NetworkPolicy", "allow-egress-payload-sink", namespace=tenant)
        (rule,) = np["spec"]["egress"]
        assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
        assert rule["to"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/instance": "kfplatform-payloads"}


def test_the_audit_writer_may_only_append():
    doc = json.loads(audit_writer_policy("kfp-audit"))
    actions = {a for s in doc["Statement"] for a in s["Action"]}
    assert actions == {"s3:PutObject", "s3:GetBucketLocation"}


def test_the_worm_bucket_gets_its_compliance_retention(prod):
    job = prod.find("Job", "audit-retention-compliance-2555d", "kubeflow-minio")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["retention", "set", "--default", "compliance", "2555d", "store/kfp-audit"]
    assert container["envFrom"] == [{"secretRef": {"name": "audit-retention-admin"}}]


def test_argocd_notifications_post_inferenceservice_syncs(prod):
    cm = prod.find("ConfigMap", "argocd-notifications-cm", "argocd")
    data = cm["data"]
    (trigger,) = yaml.safe_load(data[f"trigger.{argocd.TRIGGER}"])
    assert "InferenceService" in trigger["when"] and trigger["send"] == [argocd.TEMPLATE]
    body = yaml.safe_load(data[f"template.{argocd.TEMPLATE}"])["webhook"][argocd.SERVICE]["body"]
    # Valid JSON once Go's template engine has filled it in (strings quoted, resources as JSON).
    filled = re.sub(r"\{\{toJson [^}]*\}\}", "[]", body)
    filled = re.sub(r"\{\{[^}]*\}\}", "v", filled)
    assert set(json.loads(filled)) >= {"application", "namespace", "revision", "initiatedBy", "finishedAt", "resources"}
    service = yaml.safe_load(data[f"service.webhook.{argocd.SERVICE}"])
    assert service["url"] == "http://kfplatform-payloads.logging.svc.cluster.local:8080/argocd"
    assert yaml.safe_load(data["subscriptions"])[0]["recipients"] == [argocd.SERVICE]


def test_each_vector_release_gets_the_rendered_config_and_every_variable_it_interpolates(prod):
    releases = {r.inputs["name"]: r.inputs for r in prod.by_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("chart") == "vector"}
    assert set(releases) == {"kfplatform-audit", "kfplatform-payloads"}
    secrets_made = {(es["metadata"]["namespace"], es["spec"]["target"]["name"]) for es in prod.kubernetes_objects()
                    if es.get("kind") == "ExternalSecret"}
    for name, release in releases.items():
        namespace, values = release["namespace"], release["values"]
        assert release["version"] == "0.56.0" and values["existingConfigMaps"] == [name]
        config = yaml.safe_load(prod.find("ConfigMap", name, namespace)["data"]["vector.yaml"])
        assert config["data_dir"] == values["dataDir"]
        wanted = set(re.findall(r"\$\{([A-Z_]+)\}", json.dumps(config)))
        env = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in values["env"]}
        assert wanted and wanted <= set(env), (name, wanted - set(env))
        for secret in set(env.values()):
            assert (namespace, secret) in secrets_made, (namespace, secret)
    audit = releases["kfplatform-audit"]["values"]
    assert audit["role"] == "Agent" and audit["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    assert audit["defaultVolumeMounts"] == [{"name": "audit-log", "mountPath": "/var/log/kubernetes/audit", "readOnly": True}]
