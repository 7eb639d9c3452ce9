"""The workloads path: one Application per tenant, own namespace only, serving models never pruned."""

from kfplatform.config.tenant import TenantConfig
from kfplatform.kubeflow.config import ArgoCdConfig, WorkloadsConfig
from kfplatform.kubeflow.gitops import WorkloadsGitOps
from kfplatform.render.run import run_under_mocks


def test_one_application_per_tenant_derived_from_tenants_dir(each_stack):
    appset = each_stack.find("ApplicationSet", "tenant-workloads", "argocd")
    elements = appset["spec"]["generators"][0]["list"]["elements"]
    assert [e["tenant"] for e in elements] == each_stack.exports["tenantNamespaces"]
    template = appset["spec"]["template"]
    assert template["spec"]["destination"]["namespace"] == "{{.tenant}}"
    assert template["spec"]["project"] == "tenant-{{.tenant}}"
    assert appset["spec"]["goTemplateOptions"] == ["missingkey=error"]


def test_every_merge_syncs_with_prune_but_inference_services_are_never_pruned(prod):
    spec = prod.find("ApplicationSet", "tenant-workloads", "argocd")["spec"]
    sync = spec["template"]["spec"]["syncPolicy"]
    assert sync["automated"] == {"prune": True, "selfHeal": True}
    (patch,) = spec["template"]["spec"]["source"]["kustomize"]["patches"]
    assert patch["target"] == {"kind": "InferenceService", "group": "serving.kserve.io"}
    assert "argocd.argoproj.io/sync-options: Prune=false,Delete=false" in patch["patch"]
    # Removing a tenant or an Application never deletes what runs.
    assert spec["syncPolicy"] == {"preserveResourcesOnDeletion": True}
    assert "finalizers" not in spec["template"]["metadata"]


def test_a_tenant_project_reaches_its_own_namespace_only(prod):
    project = prod.find("AppProject", "tenant-team-vision", "argocd")["spec"]
    assert project["destinations"] == [{"server": "https://kubernetes.default.svc", "namespace": "team-vision"}]
    assert project["clusterResourceWhitelist"] == []
    kinds = {(k["group"], k["kind"]) for k in project["namespaceResourceWhitelist"]}
    assert ("serving.kserve.io", "InferenceService") in kinds and ("", "Secret") not in kinds
    assert ("batch", "CronJob") in kinds  # a team's training trigger (docs/workloads.md)
    roles = {r["name"]: r for r in project["roles"]}
    assert roles["edit"]["groups"] == ["ml-vision-engineers"] and roles["view"]["groups"] == ["ml-vision-analysts"]
    assert not any("sync" in p for p in roles["view"]["policies"])


def test_a_new_tenant_file_adds_its_application_and_project():
    tenants = [
        TenantConfig.model_validate({"name": n, "owner": f"{n}@example.com", "groups": [{"group": f"{n}-eng", "role": "edit"}],
                                     "quota": {"requests.cpu": "1", "requests.memory": "1Gi", "limits.memory": "1Gi", "requests.storage": "1Gi"}})
        for n in ("team-a", "team-b")
    ]
    config = WorkloadsConfig(repo_url="https://git.example.com/w.git")
    result = run_under_mocks(lambda: WorkloadsGitOps("gitops", config, ArgoCdConfig(), tenants, {}), "test")
    elements = result.find("ApplicationSet", "tenant-workloads", "argocd")["spec"]["generators"][0]["list"]["elements"]
    assert elements == [{"tenant": "team-a", "path": "tenants/team-a"}, {"tenant": "team-b", "path": "tenants/team-b"}]
    result.find("AppProject", "tenant-team-b", "argocd")


def test_cluster_scoped_or_access_changing_kinds_are_refused(issues):
    (found,) = issues("prod", lambda kf: kf["workloads"].update(allowedKinds=["rbac.authorization.k8s.io/ClusterRole"]))
    assert "cluster-scoped" in found
    (found,) = issues("prod", lambda kf: kf["workloads"].update(allowedKinds=["/Secret"]))
    assert "plain secrets" in found
    (found,) = issues("prod", lambda kf: kf["workloads"].update(pathTemplate="tenants/all"))
    assert "{tenant}" in found
