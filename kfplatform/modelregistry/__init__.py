"""The Kubeflow Model Registry, installed per opted-in tenant on the platform's data tier."""
