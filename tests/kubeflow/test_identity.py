"""Identity: Dex on the organisation's IdP, secrets from Vault, groups consistent with tenancy."""
import yaml

from .conftest import patch_for, patches_for


def dex_config(result) -> dict:
    return yaml.safe_load(patch_for(result, "dex", "ConfigMap", "dex")["data"]["config.yaml"])


def test_prod_dex_has_only_the_organisations_idp(prod):
    config = dex_config(prod)
    (connector,) = config["connectors"]
    assert connector["type"] == "oidc"
    assert connector["config"]["issuer"] == "https://login.example.com/oauth2/ml-prod"
    assert connector["config"]["clientID"] == "kubeflow-ml-prod"
    assert connector["config"]["clientSecret"] == "$UPSTREAM_OIDC_CLIENT_SECRET"  # from the environment, never YAML
    assert connector["config"]["redirectURI"] == "https://kubeflow.ml.example.com/dex/callback"
    assert config["enablePasswordDB"] is False and "staticPasswords" not in config


def test_idp_client_secret_comes_from_vault_through_eso(prod):
    es = prod.find("ExternalSecret", "dex-upstream-idp", "auth")
    assert es["spec"]["data"] == [{"secretKey": "client_secret", "remoteRef": {"key": "platform/identity/oidc-client", "property": "client_secret"}}]
    assert es["spec"]["target"]["template"]["data"] == {"UPSTREAM_OIDC_CLIENT_SECRET": "{{ .client_secret }}"}
    (dex,) = [p for p in patches_for(prod, "dex", "Deployment", "dex")
              if any("envFrom" in c for c in p["spec"]["template"]["spec"]["containers"])]
    env_from = [e["secretRef"]["name"] for e in dex["spec"]["template"]["spec"]["containers"][0]["envFrom"]]
    assert env_from == ["dex-oidc-client", "dex-upstream-idp"]  # upstream's dex-passwords is gone


def test_oauth2_proxy_secrets_are_generated_in_vault_not_upstream_examples(prod):
    es = prod.find("ExternalSecret", "oauth2-proxy", "oauth2-proxy")
    assert {d["remoteRef"]["key"] for d in es["spec"]["data"]} == {"platform/identity/oauth2-proxy"}
    assert set(es["spec"]["target"]["template"]["data"]) == {"client-id", "client-secret", "cookie-secret"}
    kv = next(r for r in prod.resources if r.type == "vault:kv/secretV2:SecretV2" and r.inputs["name"] == "platform/identity/oauth2-proxy")
    assert kv.inputs["dataJson"] == "[secret]"
    deleted = {p["target"].get("name") for p in __import__("tests.kubeflow.conftest", fromlist=["app_patches"]).app_patches(prod, "oauth2-proxy") if "$patch: delete" in p["patch"]}
    assert "oauth2-proxy" in deleted


def test_groups_claim_matches_the_tenants_authorization_policies(prod):
    """Dex republishes the IdP's group claim as `groups`; tenancy matches request.auth.claims[groups]."""
    config = dex_config(prod)
    assert config["connectors"][0]["config"]["claimMapping"] == {"groups": "groups"}
    assert config["connectors"][0]["config"]["insecureEnableGroups"] is True
    policy_keys = {
        w["key"] for o in prod.kubernetes_objects() if o["kind"] == "AuthorizationPolicy"
        for r in o["spec"]["rules"] for w in r.get("when", [])
    }
    assert "request.auth.claims[groups]" in policy_keys
    cfg = patch_for(prod, "oauth2-proxy", "ConfigMap", "oauth2-proxy")["data"]["oauth2_proxy.cfg"]
    assert 'oidc_groups_claim = "groups"' in cfg


def test_only_tenant_and_admin_groups_may_log_in(prod):
    allowed = dex_config(prod)["connectors"][0]["config"]["allowedGroups"]
    assert allowed == sorted(["ml-forecasting", "finance-analysts", "ml-nlp-engineers", "ml-vision-engineers",
                              "ml-vision-analysts", "ml-platform-admins"])
    cfg = patch_for(prod, "oauth2-proxy", "ConfigMap", "oauth2-proxy")["data"]["oauth2_proxy.cfg"]
    assert '"ml-vision-analysts"' in cfg and "cookie_secure = true" in cfg


def test_sandbox_keeps_a_test_connector(sandbox):
    assert [c["type"] for c in dex_config(sandbox)["connectors"]] == ["oidc", "mockCallback"]


def test_prod_refuses_test_connector_and_static_users(issues):
    assert issues("prod", lambda kf: kf["identity"].update(testConnector=True)) == [
        "kubeflow-platform:kubeflow.identity.testConnector: prod logs in through the organisation's IdP only; remove the test connector"
    ]
    assert issues("prod", lambda kf: kf["identity"].update(staticUsers=["admin@example.com"])) == [
        "kubeflow-platform:kubeflow.identity.staticUsers: prod has no static users; people log in through the organisation's IdP"
    ]


