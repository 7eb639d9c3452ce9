"""The second deploy trail: Argo CD notifications on syncs that change an InferenceService.

Independent of the API server's audit log, so it holds where that log is out of reach (managed
control planes): every sync of a tenant's workloads Application that touched an InferenceService
posts who, when, which revision and which resources to the payload sink's `/argocd` path, which
files it under the tenant's prefix in the WORM bucket and in the tenant's audit index (shipper.py).

Argo CD (3.x) is a service the platform builds on and does not install; its notifications
controller reads `argocd-notifications-cm`. The keys are added with a server-side-apply patch
(`ConfigMapPatch`), so Argo CD's own keys stay as they are. Key formats: `trigger.<name>`,
`template.<name>`, `service.webhook.<name>`, `subscriptions` (argo-cd
docs/operator-manual/notifications: triggers, templates, services/webhook, subscriptions).
"""
from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

from ..k8s import child, meta

CONFIG_MAP = "argocd-notifications-cm"
TRIGGER = "on-inferenceservice-synced"
TEMPLATE = "inferenceservice-deployed"
SERVICE = "kfplatform-audit"

# expr-lang condition over the Application: a finished sync whose results include an InferenceService.
WHEN = (
    "app.status.operationState != nil and app.status.operationState.phase in ['Succeeded', 'Failed', 'Error']"
    " and any(app.status.operationState.syncResult.resources, {.kind == 'InferenceService'})"
)


def template_body() -> str:
    fields = {
        "application": "{{.app.metadata.name}}",
        "namespace": "{{.app.spec.destination.namespace}}",
        "revision": "{{.app.status.operationState.syncResult.revision}}",
        "phase": "{{.app.status.operationState.phase}}",
        "initiatedBy": "{{.app.status.operationState.operation.initiatedBy.username}}",
        "automated": "{{.app.status.operationState.operation.initiatedBy.automated}}",
        "startedAt": "{{.app.status.operationState.startedAt}}",
        "finishedAt": "{{.app.status.operationState.finishedAt}}",
    }
    body = json.dumps(fields)
    # The synced resources as JSON (kind, namespace, name, status, message), appended verbatim.
    return body[:-1] + ', "resources": {{toJson .app.status.operationState.syncResult.resources}}}'


def notification_data(webhook_url: str, workloads_selector: str) -> dict[str, str]:
    import yaml

    return {
        f"trigger.{TRIGGER}": yaml.safe_dump([{
            "description": "a sync changed an InferenceService: record it in the tenant's deploy trail",
            "when": WHEN,
            "oncePer": "app.status.operationState.syncResult.revision",
            "send": [TEMPLATE],
        }], sort_keys=False),
        f"template.{TEMPLATE}": yaml.safe_dump({
            "webhook": {SERVICE: {"method": "POST", "body": template_body()}},
        }, sort_keys=False),
        f"service.webhook.{SERVICE}": yaml.safe_dump({
            "url": webhook_url,
            "headers": [{"name": "Content-Type", "value": "application/json"}],
        }, sort_keys=False),
        "subscriptions": yaml.safe_dump([{
            "recipients": [SERVICE],
            "triggers": [TRIGGER],
            "selector": workloads_selector,
        }], sort_keys=False),
    }


class DeployNotifications(pulumi.ComponentResource):
    def __init__(
        self, name: str, *, namespace: str, webhook_url: str, workloads_selector: str,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:compliance:DeployNotifications", name, None, opts)
        self.patch = k8s.core.v1.ConfigMapPatch(
            f"{name}-cm",
            metadata=meta(CONFIG_MAP, namespace, component="compliance"),
            data=notification_data(webhook_url, workloads_selector),
            opts=child(self),
        )
        self.register_outputs({"trigger": TRIGGER})
