"""Kubeflow: the upstream install at a pinned tag, its HA control plane, identity, and the GitOps workloads path."""
