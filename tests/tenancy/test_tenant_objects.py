"""What each tenant gets, as rendered from the committed stacks and tenants/."""
import re

from kfplatform.tenancy.rbac import binding_name


def test_every_tenant_gets_namespace_profile_quota_and_limits(each_stack):
    tenants = each_stack.exports["tenantNamespaces"]
    assert tenants == ["team-forecasting", "team-nlp", "team-vision"]
    for name in tenants:
        ns = each_stack.find("Namespace", name)
        assert ns["metadata"]["annotations"]["owner"].endswith("@example.com")
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
        profile = each_stack.find("Profile", name)
        quota = each_stack.find("ResourceQuota", "tenant-quota", name)
        assert profile["spec"]["resourceQuotaSpec"]["hard"] == quota["spec"]["hard"]
        assert profile["spec"]["owner"] == {"kind": "User", "name": ns["metadata"]["annotations"]["owner"]}
        each_stack.find("LimitRange", "tenant-container-limits", name)


def test_group_contributors_are_rolebindings_and_authorization_policies(prod):
    name = binding_name("group", "ml-vision-analysts", "view")
    binding = prod.find("RoleBinding", name, "team-vision")
    assert binding["roleRef"]["name"] == "kubeflow-view"
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "oidc:ml-vision-analysts"}]
    policy = prod.find("AuthorizationPolicy", name, "team-vision")
    assert policy["spec"]["rules"][0]["when"][0] == {"key": "request.auth.claims[groups]", "values": ["ml-vision-analysts"]}


def test_member_contributors_take_the_kfam_form(prod):
    # KFAM's shape (user-<slug>-clusterrole-<role>) with a hash of the exact address in the middle.
    name = binding_name("user", "oncall-ml@example.com", "view")
    assert re.fullmatch(r"user-oncall-ml-example-com-[0-9a-f]{8}-clusterrole-view", name)
    binding = prod.find("RoleBinding", name, "team-vision")
    assert binding["metadata"]["annotations"] == {"role": "view", "user": "oncall-ml@example.com"}
    policy = prod.find("AuthorizationPolicy", name, "team-vision")
    assert policy["spec"]["rules"][0]["when"][0]["key"] == "request.headers[kubeflow-userid]"


def test_tenant_container_limits_override_the_stack_default(prod):
    forecasting = prod.find("LimitRange", "tenant-container-limits", "team-forecasting")["spec"]["limits"][0]
    vision = prod.find("LimitRange", "tenant-container-limits", "team-vision")["spec"]["limits"][0]
    assert forecasting["defaultRequest"] == {"cpu": "250m", "memory": "512Mi"}
    assert vision["defaultRequest"] == {"cpu": "100m", "memory": "256Mi"}


def test_tenant_namespaces_are_protected_in_prod_only(prod, sandbox):
    def protected(result, name):
        return next(r for r in result.resources if r.name == f"{name}-namespace").protect

    assert protected(prod, "team-vision") is True
    assert protected(sandbox, "team-vision") is False


def test_exports_name_each_teams_namespace_and_vault_tree(prod):
    assert prod.exports["vaultTenantPaths"]["team-nlp"] == {"tree": "kfplatform/tenants/team-nlp", "role": "tenant-team-nlp"}
    assert sorted(prod.exports["vaultTenantPaths"]) == prod.exports["tenantNamespaces"]
