"""SecretsConfig: bad values fail at `pulumi up` start with the key that is wrong."""
import pydantic
import pytest

from kfplatform.secrets.config import SecretsConfig, duration_seconds
from tests.secrets.test_plane import TEST_CA

BASE = {"address": "https://vault.example.com:8200", "kubernetes": {"host": "https://api.example.com:6443"}}


def validate(vault: dict, environment: str = "prod", **extra) -> SecretsConfig:
    return SecretsConfig.model_validate({"vault": {**BASE, **vault}, **extra}, context={"environment": environment})


def test_durations():
    assert duration_seconds("10m") == 600
    assert duration_seconds("1h30m") == 5400
    assert duration_seconds("2562047h") == 2562047 * 3600  # Go's largest whole-hour duration
    # One parser for every Go duration the platform writes (Vault TTLs, Velero and mariadb-operator
    # retention): beyond int64 nanoseconds is refused, as time.ParseDuration refuses it.
    for bad in ("", "10", "1d", "m10", "10m1h", "1h\n", "2562048h"):
        with pytest.raises(ValueError):
            duration_seconds(bad)


def test_prod_tokens_are_short_lived_but_sandbox_may_be_longer():
    with pytest.raises(pydantic.ValidationError, match="prod tokens live at most 15m"):
        validate({"tokenTtl": "1h", "tokenMaxTtl": "1h"})
    with pytest.raises(pydantic.ValidationError, match="prod tokens live at most 60m"):
        validate({"tokenMaxTtl": "2h"})
    assert validate({"tokenTtl": "1h", "tokenMaxTtl": "2h"}, environment="sandbox").vault.token_ttl_seconds == 3600


def test_token_ttl_cannot_exceed_max_ttl():
    with pytest.raises(pydantic.ValidationError, match="exceeds tokenMaxTtl"):
        validate({"tokenTtl": "15m", "tokenMaxTtl": "10m"})


def test_vault_and_kubernetes_must_be_https():
    with pytest.raises(pydantic.ValidationError, match="https"):
        validate({"address": "http://vault.example.com:8200"})
    with pytest.raises(pydantic.ValidationError, match="https"):
        validate({"kubernetes": {"host": "http://api.example.com"}})


def test_ca_certificates_are_pem_and_never_a_private_key():
    assert validate({"caCert": TEST_CA}).vault.ca_cert == TEST_CA
    with pytest.raises(pydantic.ValidationError, match="PEM certificate"):
        validate({"caCert": "not a certificate"})
    with pytest.raises(pydantic.ValidationError, match="private key"):
        validate({"kubernetes": {"host": "https://api.example.com", "caCert": TEST_CA + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}})


def test_mount_names_are_single_path_segments():
    with pytest.raises(pydantic.ValidationError, match="not a mount name"):
        validate({"kvMount": "secret/kf"})


def test_refresh_interval_is_at_least_a_minute():
    with pytest.raises(pydantic.ValidationError, match="at most once a minute"):
        validate({}, eso={"refreshInterval": "30s"})


def test_prod_refreshes_at_least_hourly_but_sandbox_may_wait_longer():
    with pytest.raises(pydantic.ValidationError, match="prod refreshes at least every 60m"):
        validate({}, eso={"refreshInterval": "2h"})
    assert validate({}, eso={"refreshInterval": "1h"}).eso.refresh_interval == "1h"
    assert validate({}, environment="sandbox", eso={"refreshInterval": "24h"}).eso.refresh_interval == "24h"
