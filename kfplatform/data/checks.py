"""Cross-checks of the data tier against the rest of the stack (exported as CHECKS)."""
from __future__ import annotations

from typing import Iterable

from ..config.errors import ConfigIssue
from ..config.platform_config import KEY_PREFIX, PlatformConfig
from .erasure import servers_in_largest_zone, servers_tolerated
from .geometry import geometry_issues


def object_store_survives_a_zone(config: PlatformConfig) -> Iterable[ConfigIssue]:
    """In prod across zones, losing the fullest zone must leave every MinIO pool writable.

    Galera (one node per zone) and ProxySQL survive a zone; an object store that does not would
    stop every pipeline run for as long as the zone is out.
    """
    stack = config.stack
    zones = len(stack.cluster.zones)
    if not stack.is_prod or zones < 2:
        return
    store = stack.data.object_store
    parity = store.effective_parity
    for index, pool in enumerate(store.pools):
        in_zone = servers_in_largest_zone(pool.servers, zones)
        tolerated = servers_tolerated(pool.servers, pool.volumes_per_server, parity)
        if in_zone > tolerated:
            yield ConfigIssue(
                config.stack_file,
                f"{KEY_PREFIX}data.objectStore.pools[{index}]",
                f"pool {pool.name!r} puts up to {in_zone} of its {pool.servers} servers in one of the {zones} zones "
                f"(cluster.zones), but with EC:{parity} it keeps taking writes with only {tolerated} server(s) down: "
                "losing that zone stops the object store. Spread more, smaller servers (e.g. 6 servers x 2 volumes "
                "over 3 zones with EC:4) or raise the parity",
            )


# The area's cross-checks, in the order they run (composed by kfplatform/config/checks.py).
CHECKS = (object_store_survives_a_zone, geometry_issues)
