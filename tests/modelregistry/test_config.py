"""`modelRegistry` in a tenant file: bad values fail naming the file and the key; their neighbours pass."""
from __future__ import annotations

import pathlib
import shutil

import pytest
import yaml

from kfplatform.config import ConfigError, load_platform_config
from kfplatform.modelregistry.config import MAX_TEAM_NAME, database_accounts
from tests.conftest import PROJECT_DIR
from tests.config.helpers import stack_config

TENANTS = PROJECT_DIR / "tenants"


def load(tmp_path: pathlib.Path, tenants: dict[str, dict | None] | None = None, config: dict | None = None):
    """The committed prod stack with tenant files changed (None deletes one); issues as `file: key: message`."""
    tenants_dir = tmp_path / "tenants"
    shutil.copytree(TENANTS, tenants_dir)
    for name, body in (tenants or {}).items():
        if body is None:
            (tenants_dir / f"{name}.yaml").unlink()
        else:
            (tenants_dir / f"{name}.yaml").write_text(yaml.safe_dump(body))
    try:
        return load_platform_config("prod", config or stack_config(), PROJECT_DIR, tenants_dir), []
    except ConfigError as e:
        return None, [str(i).replace(f"{tmp_path}/", "") for i in e.issues]  # as they read in the project


def vision(**changes) -> dict:
    body = yaml.safe_load((TENANTS / "team-vision.yaml").read_text())
    body.update(changes)
    return body


@pytest.mark.parametrize("value", ["yes", "true", "on", 1, 0, "", None, [True], {"enabled": True}])
def test_anything_but_a_yaml_boolean_is_refused_naming_the_file_and_key(tmp_path, value):
    _, issues = load(tmp_path, {"team-vision": vision(modelRegistry=value)})
    assert len(issues) == 1, issues
    assert issues[0].startswith("tenants/team-vision.yaml: modelRegistry: "), issues


@pytest.mark.parametrize("value,expected", [(True, ["team-nlp", "team-vision"]), (False, ["team-nlp"])])
def test_a_boolean_opts_in_or_out(tmp_path, value, expected):
    config, issues = load(tmp_path, {"team-vision": vision(modelRegistry=value)})
    assert issues == []
    assert [a.consumer_namespace for a in database_accounts(config.tenants)] == expected


def test_off_by_default_and_only_team_nlp_opts_in():
    config = load_platform_config("prod", stack_config(), PROJECT_DIR)
    assert [(t.config.name, t.config.model_registry) for t in config.tenants] == [
        ("team-forecasting", False), ("team-nlp", True), ("team-vision", False),
    ]


def long_team(length: int, registry: bool) -> tuple[str, dict]:
    name = "team-" + "a" * (length - 5)
    return name, vision(name=name, modelRegistry=registry)


def test_a_team_name_too_long_for_its_database_and_proxysql_volume_is_refused(tmp_path):
    name, body = long_team(MAX_TEAM_NAME + 1, True)
    _, issues = load(tmp_path, {"team-vision": None, name: body})
    assert len(issues) == 1 and issues[0].startswith(f"tenants/{name}.yaml: modelRegistry: team name"), issues


@pytest.mark.parametrize("length,registry", [(MAX_TEAM_NAME, True), (MAX_TEAM_NAME + 1, False), (63, False)])
def test_its_neighbours_pass(tmp_path, length, registry):
    name, body = long_team(length, registry)
    _, issues = load(tmp_path, {"team-vision": None, name: body})
    assert issues == []


def test_the_longest_allowed_name_fits_a_dns_label_volume_and_a_database_name():
    from kfplatform.modelregistry.config import PREFIX, database_name

    name = "t" * MAX_TEAM_NAME
    assert len("secret-" + PREFIX + name) == 63 and len(database_name(name)) <= 64


