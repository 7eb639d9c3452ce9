"""The erasure-set arithmetic config validation relies on (MinIO's own choices)."""
import pytest

from kfplatform.data.erasure import default_parity, erasure_set_size, servers_tolerated, write_quorum


@pytest.mark.parametrize(
    "servers, volumes, expected",
    [(4, 4, 16), (1, 4, 4), (4, 1, 4), (8, 4, 16), (6, 4, 12), (4, 6, 12), (16, 1, 16), (32, 1, 16), (3, 1, 3), (17, 1, None)],
)
def test_erasure_set_size(servers, volumes, expected):
    assert erasure_set_size(servers, volumes) == expected


@pytest.mark.parametrize("set_size, parity", [(2, 1), (4, 2), (5, 2), (6, 3), (8, 4), (16, 4)])
def test_default_parity_follows_minio(set_size, parity):
    assert default_parity(set_size) == parity


def test_write_quorum_needs_one_more_drive_when_parity_is_half():
    assert write_quorum(16, 4) == 12
    assert write_quorum(4, 2) == 3


@pytest.mark.parametrize(
    "servers, volumes, parity, tolerated",
    [(4, 4, 4, 1), (4, 4, 2, 0), (4, 4, 8, 1), (8, 2, 4, 2), (4, 1, 2, 1), (1, 4, 2, 0), (16, 1, 4, 4)],
)
def test_servers_a_pool_survives(servers, volumes, parity, tolerated):
    assert servers_tolerated(servers, volumes, parity) == tolerated
