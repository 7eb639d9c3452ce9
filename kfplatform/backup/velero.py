"""Velero (or OADP on OpenShift): where cluster state is backed up, and the Schedules.

The Helm chart installs the server and CRDs only; the BackupStorageLocations and Schedules are
declared here as custom resources, so the offline render shows (and validates) exactly what is
backed up, where, and for how long. Values keys are those of vmware-tanzu/helm-charts tag
velero-12.1.0 (charts/velero/values.yaml, templates/deployment.yaml).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from . import releases
from .config import BackupConfig, OffsiteLocation, VeleroSchedule

API = "velero.io/v1"
PRIMARY_LOCATION = "default"
# The sandbox's location on its OWN backups bucket, holding the drill's copy of prod's backups
# (drill_copy.py); ReadOnly, and never on prod's bucket.
RESTORE_LOCATION = "drill-copy"
CREDENTIALS_SECRET = "velero-cloud-credentials"  # key `cloud`: an AWS shared-credentials file
OFFSITE_SECRET = "velero-offsite-credentials"
CREDENTIALS_KEY = "cloud"  # the chart mounts the Secret at /credentials and reads /credentials/cloud
BUCKET_PREFIX = "velero"  # Velero's objects in the backups bucket; Galera's are under galera/
PLATFORM_SCHEDULE = "kfplatform-platform"
TENANTS_SCHEDULE = "kfplatform-tenants"
VOLUMES_SCHEDULE = "kfplatform-tenant-volumes"
# Velero's own format for the credentials file (velero-plugin-for-aws: AWS shared credentials).
CLOUD_TEMPLATE = "[default]\naws_access_key_id={{ .accessKey }}\naws_secret_access_key={{ .secretKey }}\n"
# Secrets are not restored into another cluster: each cluster's ESO makes its own from its own Vault
# (a prod Secret restored into the sandbox would hand it prod's keys); ESO objects follow the Secrets.
NOT_RESTORED = ["secrets", "externalsecrets.external-secrets.io", "secretstores.external-secrets.io"]


def velero_values(*, mirror: str, pull_secret: str, node_agent: bool, default_location: str | None) -> dict:
    """Values of the Velero chart: server and CRDs only (locations and schedules are CRs here)."""
    releases.VELERO.ref(mirror)  # warns while its digest is a placeholder
    return {
        "image": {
            "repository": releases.VELERO.image.repository(mirror),
            "tag": releases.VELERO.image.tag,
            "digest": releases.VELERO.image.digest,  # the chart renders repository@digest when set
            "pullPolicy": "IfNotPresent",
            "imagePullSecrets": [pull_secret],
        },
        "initContainers": [{
            "name": "velero-plugin-for-aws",
            "image": releases.VELERO_PLUGIN_AWS.ref(mirror),
            "imagePullPolicy": "IfNotPresent",
            "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
        }],
        "credentials": {"useSecret": True, "existingSecret": CREDENTIALS_SECRET},
        "configuration": {
            "backupStorageLocation": [],  # declared as CRs (velero.py), not by the chart
            "volumeSnapshotLocation": [],
            "uploaderType": "kopia",
            **({"defaultBackupStorageLocation": default_location} if default_location else {}),
        },
        "snapshotsEnabled": False,  # MinIO is no snapshot provider; volumes go through the node agent
        "deployNodeAgent": node_agent,
        "upgradeCRDs": True,
        "cleanUpCRDs": False,  # uninstalling Velero must never delete Backup objects
        "metrics": {"enabled": True, "serviceMonitor": {"enabled": True}},
        "podDisruptionBudget": {"enabled": False},
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "containerSecurityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
        },
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
    }


def s3_config(endpoint_url: str, region: str) -> dict:
    """velero-plugin-for-aws BSL `config` (keys from its backupstoragelocation.md)."""
    return {"region": region, "s3ForcePathStyle": "true", "s3Url": endpoint_url, "checksumAlgorithm": ""}


def location_spec(
    *, bucket: str, prefix: str, endpoint_url: str, region: str, default: bool, read_only: bool,
    credential_secret: str | None, ca_cert_b64: str | None,
) -> dict:
    spec: dict = {
        "provider": "aws",
        "objectStorage": {"bucket": bucket, "prefix": prefix},
        "config": s3_config(endpoint_url, region),
        "default": default,
        "accessMode": "ReadOnly" if read_only else "ReadWrite",
        "validationFrequency": "1m",
    }
    if ca_cert_b64:
        spec["objectStorage"]["caCert"] = ca_cert_b64
    if credential_secret:
        spec["credential"] = {"name": credential_secret, "key": CREDENTIALS_KEY}
    return spec


def offsite_spec(offsite: OffsiteLocation) -> dict:
    return location_spec(
        bucket=offsite.bucket, prefix=BUCKET_PREFIX, endpoint_url=offsite.endpoint, region=offsite.region,
        default=False, read_only=False, credential_secret=OFFSITE_SECRET, ca_cert_b64=None,
    )


def schedule_spec(
    schedule: VeleroSchedule, *, location: str, namespaces: Sequence[str], cluster_resources: bool,
    fs_backup: bool, labels: Mapping[str, str],
) -> dict:
    return {
        "schedule": schedule.cron,
        "useOwnerReferencesInBackup": False,  # deleting a Schedule never deletes its backups
        "template": {
            "includedNamespaces": sorted(namespaces),
            "includeClusterResources": cluster_resources,
            "storageLocation": location,
            "ttl": schedule.ttl,
            "snapshotVolumes": False,
            "defaultVolumesToFsBackup": fs_backup,
            "metadata": {"labels": dict(labels)},
        },
    }


def schedules(
    config: BackupConfig, *, platform_namespaces: Iterable[str], tenants: Mapping[str, bool],
) -> dict[str, dict]:
    """Schedule name -> spec. `tenants`: team -> whether its volumes' contents are backed up.

    The tenants' namespaces come from the tenants list, so a new team is in the next `pulumi up`'s
    Schedule with no other edit. One Schedule holds every team's objects (one backup name per
    night: what a drill restores); the teams that opt in to volume backups get a second Schedule
    with Velero's file-system backup of their pods' volumes. That second Schedule takes the opted-in
    namespaces WHOLE (every resource, no includedResources filter) plus the volumes' contents, so its
    backup alone restores such a namespace: the drill restores them from it, and from nothing else
    (drill_restores; Velero fills a pod's volumes only in a pod the same Restore creates).
    """
    if config.schedules is None:
        return {}
    out: dict[str, dict] = {}

    def add(name: str, schedule: VeleroSchedule, **kw) -> None:
        out[name] = schedule_spec(schedule, location=PRIMARY_LOCATION, **kw)
        if schedule.offsite and config.offsite is not None:
            out[f"{name}-offsite"] = schedule_spec(schedule, location=config.offsite.name, **kw)

    add(
        PLATFORM_SCHEDULE, config.schedules.platform, namespaces=list(platform_namespaces), cluster_resources=True,
        fs_backup=False, labels={"kfplatform.io/backup": "platform"},
    )
    if tenants:
        add(
            TENANTS_SCHEDULE, config.schedules.tenants, namespaces=list(tenants), cluster_resources=False,
            fs_backup=False, labels={"kfplatform.io/backup": "tenants"},
        )
    with_volumes = [team for team, volumes in tenants.items() if volumes]
    if with_volumes:
        # Same cron as the tenants Schedule: both backups of one night start within the same minute
        # (Velero names each `<schedule>-<time of submission>`, schedule_types.go TimestampedName).
        add(
            VOLUMES_SCHEDULE, config.schedules.tenants, namespaces=with_volumes, cluster_resources=False,
            fs_backup=True, labels={"kfplatform.io/backup": "tenant-volumes"},
        )
    return out


def restore_name(backup: str) -> str:
    """The drill's Restore of `backup` (the stack declares it; the drill waits for it)."""
    name = f"drill-{backup}"
    if len(name) <= 63:
        return name
    # Two long backup names sharing a prefix must not map to one Restore: a hash of the whole name.
    import hashlib

    return f"{name[:54].rstrip('-')}-{hashlib.sha256(backup.encode()).hexdigest()[:8]}"


def restore_spec(backup: str, namespaces: Sequence[str], excluded_namespaces: Sequence[str] = ()) -> dict:
    """The drill's Velero Restore: the selected namespaces, never over what the sandbox made itself."""
    spec = {
        "backupName": backup,
        "includedNamespaces": sorted(namespaces),
        "excludedResources": list(NOT_RESTORED),
        "restorePVs": True,
        "existingResourcePolicy": "none",
        "includeClusterResources": False,
    }
    if excluded_namespaces:
        spec["excludedNamespaces"] = sorted(excluded_namespaces)
    return spec


# Velero v1.18.1 semantics the drill's two Restores rely on (vmware-tanzu/velero at tag v1.18.1):
# - pkg/restore/restore.go `Restore()`: namespaces are filtered by includedNamespaces AND
#   excludedNamespaces (collections.IncludesExcludes); `restoreItem()` returns early for an object
#   that already exists in the cluster (AlreadyExists: a warning under existingResourcePolicy none),
#   BEFORE `restorePodVolumeBackups()`: a pod's file-system backup is restored only into a pod the
#   same Restore created, and only when persistentvolumeclaims and persistentvolumes are not
#   excluded. So the Restore that fills an opted-in namespace must be the one that creates it whole.
# - pkg/podvolume/restorer.go `newPodVolumeRestore()`: each PodVolumeRestore carries the label
#   velero.io/restore-name=<restore name>; pkg/apis/velero/v1/pod_volume_restore_type.go: phases
#   New, Accepted, Prepared, InProgress, Canceling, Canceled, Completed, Failed. RestoreStatus
#   (restore_types.go) has errors/warnings counts but no pod-volume counts: the drill reads the
#   PodVolumeRestore objects.
# - pkg/controller/restore_controller.go: a Restore names its backup by `backupName` (or the
#   newest Completed backup of `scheduleName`, by status.startTimestamp); the controller then fills
#   spec.scheduleName from the backup's velero.io/schedule-name label.
TENANTS_RESTORE = "tenants"
VOLUMES_RESTORE = "volumes"


@dataclass(frozen=True)
class DrillRestore:
    """One of the drill's Velero Restores: which backup, which namespaces, which it leaves alone."""

    role: str  # TENANTS_RESTORE or VOLUMES_RESTORE
    backup: str
    namespaces: tuple[str, ...]
    excluded: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return restore_name(self.backup)

    @property
    def spec(self) -> dict:
        return restore_spec(self.backup, self.namespaces, self.excluded)


def drill_restores(
    *, backup: str, volumes_backup: str | None, namespaces: Iterable[str], volume_teams: Iterable[str],
) -> list[DrillRestore]:
    """The drill's Restores: opted-in teams' namespaces from the volumes backup alone (objects and
    volume contents in one Restore, so their pods get their data back), every other selected
    namespace from the tenants backup, which excludes the opted-in ones. No Restore pre-creates what
    the other must fill; a Restore with no namespace is not made (an empty includedNamespaces would
    mean every namespace of the backup)."""
    selected = sorted(set(namespaces))
    with_volumes = sorted(set(selected) & set(volume_teams))
    plain = [n for n in selected if n not in with_volumes]
    out: list[DrillRestore] = []
    if plain:
        out.append(DrillRestore(TENANTS_RESTORE, backup, tuple(plain), tuple(with_volumes)))
    if with_volumes:
        if volumes_backup is None:  # the config refuses this (checks.py); never restore them from the tenants backup
            raise ValueError(f"{', '.join(with_volumes)} back up their volumes: name the volumes backup")
        out.append(DrillRestore(VOLUMES_RESTORE, volumes_backup, tuple(with_volumes)))
    return out


def dpa_spec(*, location, node_agent: bool) -> dict:
    """OADP's DataProtectionApplication (oadp.openshift.io/v1alpha1, CRD from oadp-operator oadp-1.5):
    the OLM-installed operator runs Velero with the AWS plugin and, when this stack backs up, the
    primary location (`location`, a BackupStorageLocation spec); otherwise none."""
    spec: dict = {
        "configuration": {
            "velero": {"defaultPlugins": ["openshift", "aws"], "noDefaultBackupLocation": location is None},
            "nodeAgent": {"enable": node_agent, "uploaderType": "kopia"},
        },
    }
    if location is not None:
        spec["backupLocations"] = [{"name": PRIMARY_LOCATION, "velero": location}]
    return spec