@pytest.mark.parametrize("maximum,key", [
    ({"cpu": "500m", "memory": "2Gi"}, "containerLimits.max"),  # the server's cpu limit is 1
    ({"cpu": "2", "memory": "256Mi"}, "containerLimits.max"),  # and its memory limit 512Mi
])
def test_a_limit_range_the_server_cannot_fit_in_is_refused(tmp_path, maximum, key):
    limits = {"defaultRequest": {"cpu": "100m", "memory": "128Mi"}, "default": {"cpu": "500m", "memory": "256Mi"}, "max": maximum}
    _, issues = load(tmp_path, {"team-vision": vision(modelRegistry=True, containerLimits=limits)})
    assert len(issues) == 1 and issues[0].startswith(f"tenants/team-vision.yaml: {key}: the Model Registry server needs"), issues
    # The same LimitRange without the registry is fine, and a max the server fits is fine with it.
    assert load(tmp_path / "off", {"team-vision": vision(modelRegistry=False, containerLimits=limits)})[1] == []
    fits = {**limits, "max": {"cpu": "1", "memory": "512Mi"}}
    assert load(tmp_path / "fits", {"team-vision": vision(modelRegistry=True, containerLimits=fits)})[1] == []


def test_a_stack_limit_range_the_server_cannot_fit_in_names_the_tenant_key(tmp_path):
    config = stack_config()
    config["kubeflow-platform:tenancy"]["containerLimits"] = {
        "defaultRequest": {"cpu": "100m", "memory": "256Mi"}, "default": {"cpu": "500m", "memory": "2Gi"},
        "max": {"cpu": "500m", "memory": "64Gi"}}
    _, issues = load(tmp_path, config=config)
    assert issues == [
        "tenants/team-nlp.yaml: modelRegistry: the Model Registry server needs "
        "{'requests': {'cpu': '100m', 'memory': '128Mi'}, 'limits': {'cpu': '1', 'memory': '512Mi'}} and the team's "
        "LimitRange max is {'cpu': '500m', 'memory': '64Gi'} (cpu 1 > 500m); raise the max or leave modelRegistry off"
    ]


def test_another_kubeflow_release_needs_the_model_registry_facts_rechecked(tmp_path):
    config = stack_config()
    config["kubeflow-platform:kubeflow"]["release"]["tag"] = "v1.12.0"
    _, issues = load(tmp_path, config=config)
    assert len(issues) == 1 and issues[0].startswith("Pulumi.prod.yaml: kubeflow-platform:kubeflow.release.tag: the Model Registry"), issues
    # Without a team that opted in, another release is not this area's business.
    nlp = yaml.safe_load((TENANTS / "team-nlp.yaml").read_text())
    nlp["modelRegistry"] = False
    assert load(tmp_path / "off", {"team-nlp": nlp}, config=config)[1] == []


def test_every_teams_account_has_the_recorded_reason_for_its_static_password():
    from kfplatform.secrets.database import STATIC_BECAUSE, static_credentials_reason

    assert static_credentials_reason(database_name_of("team-nlp")) == STATIC_BECAUSE["model-registry-<team>"]
    assert "reads it once, at start" in STATIC_BECAUSE["model-registry-<team>"]
    with pytest.raises(ValueError):
        static_credentials_reason("model-registry-")  # the prefix alone is nobody's account


def database_name_of(team: str) -> str:
    from kfplatform.modelregistry.config import database_account

    return database_account(team).user


@pytest.mark.parametrize("teams, refused", [(2, False), (3, True)])
def test_registries_may_take_at_most_half_of_proxysqls_backend_pool(tmp_path, teams, refused):
    """20 connections per registry per ProxySQL replica: with a pool of 100, two registries (40) leave
    KFP, ML Metadata and Katib their half, three (60) would not."""
    config = stack_config()
    config["kubeflow-platform:data"]["proxysql"]["maxBackendConnections"] = 100
    changes = {"team-vision": vision(modelRegistry=True)}
    if teams == 3:
        forecasting = yaml.safe_load((TENANTS / "team-forecasting.yaml").read_text())
        changes["team-forecasting"] = {**forecasting, "modelRegistry": True}
    _, issues = load(tmp_path, changes, config=config)
    pool = [i for i in issues if "maxBackendConnections" in i]
    assert pool == issues and bool(pool) == refused, issues
    if refused:
        assert pool[0].startswith("Pulumi.prod.yaml: kubeflow-platform:data.proxysql.maxBackendConnections: 3 teams")
        assert "at least 120" in pool[0]
