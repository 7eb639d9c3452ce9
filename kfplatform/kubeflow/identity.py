"""Identity: Dex brokers the organisation's IdP; oauth2-proxy checks every request at the gateway.

Login path: browser -> Istio ingress gateway -> ext-authz oauth2-proxy -> Dex -> the organisation's
IdP (OIDC). Dex issues the ID token whose `groups` claim the tenants' AuthorizationPolicies match
(`request.auth.claims[groups]`, kfplatform/tenancy/rbac.py); the IdP's own group claim is mapped
onto it by the connector. Only members of a tenant group or an admin group may log in.

Secrets (all from Vault through ESO, none in YAML):
- the IdP client secret: `platform/identity/oidc-client`, property `client_secret` (put there by
  the IdP team);
- oauth2-proxy's client secret at Dex and its cookie secret: generated at
  `platform/identity/oauth2-proxy`. They are read from the environment at start, so they are not
  rotated automatically (a rotation is a planned restart, docs/identity.md).
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import pulumi
import yaml

from . import patches
from .config import DEX_ID_TOKEN_HOURS, IdentityConfig
from ..secrets.vault_layout import DEX_STATIC_USERS, IDP_CLIENT, OAUTH2_PROXY, platform_home
from .release import DEX_CONFIGMAP, OAUTH2_PROXY_CONFIGMAP

IDP_CLIENT_VAULT_PATH = platform_home(IDP_CLIENT)
OAUTH2_PROXY_VAULT_PATH = platform_home(OAUTH2_PROXY)
STATIC_USERS_VAULT_PATH = platform_home(DEX_STATIC_USERS)
DEX_INTERNAL = "http://dex.{auth}.svc.cluster.local:5556/dex"
OAUTH2_PROXY_CLIENT_ID = "kubeflow-oauth2-proxy"
GROUPS_CLAIM = "groups"  # the claim Dex puts groups in; tenancy's AuthorizationPolicies read it
CONNECTOR_SECRET_ENV = "UPSTREAM_OIDC_CLIENT_SECRET"
STATIC_HASH_ENV = "DEX_STATIC_PASSWORD_HASH"
# Secret names the upstream Dex and oauth2-proxy Deployments read (kept, so their specs stay upstream's).
DEX_CLIENT_SECRET = "dex-oidc-client"
DEX_PASSWORDS_SECRET = "dex-passwords"
DEX_IDP_SECRET = "dex-upstream-idp"
OAUTH2_PROXY_SECRET = "oauth2-proxy"
DEX_CONFIG_HASH_ANNOTATION = "kfplatform.io/dex-config-hash"


def dex_issuer(auth_namespace: str) -> str:
    """Dex's issuer stays upstream's in-cluster URL: the gateway's RequestAuthentication expects it."""
    return DEX_INTERNAL.format(auth=auth_namespace)


def allowed_groups(config: IdentityConfig, tenant_groups: Sequence[str]) -> list[str]:
    return sorted(set(tenant_groups) | set(config.admin_groups))


def dex_config(config: IdentityConfig, domain: str, auth_namespace: str, groups: Sequence[str]) -> dict:
    connectors = [
        {
            "type": "oidc",
            "id": "organisation",
            "name": config.connector_name,
            "config": {
                "issuer": config.issuer_url,
                "clientID": config.client_id,
                # Dex expands environment variables in connector configs; the value comes from Vault.
                "clientSecret": f"${CONNECTOR_SECRET_ENV}",
                "redirectURI": f"https://{domain}/dex/callback",
                "scopes": list(config.scopes),
                "insecureEnableGroups": True,
                "getUserInfo": True,
                "userNameKey": "email",
                "claimMapping": {"groups": config.groups_claim},
                "allowedGroups": list(groups),
            },
        }
    ]
    if config.test_connector:
        connectors.append({"type": "mockCallback", "id": "sandbox-test", "name": "Sandbox test login"})
    out: dict = {
        "issuer": dex_issuer(auth_namespace),
        "storage": {"type": "kubernetes", "config": {"inCluster": True}},
        "web": {"http": "0.0.0.0:5556"},
        "logger": {"level": "info", "format": "json"},
        "oauth2": {"skipApprovalScreen": True},
        # Explicit, not Dex's default: oauth2-proxy's cookie_expire is validated against it.
        "expiry": {"idTokens": f"{DEX_ID_TOKEN_HOURS}h"},
        "enablePasswordDB": bool(config.static_users),
        "staticClients": [
            {
                "idEnv": "OIDC_CLIENT_ID",
                "secretEnv": "OIDC_CLIENT_SECRET",
                "name": "Kubeflow",
                "redirectURIs": ["/oauth2/callback", f"https://{domain}/oauth2/callback"],
            }
        ],
        "connectors": connectors,
    }
    if config.static_users:
        out["staticPasswords"] = [
            {
                "email": user,
                "username": user.split("@")[0],
                "userID": hashlib.sha256(user.encode()).hexdigest()[:24],
                "hashFromEnv": STATIC_HASH_ENV,
            }
            for user in config.static_users
        ]
    return out


def _toml_list(values: Sequence[str]) -> str:
    return "[ " + ", ".join(f'"{v}"' for v in values) + " ]"


