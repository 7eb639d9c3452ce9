"""MinIO erasure-coding arithmetic: erasure-set size, default parity, and what a pool survives.

MinIO splits a pool's drives (servers x volumesPerServer) into erasure sets of 2 to 16 drives and
stripes every object over one set with `parity` parity shards (`MINIO_STORAGE_CLASS_STANDARD=EC:N`).
These functions mirror the server's choice (cmd/endpoint-ellipses.go: the largest set size that
divides the drive count evenly and is symmetric with the server count) so that config validation
can refuse a geometry or parity the server would refuse, or one that cannot survive a node loss.
"""
from __future__ import annotations

SET_SIZES = range(2, 17)  # MinIO's erasure-set sizes


def erasure_set_size(servers: int, volumes_per_server: int) -> int | None:
    """Drives per erasure set MinIO chooses for one pool; None when no set size fits."""
    total = servers * volumes_per_server
    candidates = [size for size in SET_SIZES if total % size == 0]
    symmetric = [size for size in candidates if size % servers == 0 or servers % size == 0]
    chosen = symmetric or candidates
    return max(chosen) if chosen else None


def default_parity(set_size: int) -> int:
    """MinIO's default STANDARD parity for an erasure set of `set_size` drives."""
    if set_size <= 1:
        return 0
    if set_size <= 3:
        return 1
    if set_size <= 5:
        return 2
    if set_size <= 7:
        return 3
    return 4


def write_quorum(set_size: int, parity: int) -> int:
    """Drives of a set that must be online to write (one more when parity is exactly half)."""
    data = set_size - parity
    return data + 1 if data == parity else data


def drives_per_server_in_set(servers: int, set_size: int) -> int:
    """How many drives of one erasure set a single server holds (sets are spread evenly)."""
    return max(1, set_size // servers) if set_size >= servers else 1


def servers_tolerated(servers: int, volumes_per_server: int, parity: int) -> int:
    """Whole servers of the pool that may be down while writes still reach quorum."""
    set_size = erasure_set_size(servers, volumes_per_server)
    if set_size is None or servers <= 1:
        return 0
    spare = set_size - write_quorum(set_size, parity)
    return max(0, spare // drives_per_server_in_set(servers, set_size))


def servers_in_largest_zone(servers: int, zones: int) -> int:
    """Servers of a pool in its fullest zone when spread evenly (maxSkew 1) over `zones`."""
    return -(-servers // max(1, zones))
