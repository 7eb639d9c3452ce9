"""docs/secrets.md keeps up with the render: every Vault path and every database user is explained."""
import re

from kfplatform.secrets.database import STATIC_BECAUSE
from tests.conftest import PROJECT_DIR

DOC = (PROJECT_DIR / "docs" / "secrets.md").read_text()


def documented_form(path: str, tenants: list[str]) -> str:
    parts = path.split("/")
    if parts[0] == "tenants" and parts[1] in tenants:
        parts[1] = "<team>"
    # Platform paths named after a team (a team's Model Registry database user).
    parts[-1] = next((parts[-1][: -len(t)] + "<team>" for t in tenants if parts[-1].endswith("-" + t)), parts[-1])
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


def table_rows() -> dict[str, dict[str, str]]:
    """The "Where each secret lives" table by Vault path; "as above" resolved to the row above."""
    section = DOC.split("## Where each secret lives", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows, previous = {}, {}
    for line in lines:
        cells = dict(zip(header, (c.strip() for c in line.strip("|").split("|"))))
        path = re.match(r"`([^`]+)`", cells.get("Vault path (keys)", ""))
        if not path:
            continue
        cells = {k: (previous.get(k, v) if v == "as above" else v) for k, v in cells.items()}
        rows[path.group(1)] = previous = cells
    return rows


def test_each_row_names_the_kubernetes_secrets_the_render_makes(prod):
    """The "Kubernetes Secret" column lists exactly the rendered ExternalSecrets reading that path."""
    tenants = prod.exports["tenantNamespaces"]
    platform_namespaces = set(prod.exports["platformNamespaces"].values())
    made: dict[str, dict[str, set[str]]] = {}  # documented path -> Secret name -> namespaces
    for es in (o for o in prod.kubernetes_objects() if o["kind"] == "ExternalSecret"):
        namespace = es["metadata"]["namespace"]
        for path in {d["remoteRef"]["key"] for d in es["spec"]["data"]}:
            shown = namespace if namespace not in tenants else "<team>"
            made.setdefault(documented_form(path, tenants), {}).setdefault(es["spec"]["target"]["name"], set()).add(shown)
    rows = table_rows()
    for path, secrets in made.items():
        column = rows[path]["Kubernetes Secret (type)"]
        documented = set(re.findall(r"`([a-z0-9<>-]+/[a-z0-9.<>-]+)`", column))
        rendered = set()
        for name, namespaces in secrets.items():
            if namespaces == platform_namespaces and "every platform namespace" in column and f"`{name}`" in column:
                continue
            rendered |= {f"{ns}/{documented_form(name, tenants)}" for ns in namespaces}
        assert documented == rendered, (path, sorted(documented), sorted(rendered))


def test_written_by_and_rotation_columns_match_what_the_render_does(prod, sandbox):
    tenants = prod.exports["tenantNamespaces"]
    # Both stacks: a few paths exist in the sandbox only (the restore drill's own accounts).
    generated = {documented_form(r.inputs["name"], tenants): r.inputs["name"]
                 for stack in (prod, sandbox) for r in stack.by_type("vault:kv/secretV2:SecretV2")}
    rotating = {r.name.removesuffix("-rotation") for stack in (prod, sandbox)
                for r in stack.by_type("time:index/rotating:Rotating")}
    for path, row in table_rows().items():
        rotation = row["Rotation"]
        if path not in generated:
            assert not row["Written by"].startswith("program"), path
            assert rotation.startswith("at the "), (path, rotation)  # at its source, then `bao kv put`
            continue
        assert row["Written by"].startswith("program"), path
        mirror = re.search(r"mirrors `([^`]+)`", row["Written by"])
        if mirror:  # the same values as another generated path (plane.mirrored): they rotate with it
            source = generated[mirror.group(1)]
            assert source.replace("/", "-") in rotating, (path, rotation)
            assert re.search(r"`(rotationDays|data\.objectStore\.accessKeyMaxAgeDays)`", rotation), (path, rotation)
            continue
        if generated[path].replace("/", "-") in rotating:
            assert re.search(r"`(rotationDays|data\.objectStore\.accessKeyMaxAgeDays)`", rotation), (path, rotation)
        else:
            assert rotation.startswith(("never automatically", "not automatic")), (path, rotation)