def test_sandbox_static_users_get_a_hash_from_vault(issues):
    assert issues("sandbox", lambda kf: kf["identity"].update(staticUsers=["drill@example.com"])) == []


def test_issuer_must_be_https_and_admin_groups_distinct_from_tenant_groups(issues):
    (found,) = issues("prod", lambda kf: kf["identity"].update(issuerUrl="http://login.example.com"))
    assert "must be an https:// URL" in found
    (found,) = issues("prod", lambda kf: kf["identity"].update(adminGroups=["ml-nlp-engineers"]))
    assert found.startswith("kubeflow-platform:kubeflow.identity.adminGroups[0]:")


def _hours(duration: str) -> float:
    value, unit = int(duration[:-1]), duration[-1]
    return value if unit == "h" else value / 60


def test_a_login_session_never_outlives_the_id_token_it_carries(each_stack):
    """oauth2-proxy does not refresh the token: past Dex's ID-token lifetime the gateway refuses it."""
    id_tokens = dex_config(each_stack)["expiry"]["idTokens"]
    cfg = patch_for(each_stack, "oauth2-proxy", "ConfigMap", "oauth2-proxy")["data"]["oauth2_proxy.cfg"]
    (cookie,) = [line.split("=", 1)[1].strip().strip('"') for line in cfg.splitlines() if line.startswith("cookie_expire")]
    assert 'cookie_refresh = "0"' in cfg
    assert _hours(cookie) <= _hours(id_tokens)


def test_a_session_longer_than_the_id_token_is_refused(issues):
    (found,) = issues("prod", lambda kf: kf["identity"].update(cookieExpire="168h"))
    assert found.startswith("kubeflow-platform:kubeflow.identity.cookieExpire: 168h: a login session cannot outlive")
    assert issues("prod", lambda kf: kf["identity"].update(cookieExpire="8h")) == []


def test_dex_restarts_when_its_config_changes(prod):
    """Dex reads its config at start only; a new tenant's groups must reach allowedGroups."""
    import hashlib

    from kfplatform.kubeflow import patches as p
    from kfplatform.kubeflow.identity import DEX_CONFIG_HASH_ANNOTATION, dex_patches

    rendered = patch_for(prod, "dex", "ConfigMap", "dex")["data"]["config.yaml"]
    annotations = [d["spec"]["template"].get("metadata", {}).get("annotations", {})
                   for d in patches_for(prod, "dex", "Deployment", "dex")]
    (value,) = [a[DEX_CONFIG_HASH_ANNOTATION] for a in annotations if DEX_CONFIG_HASH_ANNOTATION in a]
    assert value == hashlib.sha256(rendered.encode()).hexdigest()[:16]

    from kfplatform.kubeflow.config import IdentityConfig

    identity = IdentityConfig(issuer_url="https://login.example.com", client_id="c")

    def hash_for(groups):
        (deployment,) = [p.parse(x) for x in dex_patches(identity, "kf.example.com", "auth", groups)
                         if x["target"]["kind"] == "Deployment"]
        return deployment["spec"]["template"]["metadata"]["annotations"][DEX_CONFIG_HASH_ANNOTATION]

    assert hash_for(["a"]) == hash_for(["a"]) != hash_for(["a", "new-team"])


def test_oauth2_proxy_presents_the_client_dex_knows(each_stack):
    """Dex's static client (id/secret from its env) and oauth2-proxy's client must be the same pair."""
    dex = each_stack.find("ExternalSecret", "dex-oidc-client", "auth")
    proxy = each_stack.find("ExternalSecret", "oauth2-proxy", "oauth2-proxy")
    dex_t, proxy_t = dex["spec"]["target"]["template"]["data"], proxy["spec"]["target"]["template"]["data"]
    assert dex_t["OIDC_CLIENT_ID"] == proxy_t["client-id"]

    def source(es, template_value):
        (var,) = [d for d in es["spec"]["data"] if "{{ ." + d["secretKey"] + " }}" == template_value]
        return var["remoteRef"]

    assert source(dex, dex_t["OIDC_CLIENT_SECRET"]) == source(proxy, proxy_t["client-secret"])


def test_login_never_asks_for_approval(each_stack):
    """oauth2-proxy v7.13.0 sends `approval_prompt=force` unless `prompt` or `approval_prompt` is
    set (pkg/apis/options/legacy_options.go at v7.13.0), which makes Dex show its approval screen
    whatever `skipApprovalScreen` says; upstream's cfg (kubeflow/manifests v1.11.0
    common/oauth2-proxy/base/oauth2_proxy.cfg) sets `prompt = "none"`."""
    import tomllib

    cfg = tomllib.loads(patch_for(each_stack, "oauth2-proxy", "ConfigMap", "oauth2-proxy")["data"]["oauth2_proxy.cfg"])
    assert cfg.get("prompt") == "none"
    assert "approval_prompt" not in cfg
    assert dex_config(each_stack)["oauth2"]["skipApprovalScreen"] is True
