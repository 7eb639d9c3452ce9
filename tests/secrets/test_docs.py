"""docs/secrets.md keeps up with the render: every Vault path and every database user is explained."""
import re

from kfplatform.secrets.database import STATIC_BECAUSE
from tests.conftest import PROJECT_DIR

DOC = (PROJECT_DIR / "docs" / "secrets.md").read_text()


def documented_form(path: str, tenants: list[str]) -> str:
    parts = path.split("/")
    if parts[0] == "tenants" and parts[1] in tenants:
        parts[1] = "<team>"
    return "/".join(parts)


def test_every_rendered_vault_path_has_a_row(prod):
    tenants = prod.exports["tenantNamespaces"]
    paths = {r.inputs["name"] for r in prod.by_type("vault:kv/secretV2:SecretV2")}
    paths |= {d["remoteRef"]["key"] for o in prod.kubernetes_objects() if o["kind"] == "ExternalSecret" for d in o["spec"]["data"]}
    rows = set(re.findall(r"^\| [^|]+ \| `([^`]+)`", DOC, flags=re.M))
    missing = {documented_form(p, tenants) for p in paths} - rows
    assert not missing, f"docs/secrets.md has no row for {sorted(missing)}"


def test_every_database_user_has_its_reason():
    for user in STATIC_BECAUSE:
        assert re.search(rf"^\| `{re.escape(user)}` \|", DOC, flags=re.M), user