def oauth2_proxy_cfg(config: IdentityConfig, domain: str, auth_namespace: str, groups: Sequence[str]) -> str:
    issuer = dex_issuer(auth_namespace)
    lines = [
        'provider = "oidc"',
        f'oidc_issuer_url = "{issuer}"',
        "skip_oidc_discovery = true",
        'login_url = "/dex/auth"',
        f'redeem_url = "{issuer}/token"',
        f'oidc_jwks_url = "{issuer}/keys"',
        f'oidc_groups_claim = "{GROUPS_CLAIM}"',
        'scope = "openid profile email groups offline_access"',
        'email_domains = [ "*" ]',
        f"allowed_groups = {_toml_list(groups)}",
        'upstreams = [ "static://200" ]',
        'skip_auth_routes = [ "^/dex/" ]',
        'api_routes = [ "/api/", "/apis/", "^/ml_metadata" ]',
        "skip_provider_button = true",
        "set_authorization_header = true",
        "set_xauthrequest = true",
        'cookie_name = "oauth2_proxy_kubeflow"',
        "cookie_secure = true",
        f'cookie_expire = "{config.cookie_expire}"',
        'cookie_refresh = "0"',
        'code_challenge_method = "S256"',
        # Upstream's (common/oauth2-proxy/base/oauth2_proxy.cfg at kubeflow/manifests v1.11.0). Without
        # it oauth2-proxy v7.13.0 sends `approval_prompt=force` (pkg/apis/options/legacy_options.go:
        # "if neither prompt nor approval_prompt specified, use approval_prompt=force"), and Dex then
        # shows its approval screen despite `skipApprovalScreen` (dexidp/dex#3086).
        'prompt = "none"',
        f'redirect_url = "https://{domain}/oauth2/callback"',
    ]
    return "\n".join(lines) + "\n"


def dex_patches(config: IdentityConfig, domain: str, auth_namespace: str, groups: Sequence[str]) -> list[dict]:
    env_from = [{"secretRef": {"name": DEX_CLIENT_SECRET}}, {"secretRef": {"name": DEX_IDP_SECRET}}]
    if config.static_users:
        env_from.append({"secretRef": {"name": DEX_PASSWORDS_SECRET}})
    rendered = yaml.safe_dump(dex_config(config, domain, auth_namespace, groups), sort_keys=False, width=1000)
    # Dex reads its config once, at start, from a plain (not generated) ConfigMap: the hash on the
    # pod template rolls Dex whenever the config changes, e.g. a new tenant's groups in allowedGroups.
    config_hash = hashlib.sha256(rendered.encode()).hexdigest()[:16]
    return [
        patches.configmap_data(DEX_CONFIGMAP, {"config.yaml": rendered}),
        patches.deployment(
            "dex",
            template_spec={"containers": [patches.container("dex", envFrom=env_from)]},
            template_annotations={DEX_CONFIG_HASH_ANNOTATION: config_hash},
        ),
        *[patches.delete("Secret", name=name) for name in (DEX_CLIENT_SECRET, DEX_PASSWORDS_SECRET)],
    ]


def oauth2_proxy_patches(config: IdentityConfig, domain: str, auth_namespace: str, groups: Sequence[str]) -> list[dict]:
    return [
        patches.configmap_data(OAUTH2_PROXY_CONFIGMAP, {"oauth2_proxy.cfg": oauth2_proxy_cfg(config, domain, auth_namespace, groups)}),
        patches.configmap_data("oauth2-proxy-parameters", {"FORCE_HTTPS": "true", "ALLOW_SELF_SIGNED_ISSUER": "false"}),
        patches.delete("Secret", name=OAUTH2_PROXY_SECRET),
    ]


class Identity(pulumi.ComponentResource):
    """The identity tier's Secrets, delivered from Vault into the `auth` and `oauth2-proxy` namespaces."""

    def __init__(
        self,
        name: str,
        config: IdentityConfig,
        secrets,  # kfplatform.secrets.plane.SecretsPlane
        auth_namespace: str,
        oauth2_proxy_namespace: str,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:kubeflow:Identity", name, None, opts)
        # The plane's resources are its own children; this component orders them for the install.
        secrets.generated(OAUTH2_PROXY_VAULT_PATH, list(OAUTH2_PROXY.keys), rotate=False)
        self.external_secrets = [
            secrets.deliver(
                auth_namespace, DEX_IDP_SECRET, IDP_CLIENT_VAULT_PATH, {"client_secret": "client_secret"},
                template_data={CONNECTOR_SECRET_ENV: "{{ .client_secret }}"},
            ),
            secrets.deliver(
                auth_namespace, DEX_CLIENT_SECRET, OAUTH2_PROXY_VAULT_PATH, {"client_secret": "client_secret"},
                template_data={"OIDC_CLIENT_ID": OAUTH2_PROXY_CLIENT_ID, "OIDC_CLIENT_SECRET": "{{ .client_secret }}"},
            ),
            secrets.deliver(
                oauth2_proxy_namespace, OAUTH2_PROXY_SECRET, OAUTH2_PROXY_VAULT_PATH,
                {"client_secret": "client_secret", "cookie_secret": "cookie_secret"},
                template_data={
                    "client-id": OAUTH2_PROXY_CLIENT_ID,
                    "client-secret": "{{ .client_secret }}",
                    "cookie-secret": "{{ .cookie_secret }}",
                },
            ),
        ]
        if config.static_users:
            self.external_secrets.append(
                secrets.deliver(
                    auth_namespace, DEX_PASSWORDS_SECRET, STATIC_USERS_VAULT_PATH, {"password_hash": "password_hash"},
                    template_data={STATIC_HASH_ENV: "{{ .password_hash }}"},
                )
            )
        self.register_outputs({"dexIssuer": dex_issuer(auth_namespace), "connector": config.issuer_url})
