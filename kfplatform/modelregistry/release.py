"""What upstream fixed for the Model Registry at the pinned release: paths, names, labels, the image.

Facts, not choices; read at kubeflow/manifests v1.11.0 (commit 854bd3a21044f767204def71b2dcda83e376891f)
under `applications/model-registry/upstream/` and at kubeflow/model-registry v0.3.4. Re-check each
at every new pin (docs/model-registry.md, "Upgrading").
"""
from __future__ import annotations

# kubeflow/manifests v1.11.0 ships Model Registry v0.3.4: base/kustomization.yaml sets
# `images: ghcr.io/kubeflow/model-registry/server newTag: v0.3.4`.
MANIFESTS_TAG = "v1.11.0"
# The NetworkPolicy that lets the registry pods reach ProxySQL (kfplatform/modelregistry/install.py).
DATABASE_EGRESS_POLICY = "allow-egress-model-registry-database"
VERSION = "v0.3.4"
# upstream/README.md: a profile namespace gets `kubectl apply -k overlays/db -n $PROFILE_NAME`.
OVERLAY_PATH = "applications/model-registry/upstream/overlays/db"

# base/model-registry-deployment.yaml: Deployment, its container, the pod labels (the Service's
# selector, also `sidecar.istio.io/inject: "true"`), its ServiceAccount.
DEPLOYMENT = "model-registry-deployment"
CONTAINER = "rest-container"
POD_LABELS = {"component": "model-registry-server"}
SERVICE_ACCOUNT = "model-registry-server"
# base/model-registry-service.yaml: ClusterIP Service, port 8080 named `http-api`.
SERVICE = "model-registry-service"
PORT = 8080
# base/model-registry-configmap.yaml: MODEL_REGISTRY_REST_SERVICE_PORT=8080,
# MODEL_REGISTRY_DATA_STORE_TYPE=embedmd (the overlay's args read both through envFrom).
SERVER_CONFIGMAP = "model-registry-configmap"
# The REST API the reference pipeline writes to (api/openapi/model-registry.yaml at v0.3.4).
API_PATH_PREFIX = "/api/model_registry/"

# overlays/db: the bundled MySQL 8.3 (Deployment + Service `model-registry-db`, PVC `metadata-mysql`,
# Secret `model-registry-db-secrets` from secrets.env: MYSQL_USER_NAME=root, MYSQL_ROOT_PASSWORD=test),
# dropped by patch: the data tier replaces it. (group, version, kind, name)
BUNDLED_DB: tuple[tuple[str, str, str, str], ...] = (
    ("apps", "v1", "Deployment", "model-registry-db"),
    ("", "v1", "Service", "model-registry-db"),
    ("", "v1", "PersistentVolumeClaim", "metadata-mysql"),
    ("", "v1", "Secret", "model-registry-db-secrets"),
)
# overlays/db params.env -> ConfigMap `model-registry-db-parameters` (MYSQL_DATABASE=metadb,
# MYSQL_PORT=3306, MYSQL_ALLOW_EMPTY_PASSWORD=true). It stays: the overlay's `replacements` copy its
# MYSQL_PORT into the pod annotation `traffic.sidecar.istio.io/excludeOutboundPorts` (the database
# bypasses the sidecar), and kustomize fails a replacement whose source is gone. Patched instead.
DB_PARAMETERS_CONFIGMAP = "model-registry-db-parameters"
SIDECAR_EXCLUDE_ANNOTATION = "traffic.sidecar.istio.io/excludeOutboundPorts"

# cmd/proxy.go at v0.3.4: `proxy` reads the database from `--embedmd-database-dsn` (a go-sql-driver
# DSN; `--embedmd-database-type` defaults to mysql) with `--datastore-type=embedmd`; on start it runs
# its schema migrations (internal/datastore/embedmd/mysql/migrate.go: 15 CREATE TABLE, one without a
# primary key, as ML Metadata's EventPath; the data tier's Galera allows that, galera.py).
DSN_FLAG = "--embedmd-database-dsn"

# The image base/kustomization.yaml names (its pin, a placeholder digest, is install.py's SERVER_IMAGE).
UPSTREAM_IMAGE_NAME = "ghcr.io/kubeflow/model-registry/server"
IMAGE_PATH = "kubeflow/model-registry/server"
