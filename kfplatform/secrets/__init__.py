"""The secrets plane: Vault holds every secret value; ESO delivers them as Kubernetes Secrets."""
