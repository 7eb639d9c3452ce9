"""SecretsPlane: generated secret material in Vault, delivered by ESO into the namespaces that use it.

Components never hold secret values in YAML. A component that needs a credential asks the plane:
- `generated(path, keys)` makes the values (random, rotated after `rotationDays`), writes them to
  Vault's KV v2 mount at `path` and returns them as Pulumi secrets (for providers that need them,
  e.g. a MinIO user's secret key);
- `deliver(namespace, secret_name, path, keys)` declares an ExternalSecret that materialises a
  Kubernetes Secret from Vault, through the platform's ClusterSecretStore (platform namespaces) or
  the tenant's own namespaced SecretStore (tenant namespaces).
Vault paths: `platform/<area>/<name>` for the platform, `tenants/<team>/<name>` for a team.
"""
from __future__ import annotations

import json
from typing import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_vault as vault
import pulumiverse_time as time

from ..k8s import child, custom_resource, meta
from .config import VAULT_PATH, SecretsConfig

PLATFORM_STORE = "vault-platform"  # ClusterSecretStore, platform namespaces only
TENANT_STORE = "vault-tenant"  # SecretStore in each tenant namespace
TENANT_STORE_SA = "eso-vault"  # the ServiceAccount a tenant's SecretStore logs in to Vault as


def tenant_path(tenant: str, name: str) -> str:
    return f"tenants/{tenant}/{name}"


def platform_path(area: str, name: str) -> str:
    return f"platform/{area}/{name}"


