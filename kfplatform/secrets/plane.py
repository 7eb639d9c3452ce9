"""SecretsPlane: generated secret material in Vault, delivered by ESO into the namespaces that use it.

Components never hold secret values in YAML. A component that needs a credential asks the plane:
- `generated(path, keys)` makes the values (random, rotated after `rotationDays`), writes them to
  Vault's KV v2 mount at `path` and returns them as Pulumi secrets (for resources that need them);
- `deliver(namespace, secret_name, path, keys)` declares an ExternalSecret that materialises a
  Kubernetes Secret from Vault, through the platform's ClusterSecretStore (platform namespaces) or
  the tenant's own namespaced SecretStore (tenant namespaces).
Rotation: a rotated generated path has a marker (`rotation_marker`, its `Rotating`'s due date) that
changes exactly when its values are regenerated. The Rotating is replaced on the first `pulumi up`
of a new rotation period, which the program computes from the clock (rotation.py), so rotation
does not wait for a refresh. Every ExternalSecret reading such a path carries
the marker as the annotation ROTATION_ANNOTATION: a changed annotation makes ESO refresh at once
(it hashes an ExternalSecret's labels and annotations), so a rotation reaches the Kubernetes
Secrets in the same `pulumi up` rather than after `refreshInterval`. Consumers that read a
credential only at start put the same marker on their pod template (`delivery()` tells them the
ExternalSecret and paths behind a Secret), so they restart with the new value.
Vault paths: `platform/<area>/<name>` for the platform, `tenants/<team>/<name>` for a team
(vault_layout.py). The plane itself puts every secret category's home in place (`_platform_homes`,
`_tenant_homes`); docs/secrets.md is the table of them.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_vault as vault
import pulumiverse_time as time

from ..config.stack import ClusterConfig, ImagesConfig
from ..k8s import child, custom_resource, meta
from .config import VAULT_PATH, SecretsConfig
from .eso import ExternalSecretsOperator
from . import rotation as rotation_clock
from .rotation import ROTATION_PERIOD_KEY
from .rotation import triggers as rotation_triggers
from .vault_auth import PLATFORM_STORE_SA, TENANT_STORE_SA, VaultKubernetesAuth
from .vault_layout import (
    PLATFORM_REGISTRY,
    PLATFORM_ROLE,
    PLATFORM_TREE,
    TENANT_GIT,
    TENANT_REGISTRY,
    VaultLayout,
    platform_home,
    platform_path,
    platform_policy_name,
    tenant_home,
    tenant_of,
    tenant_path,
    tenant_policy_name,
    tenant_role,
)

__all__ = [
    "PLATFORM_STORE", "TENANT_STORE", "TENANT_STORE_SA", "PLATFORM_STORE_SA",
    "GIT_CREDENTIALS_SECRET", "ROTATION_ANNOTATION", "SecretsPlane", "SecretsPlaneArgs", "platform_path", "tenant_path",
]

PLATFORM_STORE = "vault-platform"  # ClusterSecretStore, platform namespaces only
TENANT_STORE = "vault-tenant"  # SecretStore in each tenant namespace
GIT_CREDENTIALS_SECRET = "git-credentials"  # each tenant namespace: kubernetes.io/basic-auth
# On an ExternalSecret reading rotated generated values, and on the pod template of a workload that
# reads them at start: `<path>=<rotation marker>` per rotated path, comma-separated, sorted by path.
# ESO refreshes an ExternalSecret whose labels or annotations changed (the documented `force-sync`
# is one such annotation; this key is the program's own, so a person's `kubectl annotate ...
# force-sync=...` (runbook A) never fights Pulumi over one field).
ROTATION_ANNOTATION = "kfplatform.io/credentials-rotation"
# KV custom metadata of a path whose values are another generated path's (`mirrored`).
MIRROR_OF = "kfplatform-mirror-of"


def dockerconfigjson_template(registry_host: str) -> str:
    """ESO template for `.dockerconfigjson` from properties `username` and `password` (JSON-escaped)."""
    return (
        '{{ dict "auths" (dict "' + registry_host + '" (dict "username" .username "password" .password '
        '"auth" (printf "%s:%s" .username .password | b64enc))) | toJson }}'
    )


@dataclass(frozen=True)
class SecretsPlaneArgs:
    config: SecretsConfig
    cluster: ClusterConfig  # platform namespace names, cluster name, topology key
    images: ImagesConfig  # the mirror (ESO's images, the registry host) and the pull Secret's name
    # Platform namespaces by name; ExternalSecrets there wait for their Namespace.
    platform_namespaces: Mapping[str, k8s.core.v1.Namespace]
    tenant_namespaces: Mapping[str, k8s.core.v1.Namespace]
    prod: bool = False  # protect the KV mount and auth backend; run ESO highly available


class SecretsPlane(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        args: SecretsPlaneArgs,
        vault_provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:secrets:SecretsPlane", name, None, opts)
        self.config = config = args.config
        self.vault_provider = vault_provider
        self.namespaces = args.cluster.namespaces
        self.tenant_namespaces = dict(args.tenant_namespaces)
        self.platform_namespaces = sorted(self.namespaces.names())
        self._namespace_resources = {**args.platform_namespaces, **self.tenant_namespaces}
        self._generated: dict[str, tuple[tuple, dict[str, pulumi.Output[str]]]] = {}
        self._delivered: dict[tuple[str, str], tuple[tuple, k8s.apiextensions.CustomResource]] = {}
        self._rotations: dict[str, pulumi.Output[str]] = {}  # rotated generated path -> its marker
        self._kv: dict[str, vault.kv.SecretV2] = {}  # generated path -> the Vault write
        self._delivered_paths: set[str] = set()
        # One reading of the clock per run: every path's rotation period is judged at the same instant.
        self._now = rotation_clock.clock()
        vault_cfg = config.vault
        kv_mount = vault_cfg.kv_mount
        tenants = sorted(self.tenant_namespaces)
        here = pulumi.ResourceOptions(parent=self)
        operators = self.namespaces.operators
        operators_deps = [args.platform_namespaces[operators]] if operators in args.platform_namespaces else []

        # The KV mount is protected on EVERY stack: deleting a mount deletes all its data, the values
        # people wrote included (IdP client, pull robots, the sandbox's copy of prod's drill keys), and
        # the drill rebuilds the sandbox with `pulumi destroy --exclude-protected` (docs/restore-drill.md).
        self.layout = VaultLayout("vault-layout", kv_mount, tenants, vault_provider, protect=True, opts=here)
        self.auth = VaultKubernetesAuth(
            "vault-auth",
            vault_cfg,
            cluster_name=args.cluster.name,
            platform_namespace=operators,
            platform_namespace_deps=operators_deps,
            tenant_namespaces=self.tenant_namespaces,
            platform_policy=self.layout.policies[platform_policy_name(kv_mount)],
            tenant_policies={t: self.layout.policies[tenant_policy_name(kv_mount, t)] for t in tenants},
            vault_provider=vault_provider,
            protect=args.prod,
            opts=here,
        )
        self.operator = ExternalSecretsOperator(
            "eso",
            config.eso,
            namespace=operators,
            mirror=args.images.mirror,
            pull_secret=args.images.pull_secret,
            replicas=2 if args.prod else 1,
            topology_key=args.cluster.topology_key,
            depends_on=operators_deps,
            protect=args.prod,
            opts=here,
        )

        self.cluster_store, self.tenant_stores = self._stores(operators, tenants)

        self.registry_host = args.images.mirror.split("/", 1)[0]
        self.pull_secret = args.images.pull_secret
        # namespace -> the ExternalSecret making its image-pull Secret (`pull_secret_delivery`).
        self._pull_secrets: dict[str, k8s.apiextensions.CustomResource] = {}
        self._platform_homes()
        for tenant in tenants:
            self._tenant_homes(tenant)
        self.register_outputs({
            "kvMount": self.layout.mount.path,
            "platformStore": PLATFORM_STORE,
            "tenantStore": TENANT_STORE,
        })

    def _vault_spec(self, role: str, service_account: dict) -> dict:
        """An ESO Vault provider: the KV mount, logging in with Kubernetes auth as `role`."""
        vault_cfg = self.config.vault
        spec = {
            "server": vault_cfg.address,
            "path": vault_cfg.kv_mount,
            "version": "v2",
            "auth": {"kubernetes": {"mountPath": vault_cfg.auth_mount, "role": role, "serviceAccountRef": service_account}},
        }
        if vault_cfg.namespace:
            spec["namespace"] = vault_cfg.namespace
        if vault_cfg.ca_cert:
            spec["caBundle"] = base64.b64encode(vault_cfg.ca_cert.encode()).decode()
        return spec

    def _stores(
        self, operators: str, tenants: list[str]
    ) -> tuple[k8s.apiextensions.CustomResource, dict[str, k8s.apiextensions.CustomResource]]:
        """The platform's ClusterSecretStore (platform namespaces only) and one SecretStore per tenant."""
        cluster_store = custom_resource(
            "cluster-secret-store",
            api_version="external-secrets.io/v1",
            kind="ClusterSecretStore",
            metadata=meta(PLATFORM_STORE, component="secrets"),
            spec={
                "provider": {"vault": self._vault_spec(PLATFORM_ROLE, {"name": PLATFORM_STORE_SA, "namespace": operators})},
                # Only platform namespaces may use the platform's store: a tenant's ExternalSecret
                # naming this store is refused by ESO.
                "conditions": [{"namespaces": self.platform_namespaces}],
            },
            opts=child(self, depends_on=[self.operator.release, self.auth.platform_service_account, self.auth.platform_role]),
        )
        tenant_stores = {
            tenant: custom_resource(
                f"{tenant}-secret-store",
                api_version="external-secrets.io/v1",
                kind="SecretStore",
                metadata=meta(TENANT_STORE, tenant, component="secrets"),
                # For a namespaced store ESO ignores serviceAccountRef.namespace: it can only log in
                # as a ServiceAccount of its own namespace, and Vault binds the role to that one.
                spec={"provider": {"vault": self._vault_spec(tenant_role(tenant), {"name": TENANT_STORE_SA})}},
                opts=child(
                    self,
                    depends_on=[
                        self.tenant_namespaces[tenant], self.operator.release,
                        self.auth.tenant_service_accounts[tenant], self.auth.tenant_roles[tenant],
                    ],
                ),
            )
            for tenant in tenants
        }
        return cluster_store, tenant_stores

    # -- the public API other components use ------------------------------------------------------

    def generated(
        self,
        path: str,
        keys: Sequence[str],
        *,
        length: int = 32,
        rotate: bool = True,
        rotate_days: int | None = None,
    ) -> dict[str, pulumi.Output[str]]:
        """Random values for `keys`, kept in Vault at `path`, replaced every `rotate_days`
        (default: the stack's `rotationDays`) when `rotate`.

        Asking again for the same path with the same arguments returns the same values; with
        different ones it is an error (two components would overwrite each other's secret).
        """
        if not VAULT_PATH.fullmatch(path) or path.split("/")[0] not in (PLATFORM_TREE, "tenants"):
            raise ValueError(f"{path!r} is not a Vault path of the platform's layout (platform/... or tenants/...)")
        days = rotate_days if rotate_days is not None else self.config.rotation_days
        if rotate and days < 1:
            raise ValueError(f"{path}: rotate_days must be at least 1")
        request = (tuple(sorted(keys)), length, rotate, days if rotate else None)
        if path in self._generated:
            earlier, values = self._generated[path]
            if earlier != request:
                raise ValueError(f"{path}: generated twice with different arguments ({earlier} vs {request})")
            return values
        if path in self._delivered_paths:
            # Its ExternalSecrets would lack the rotation marker and the wait for the Vault write.
            raise ValueError(f"{path}: generate values before delivering them")
        slug = path.replace("/", "-")
        keepers = None
        if rotate:
            # A new rotation period (rotation.py, computed from the clock at each run) replaces the
            # Rotating and the values on a plain `pulumi up`, refresh or not; the same period
            # leaves every input as it was.
            period = rotation_triggers(days, self._now)
            rotation = time.Rotating(f"{slug}-rotation", rotation_days=days, triggers=period, opts=child(self))
            period_start = period[ROTATION_PERIOD_KEY]
            keepers = {"rotation": rotation.rotation_rfc3339, "period": period_start}
            # The keepers replace every value of the path when this changes, and only then.
            self._rotations[path] = pulumi.Output.concat(period_start, "/", rotation.rotation_rfc3339)
        # Secret explicitly: the provider marks `result` secret engine-side, which a program (and
        # the offline render) must not depend on before passing it to another resource.
        values = {
            key: pulumi.Output.secret(
                random.RandomPassword(f"{slug}-{key}", length=length, special=False, keepers=keepers, opts=child(self)).result
            )
            for key in keys
        }
        self._kv[path] = vault.kv.SecretV2(
            slug,
            mount=self.layout.mount.path,
            name=path,
            data_json=pulumi.Output.secret(pulumi.Output.all(**values).apply(lambda v: json.dumps(v, sort_keys=True))),
            opts=child(self, provider=self.vault_provider),
        )
        self._generated[path] = (request, values)
        return values

    def mirrored(self, source: str, path: str) -> dict[str, pulumi.Output[str]]:
        """The generated values of `source`, also written to Vault at `path`: for one credential that
        two trees must read (a tenant's database password: the database namespace reads `platform/...`,
        the tenant's own store only `tenants/<team>/...`). Same values, same rotation marker: a
        rotation rewrites both paths in the same `pulumi up`. Asking again returns the same values.
        """
        if source not in self._generated:
            raise KeyError(f"{source}: not generated by the plane (mirror only generated values)")
        if not VAULT_PATH.fullmatch(path) or path.split("/")[0] not in (PLATFORM_TREE, "tenants"):
            raise ValueError(f"{path!r} is not a Vault path of the platform's layout (platform/... or tenants/...)")
        request = (("mirror-of", source),)
        if path in self._generated:
            earlier, values = self._generated[path]
            if earlier != request:
                raise ValueError(f"{path}: already generated or mirrored from elsewhere ({earlier} vs {request})")
            return values
        if path in self._delivered_paths:
            raise ValueError(f"{path}: mirror values before delivering them")
        _, values = self._generated[source]
        self._kv[path] = vault.kv.SecretV2(
            path.replace("/", "-"),
            mount=self.layout.mount.path,
            name=path,
            data_json=pulumi.Output.secret(pulumi.Output.all(**values).apply(lambda v: json.dumps(v, sort_keys=True))),
            # Says in Vault (`kv metadata get`) where the values come from: write there, not here.
            custom_metadata=vault.kv.SecretV2CustomMetadataArgs(data={MIRROR_OF: source}),
            opts=child(self, provider=self.vault_provider, depends_on=[self._kv[source]]),
        )
        self._generated[path] = (request, values)
        if source in self._rotations:
            self._rotations[path] = self._rotations[source]
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
        template_from_configmaps: Mapping[str, Sequence[str]] | None = None,
        labels: Mapping[str, str] | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> k8s.apiextensions.CustomResource:
        """An ExternalSecret making Secret `namespace/secret_name` from Vault `path`.

        `keys`: Secret key -> Vault property at `path`. With `template_data` the Secret's keys are
        the template's, and the keys of `keys` are the template's variables (`{{ .password }}`).
        A tenant namespace reads through its own SecretStore, and only below `tenants/<team>/`;
        a platform namespace through the ClusterSecretStore, and only below `platform/`.
        `labels` go on the Secret (e.g. `k8s.mariadb.com/watch`, so an operator sees rotations).
        `template_from_configmaps`: ConfigMap (in `namespace`) -> keys ESO copies into the Secret
        as they are (`templateFrom`; text without `{{` renders literally). With it and no
        `template_data`, the Secret holds only those keys: the values read from Vault are not
        written (ESO's default merge policy, Replace), they only satisfy ESO's rule that an
        ExternalSecret reads something (`either data or dataFrom`, externalsecret_validator.go).
        """
        refs = [(key, path, prop) for key, prop in sorted(keys.items())]
        return self._external_secret(
            namespace, secret_name, refs, secret_type=secret_type, template_data=template_data, labels=labels,
            template_from_configmaps=template_from_configmaps, depends_on=depends_on,
        )

    def rotation_marker(self, path: str) -> pulumi.Output[str] | None:
        """What changes exactly when the values at generated `path` are replaced: the start of the
        current rotation period and its `Rotating`'s `rotation_rfc3339` (`<start>/<due date>`, the
        two keepers of the values). None for a path that is never rotated;
        KeyError for a path this plane does not generate (values written by people have no marker).
        """
        if path not in self._generated:
            raise KeyError(f"{path}: not generated by the plane")
        return self._rotations.get(path)

    def rotation_markers(self, paths: Sequence[str]) -> pulumi.Output[str] | None:
        """ROTATION_ANNOTATION's value for something reading `paths`: `<path>=<marker>` for each
        rotated generated path, sorted, comma-separated; None when none of them rotates."""
        rotated = sorted(p for p in set(paths) if p in self._rotations)
        if not rotated:
            return None
        return pulumi.Output.all(*[self._rotations[p] for p in rotated]).apply(
            lambda markers: ",".join(f"{p}={m}" for p, m in zip(rotated, markers))
        )

    def delivery(self, namespace: str, secret_name: str) -> tuple[k8s.apiextensions.CustomResource, tuple[str, ...]]:
        """The ExternalSecret making Secret `namespace/secret_name`, and the Vault paths it reads.

        For consumers: depend on the ExternalSecret (its rotation is delivered first), and put
        `rotation_markers(paths)` on the pod template of what reads the Secret only at start.
        """
        if (namespace, secret_name) not in self._delivered:
            raise KeyError(f"{namespace}/{secret_name}: not delivered by the plane")
        (refs, *_), external_secret = self._delivered[(namespace, secret_name)]
        return external_secret, tuple(sorted({path for _, path, _ in refs}))

    def pull_secret_delivery(self, namespace: str) -> k8s.apiextensions.CustomResource:
        """The ExternalSecret that makes `namespace`'s image-pull Secret (`images.pullSecret`).

        Workloads that pull with it depend on it: a Helm release installed before the Secret
        exists sits in ImagePullBackOff, and an `atomic` release is rolled back when the kubelet's
        back-off outlasts Helm's timeout.
        """
        if namespace not in self._pull_secrets:
            raise KeyError(f"{namespace!r}: no image-pull Secret is delivered there")
        return self._pull_secrets[namespace]

    # -- the homes of each category (docs/secrets.md) ---------------------------------------------

    # Credentials of users that another component creates (database accounts, MinIO users) are
    # generated and delivered by that component through `generated`/`deliver` (kfplatform/data/).
    def _platform_homes(self) -> None:
        for namespace in self.platform_namespaces:
            self._pull_secret(namespace, platform_home(PLATFORM_REGISTRY))

    def _tenant_homes(self, tenant: str) -> None:
        # A pull token of the tenant's own (not a copy of the platform's): revocable per team.
        self._pull_secret(tenant, tenant_home(tenant, TENANT_REGISTRY))
        self.deliver(
            tenant, GIT_CREDENTIALS_SECRET, tenant_home(tenant, TENANT_GIT),
            {key: key for key in TENANT_GIT.keys}, secret_type="kubernetes.io/basic-auth",
        )

    def _pull_secret(self, namespace: str, path: str) -> k8s.apiextensions.CustomResource:
        self._pull_secrets[namespace] = self.deliver(
            namespace, self.pull_secret, path, {"username": "username", "password": "password"},
            secret_type="kubernetes.io/dockerconfigjson",
            template_data={".dockerconfigjson": dockerconfigjson_template(self.registry_host)},
        )
        return self._pull_secrets[namespace]

    # -- the one place an ExternalSecret is declared ----------------------------------------------

    def _external_secret(
        self,
        namespace: str,
        secret_name: str,
        refs: list[tuple[str, str, str]],
        *,
        secret_type: str | None = None,
        template_data: Mapping[str, str] | None = None,
        template_from_configmaps: Mapping[str, Sequence[str]] | None = None,
        labels: Mapping[str, str] | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> k8s.apiextensions.CustomResource:
        """`refs`: (Secret key or template variable, Vault path, property)."""
        template_from = sorted((name, tuple(sorted(keys))) for name, keys in (template_from_configmaps or {}).items())
        request = (
            tuple(refs), secret_type, tuple(sorted((template_data or {}).items())), tuple(sorted((labels or {}).items())),
            tuple(template_from),
        )
        if (namespace, secret_name) in self._delivered:
            earlier, external_secret = self._delivered[(namespace, secret_name)]
            if earlier != request:
                raise ValueError(f"{namespace}/{secret_name}: delivered twice with different contents")
            return external_secret
        tenant = namespace if namespace in self.tenant_namespaces else None
        if tenant is None and namespace not in self.platform_namespaces:
            raise ValueError(f"{namespace}/{secret_name}: {namespace!r} is neither a platform nor a tenant namespace")
        for _, path, _ in refs:
            if not VAULT_PATH.fullmatch(path):
                raise ValueError(f"{namespace}/{secret_name}: {path!r} is not a Vault path")
            if tenant is not None and tenant_of(path) != tenant:
                raise ValueError(f"{namespace}/{secret_name}: a tenant namespace may only read tenants/{tenant}/..., not {path}")
            if tenant is None and not path.startswith(f"{PLATFORM_TREE}/"):
                raise ValueError(f"{namespace}/{secret_name}: a platform namespace reads platform/... only, not {path}")
        store = {"kind": "SecretStore", "name": TENANT_STORE} if tenant else {"kind": "ClusterSecretStore", "name": PLATFORM_STORE}
        target: dict = {"name": secret_name, "creationPolicy": "Owner", "deletionPolicy": "Retain"}
        if secret_type or template_data or labels or template_from:
            template: dict = {"engineVersion": "v2"}
            if secret_type:
                template["type"] = secret_type
            if labels:
                template["metadata"] = {"labels": dict(labels)}
            if template_from:
                template["templateFrom"] = [
                    {"configMap": {"name": name, "items": [{"key": key} for key in keys]}} for name, keys in template_from
                ]
            if template_data:
                template["data"] = dict(template_data)
            elif not template_from:
                # A template only for type/labels: keep every key read from Vault as it is.
                template["mergePolicy"] = "Merge"
            target["template"] = template
        paths = sorted({path for _, path, _ in refs})
        self._delivered_paths.update(paths)
        # After the Vault write of generated values: a refresh forced by the rotation marker must
        # read the new values, not the ones being replaced.
        deps = [
            self.tenant_stores[tenant] if tenant else self.cluster_store,
            *[self._kv[p] for p in paths if p in self._kv],
            *depends_on,
        ]
        if namespace in self._namespace_resources:
            deps.append(self._namespace_resources[namespace])
        marker = self.rotation_markers(paths)
        external_secret = custom_resource(
            f"{namespace}-{secret_name}",
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata=meta(
                secret_name, namespace, component="secrets",
                annotations={ROTATION_ANNOTATION: marker} if marker is not None else None,
            ),
            spec={
                "refreshInterval": self.config.eso.refresh_interval,
                "secretStoreRef": store,
                "target": target,
                "data": [{"secretKey": key, "remoteRef": {"key": path, "property": prop}} for key, path, prop in refs],
            },
            opts=child(self, depends_on=deps),
        )
        self._delivered[(namespace, secret_name)] = (request, external_secret)
        return external_secret
