"""Class 4, identities: literal e-mail addresses, one identity per person, no system:* group ever."""
from __future__ import annotations

import pytest

from kfplatform.config.identities import email, idp_group, system_group_problem
from tests.config.helpers import errors, load, stack_config, tenant, with_tenant


@pytest.mark.parametrize("address", [
    "maria.garcia@example.com", "oncall-ml@example.com", "a+tag@sub.example.co.uk", "O'Neil@example.com".replace("'", ""),
    "x_y%z@ex-ample.io", "Li.Wei@Example.COM",
])
def test_literal_addresses_are_accepted(address):
    assert email(address) == address


@pytest.mark.parametrize("address", [
    "*@example.com", "*", "maria*@example.com", "maria@*.example.com", "maria@example.com*", "*maria@example.com",
    "maria@example.com,li@example.com", "maria@example.com li@example.com", " maria@example.com", "maria@example.com\n",
    "maria", "@example.com", "maria@", "maria@example", "maria@@example.com", "maria@exa_mple.com", "ma..ria@example.com",
    ".maria@example.com", "maria.@example.com", '"maria"@example.com', "maria@example.com (Maria)", "Maria <maria@example.com>",
    "maria@-example.com", "maria@example.c0m", "maria@" + "a" * 64 + ".com", "m" * 65 + "@example.com", "maria@example.com.",
])
def test_patterns_lists_and_non_addresses_are_refused(address):
    with pytest.raises(ValueError, match="single literal e-mail address"):
        email(address)


@pytest.mark.parametrize("field", ["owner", "members"])
@pytest.mark.parametrize("bad", ["*@example.com", "maria*", "a@example.com, b@example.com"])
def test_tenant_owner_and_members_are_literal(tmp_path, field, bad):
    value = bad if field == "owner" else [{"user": bad, "role": "view"}]
    issues = errors(tmp_path, tenants=with_tenant(**{field: value}))
    key = "owner" if field == "owner" else "members[0].user"
    assert any(i.startswith(f"tenants/team-vision.yaml: {key}: ") for i in issues), issues


@pytest.mark.parametrize("members, owner, why", [
    (["Oncall-ML@example.com", "oncall-ml@example.com"], None, "are one person"),
    (["ONCALL-ML@EXAMPLE.COM", "oncall-ml@example.com"], None, "are one person"),
    (["Maria.Garcia@example.com"], "maria.garcia@example.com", "is the owner"),
])
def test_addresses_differing_only_in_case_are_one_identity(tmp_path, members, owner, why):
    changes = {"members": [{"user": m, "role": "view"} for m in members]}
    if owner:
        changes["owner"] = owner
    (issue,) = errors(tmp_path, tenants=with_tenant(**changes))
    assert issue.startswith("tenants/team-vision.yaml: members: ") and why in issue


def test_distinct_people_load(tmp_path):
    members = [{"user": "oncall-ml@example.com", "role": "view"}, {"user": "Oncall-ML2@example.com", "role": "edit"}]
    assert load(tmp_path, tenants=with_tenant(members=members))


@pytest.mark.parametrize("group", ["ml-vision", "ML_Vision.Analysts", "org:ml/vision", "a", "cn=ml,ou=x".replace(",", "+")])
def test_group_names_accepted(group):
    assert idp_group(group) == group


@pytest.mark.parametrize("group", ["*", "ml-*", "*-admins", "ml vision", "ml,vision", "ml-vision\n", "", "-ml", "ml:",
                                   "system:masters", "System:Masters", "system:authenticated", "x" * 201])
def test_group_names_refused(group):
    with pytest.raises(ValueError):
        idp_group(group)


@pytest.mark.parametrize("prefix, group, bad", [
    ("oidc:", "masters", False),
    ("system:", "masters", True),
    ("", "system:masters", True),
    ("sys", "tem:masters", True),
    ("SYS", "TEM:masters", True),
    ("s", "ystem:nodes", True),
    ("system", ":masters", True),
    ("sys", "tem-masters", False),
])
def test_prefix_and_group_together_are_never_a_system_group(prefix, group, bad):
    assert (system_group_problem(group, prefix) is not None) is bad


def _stack_with_prefix(prefix: str, stack: str = "prod") -> dict:
    config = stack_config(stack)
    config["kubeflow-platform:tenancy"]["oidcGroupsPrefix"] = prefix
    return config


@pytest.mark.parametrize("prefix, group", [("sys", "tem:masters"), ("s", "ystem:masters"), ("SYS", "TEM:masters")])
def test_a_split_system_group_is_refused_at_the_tenants_group(tmp_path, prefix, group):
    body = tenant()
    body["groups"][0]["group"] = group
    issues = errors(tmp_path / "bad", _stack_with_prefix(prefix), tenants={"team-vision": body})
    assert any(i.startswith("tenants/team-vision.yaml: groups[0].group: ") and "system:masters" in i.lower() for i in issues), issues
    # The same prefix with an ordinary group loads.
    assert load(tmp_path / "good", _stack_with_prefix(prefix))


@pytest.mark.parametrize("prefix", ["system:", "SYSTEM:oidc:", "oidc *", "oidc,"])
def test_prefixes_refused_in_the_stack(tmp_path, prefix):
    (issue,) = errors(tmp_path, _stack_with_prefix(prefix))
    assert issue.startswith("Pulumi.prod.yaml: kubeflow-platform:tenancy.oidcGroupsPrefix: ")


def test_an_empty_prefix_is_refused_in_prod_only(tmp_path):
    (issue,) = errors(tmp_path / "prod", _stack_with_prefix(""))
    assert issue.startswith("Pulumi.prod.yaml: kubeflow-platform:tenancy.oidcGroupsPrefix: prod needs")
    assert load(tmp_path / "sandbox", _stack_with_prefix("", "sandbox"), stack="sandbox")


def test_a_bare_system_group_is_refused_even_with_a_prefix(tmp_path):
    body = tenant()
    body["groups"][0]["group"] = "system:masters"
    (issue,) = errors(tmp_path, tenants={"team-vision": body})
    assert issue.startswith("tenants/team-vision.yaml: groups[0].group: ")


def test_admin_groups_and_user_id_prefix_follow_the_same_rules(tmp_path):
    config = stack_config()
    config["kubeflow-platform:kubeflow"]["identity"]["adminGroups"] = ["ml-*"]
    (issue,) = errors(tmp_path / "a", config)
    assert issue.startswith("Pulumi.prod.yaml: kubeflow-platform:kubeflow.identity.adminGroups[0]: ")
    config = stack_config()
    config["kubeflow-platform:tenancy"]["userIdPrefix"] = "*"
    (issue,) = errors(tmp_path / "b", config)
    assert issue.startswith("Pulumi.prod.yaml: kubeflow-platform:tenancy.userIdPrefix: ")