class SecretsPlane(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: SecretsConfig,
        platform_namespaces: Sequence[str],
        eso_service_account: tuple[str, str],
        tenant_namespaces: Mapping[str, k8s.core.v1.Namespace],
        vault_provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`eso_service_account`: (namespace, name) of ESO's controller, which logs in as `platform`."""
        super().__init__("kfplatform:secrets:SecretsPlane", name, None, opts)
        self.config = config
        self.vault_provider = vault_provider
        self.tenant_namespaces = dict(tenant_namespaces)
        self.platform_namespaces = sorted(platform_namespaces)
        self._generated: dict[str, dict[str, pulumi.Output[str]]] = {}
        self._delivered: dict[tuple[str, str], k8s.apiextensions.CustomResource] = {}
        vault_cfg = config.vault

        def vault_spec(role: str, service_account: dict) -> dict:
            spec = {
                "server": vault_cfg.address,
                "path": vault_cfg.kv_mount,
                "version": "v2",
                "auth": {"kubernetes": {"mountPath": vault_cfg.auth_mount, "role": role, "serviceAccountRef": service_account}},
            }
            if vault_cfg.namespace:
                spec["namespace"] = vault_cfg.namespace
            return spec

        self.cluster_store = custom_resource(
            "cluster-secret-store",
            api_version="external-secrets.io/v1",
            kind="ClusterSecretStore",
            metadata=meta(PLATFORM_STORE, component="secrets"),
            spec={
                "provider": {"vault": vault_spec("platform", {"name": eso_service_account[1], "namespace": eso_service_account[0]})},
                # Only platform namespaces may use the platform's store: a tenant's ExternalSecret
                # naming this store is refused by ESO.
                "conditions": [{"namespaces": self.platform_namespaces}],
            },
            opts=child(self),
        )
        self.tenant_stores = {}
        for tenant, namespace in sorted(self.tenant_namespaces.items()):
            sa = k8s.core.v1.ServiceAccount(
                f"{tenant}-eso-sa",
                metadata=meta(TENANT_STORE_SA, tenant, component="secrets"),
                automount_service_account_token=False,
                opts=child(self, depends_on=[namespace]),
            )
            self.tenant_stores[tenant] = custom_resource(
                f"{tenant}-secret-store",
                api_version="external-secrets.io/v1",
                kind="SecretStore",
                metadata=meta(TENANT_STORE, tenant, component="secrets"),
                spec={"provider": {"vault": vault_spec(f"tenant-{tenant}", {"name": TENANT_STORE_SA})}},
                opts=child(self, depends_on=[namespace, sa]),
            )
        self.register_outputs({"platformStore": PLATFORM_STORE, "tenantStore": TENANT_STORE})

    def generated(
        self, path: str, keys: Sequence[str], *, length: int = 32, rotate: bool = True, rotate_days: int | None = None
    ) -> dict[str, pulumi.Output[str]]:
        """Random values for `keys`, kept in Vault at `path`, replaced every `rotationDays` when `rotate`.

        `rotate_days` overrides `rotationDays` for credentials with a policy of their own (e.g. the
        data tier's object-store access keys).
        """
        if not VAULT_PATH.match(path):
            raise ValueError(f"{path!r} is not a Vault path of the platform's layout")
        if path in self._generated:
            if sorted(self._generated[path]) != sorted(keys):
                raise ValueError(f"{path}: generated twice with different keys")
            return self._generated[path]
        slug = path.replace("/", "-")
        keepers = None
        if rotate:
            days = rotate_days if rotate_days is not None else self.config.rotation_days
            rotation = time.Rotating(f"{slug}-rotation", rotation_days=days, opts=child(self))
            keepers = {"rotation": rotation.rotation_rfc3339}
        values = {
            key: random.RandomPassword(
                f"{slug}-{key}", length=length, special=False, keepers=keepers, opts=child(self)
            ).result
            for key in keys
        }
        vault.kv.SecretV2(
            slug,
            mount=self.config.vault.kv_mount,
            name=path,
            data_json=pulumi.Output.secret(pulumi.Output.all(**values).apply(lambda v: json.dumps(v, sort_keys=True))),
            opts=child(self, provider=self.vault_provider),
        )
        self._generated[path] = values
        return values

    def deliver(
        self,
        namespace: str,
        secret_name: str,
        path: str,
        keys: Mapping[str, str],
        *,
        secret_type: str | None = None,
        template_data: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> k8s.apiextensions.CustomResource:
        """An ExternalSecret making Secret `namespace/secret_name` from Vault `path` (`keys`: Secret key -> Vault property).

        A tenant namespace reads through its own SecretStore, and only below `tenants/<team>/`.
        `labels` go on the Secret (e.g. `k8s.mariadb.com/watch`, so an operator sees rotations).
        """
        if (namespace, secret_name) in self._delivered:
            return self._delivered[(namespace, secret_name)]
        tenant = namespace if namespace in self.tenant_namespaces else None
        if tenant is not None and not path.startswith(f"tenants/{tenant}/"):
            raise ValueError(f"{namespace}/{secret_name}: a tenant namespace may only read tenants/{tenant}/..., not {path}")
        if tenant is None and namespace not in self.platform_namespaces:
            raise ValueError(f"{namespace}/{secret_name}: {namespace!r} is neither a platform nor a tenant namespace")
        store = {"kind": "SecretStore", "name": TENANT_STORE} if tenant else {"kind": "ClusterSecretStore", "name": PLATFORM_STORE}
        target: dict = {"name": secret_name, "creationPolicy": "Owner", "deletionPolicy": "Retain"}
        if secret_type or template_data or labels:
            template: dict = {"engineVersion": "v2"}
            if secret_type:
                template["type"] = secret_type
            if labels:
                template["metadata"] = {"labels": dict(labels)}
            if template_data:
                template["data"] = dict(template_data)
            else:
                # A template only for type/labels: keep every key read from Vault as it is.
                template["mergePolicy"] = "Merge"
            target["template"] = template
        deps = [self.tenant_stores[tenant] if tenant else self.cluster_store, *depends_on]
        if tenant:
            deps.append(self.tenant_namespaces[tenant])
        external_secret = custom_resource(
            f"{namespace}-{secret_name}",
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata=meta(secret_name, namespace, component="secrets"),
            spec={
                "refreshInterval": self.config.eso.refresh_interval,
                "secretStoreRef": store,
                "target": target,
                "data": [
                    {"secretKey": key, "remoteRef": {"key": path, "property": prop}}
                    for key, prop in sorted(keys.items())
                ],
            },
            opts=child(self, depends_on=deps),
        )
        self._delivered[(namespace, secret_name)] = external_secret
        return external_secret
