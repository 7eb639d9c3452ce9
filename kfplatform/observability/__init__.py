"""Observability: inference SLOs routed to the owning team, platform alerts, monitors, dashboards.

Modules, from data to cluster objects (docs/observability.md):
  config          pydantic models: `observability:` in the stack file, `serving:`/`alerting:` in a tenant file
  slo             a team's SLO and drift rule groups (recording rules, latency, burn-rate, cold-start alerts)
  platform_rules  the platform's alerts (Kubeflow, data tier, ESO, GPUs, storage, routing itself)
  monitors        PodMonitors for every component the platform scrapes
  routing         AlertmanagerConfig specs: a team's receiver, the platform on-call as fallback
  dashboards      Grafana dashboards (ConfigMaps for the sidecar)
  stack           `install` mode: kube-prometheus-stack, Loki, Alloy at pinned versions
  component       Observability: renders all of the above
"""
