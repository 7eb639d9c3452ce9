"""What a tenant team gets: namespace, Profile, quotas, RBAC, network policies."""
