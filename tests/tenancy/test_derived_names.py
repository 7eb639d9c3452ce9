"""Class 7, derived names: object names built from free text are unique for distinct inputs, and a
collision is a configuration error at load time, never the engine's DuplicateResourceError."""
from __future__ import annotations

import re

import pytest
import yaml

from kfplatform.config import ConfigError
from kfplatform.config.checks import CROSS_CHECKS
from kfplatform.render.mocks import DuplicateResourceError
from kfplatform.render.run import render_stack
from kfplatform.tenancy import checks
from kfplatform.tenancy.rbac import binding_name
from tests.config.helpers import errors, load, project_copy, stack_config, tenant

DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@pytest.mark.parametrize("kind, subjects", [
    ("group", ["ml.nlp", "ml-nlp", "ml_nlp", "ML-NLP", "ml--nlp", "ml:nlp", "ml/nlp"]),
    ("user", ["a.b@example.com", "a-b@example.com", "a_b@example.com", "A.B@example.com", "a.b@example-com.io"]),
    ("group", ["x" * 120 + "a", "x" * 120 + "b", "x" * 80]),  # past the readable slug's length
])
def test_subjects_that_slug_alike_get_distinct_names(kind, subjects):
    names = [binding_name(kind, s, "edit") for s in subjects]
    assert len(set(names)) == len(names), names
    for name in names:
        assert len(name) <= 253 and DNS_SUBDOMAIN.fullmatch(name), name


def test_a_user_and_a_group_of_one_spelling_differ():
    assert binding_name("user", "ml@example.com", "view") != binding_name("group", "ml@example.com", "view")


def test_names_are_stable_and_readable():
    name = binding_name("group", "ml-vision-analysts", "view")
    assert name == binding_name("group", "ml-vision-analysts", "view")
    assert re.fullmatch(r"group-ml-vision-analysts-[0-9a-f]{8}-clusterrole-view", name)


def _team(name: str, **changes) -> dict:
    body = tenant("team-forecasting")
    body["name"] = name
    body.update(changes)
    return body


def test_lookalike_groups_and_members_render_side_by_side(tmp_path):
    body = _team(
        "team-forecasting",
        groups=[{"group": "ml.forecasting", "role": "edit"}, {"group": "ml-forecasting", "role": "view"}],
        members=[{"user": "a.b@example.com", "role": "view"}, {"user": "a-b@example.com", "role": "edit"}],
    )
    project = project_copy(tmp_path, tenants={"team-forecasting": body})
    result = render_stack(project, "prod")  # the mock monitor raises DuplicateResourceError on a repeated URN
    bindings = [o for o in result.kubernetes_objects() if o["kind"] == "RoleBinding" and o["metadata"]["namespace"] == "team-forecasting"]
    assert len(bindings) == 4 and len({b["metadata"]["name"] for b in bindings}) == 4


def _colliding(tmp_path):
    """Two teams and an allow-list key whose NetworkPolicies share a Pulumi name:
    team + allow-egress-foo-allow-egress-dns == team-allow-egress-foo + allow-egress-dns."""
    config = stack_config()
    config["kubeflow-platform:network"]["egress"]["fooAllowEgressDns"] = {
        "namespace": "egress-proxy", "ports": [{"port": 3128}]}
    tenants = {"team": _team("team"), "team-allow-egress-foo": _team("team-allow-egress-foo")}
    return config, tenants


def test_a_pulumi_name_collision_is_a_config_error_naming_the_file(tmp_path):
    config, tenants = _colliding(tmp_path)
    issues = errors(tmp_path, config, tenants)
    assert any(i.startswith("tenants/team") and "share the Pulumi resource name 'team-allow-egress-foo-allow-egress-dns'" in i
               for i in issues), issues
    # A neighbouring key loads.
    config["kubeflow-platform:network"]["egress"]["fooEgressProxy"] = config["kubeflow-platform:network"]["egress"].pop("fooAllowEgressDns")
    assert load(tmp_path / "ok", config, tenants)


def test_without_the_check_the_engine_would_refuse_the_program(tmp_path, monkeypatch):
    """The load-time check is what stands between this input and a DuplicateResourceError mid-deploy."""
    config, tenants = _colliding(tmp_path)
    project = project_copy(tmp_path, "prod", config, tenants)
    with pytest.raises(ConfigError):
        render_stack(project, "prod")
    monkeypatch.setattr("kfplatform.config.checks.CROSS_CHECKS",
                        [c for c in CROSS_CHECKS if c is not checks._unique_object_names])
    with pytest.raises(DuplicateResourceError):
        render_stack(project, "prod")


def test_the_check_mirrors_the_components(prod):
    """Every NetworkPolicy, RoleBinding and AuthorizationPolicy of a tenant is one the check predicted."""
    from kfplatform.config import load_platform_config
    from tests.conftest import PROJECT_DIR

    config = load_platform_config("prod", stack_config(), PROJECT_DIR)
    predicted = {n for t in config.tenants for n in checks.tenancy_object_names(t, config.stack)}
    tenants = {t.config.name for t in config.tenants}
    rendered = {
        (o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in prod.kubernetes_objects()
        if o["kind"] in ("NetworkPolicy", "RoleBinding", "AuthorizationPolicy") and o["metadata"].get("namespace") in tenants
        and o["metadata"].get("labels", {}).get("app.kubernetes.io/component") in ("tenant-network", "tenant-rbac", "compliance")
    }
    assert rendered and rendered <= predicted
