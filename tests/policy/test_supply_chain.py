"""The image table, what the render summary says about it, and what the pack's runtime can import."""
from __future__ import annotations

import ast
import re
import sys

import pytest
import yaml

from kfguard import checks
from kfplatform import images

from tests.conftest import PROJECT_DIR


def _untagged(ref: str) -> str:
    """`repo:tag@digest` -> `repo@digest`: some charts render the digest without the tag."""
    return re.sub(r":[^/:@]+(?=@)", "", ref)


def test_every_image_the_render_deploys_comes_from_the_table(prod, sandbox):
    """Components read their images from the table: each rendered reference is a table row in the
    mirror. Some components render in one stack only (install-mode monitoring, DR replication), so
    the two stacks together use the whole table."""
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]
    mirror = config["kubeflow-platform:images"]["mirror"]
    rows = {_untagged(e.image.ref(mirror)) for e in images.table()}
    # Pinned in the stack file instead (reviewed in its diff): the KFP base image of pipeline steps.
    base = config["kubeflow-platform:kubeflow"]["pipelines"]["baseImage"]
    stack_pinned = {_untagged(images.Image(base["path"], base["tag"], base["digest"]).ref(mirror))}
    rendered = {_untagged(ref) for stack in (prod, sandbox) for r in stack.resources if r.custom
                for _, ref in checks.image_references(r.type, r.inputs)}
    assert rendered and rendered <= rows | stack_pinned, sorted(rendered - rows - stack_pinned)
    # ... and the table holds nothing the renders do not use (dead pins drift unreviewed).
    unused = {ref for ref in rows if ref not in rendered}
    assert unused == set(), sorted(unused)


def test_a_digest_is_verified_with_its_source_or_listed_as_unverified():
    for entry in images.table():
        assert images.DIGEST.match(entry.image.digest)
        assert entry.verified == (bool(entry.source) and not entry.image.is_placeholder)
        assert "/" not in entry.upstream and "." in entry.upstream, entry  # a registry host


def test_pinning_one_image_twice_differently_is_refused():
    first = images.pin("test-component", "docker.io", "test/app", "1.0", "sha256:" + "1" * 64)
    assert images.pin("test-component", "docker.io", "test/app", "1.0", "sha256:" + "1" * 64) == first
    with pytest.raises(ValueError, match="pinned twice"):
        images.pin("test-component", "docker.io", "test/app", "1.1", "sha256:" + "2" * 64)
    images._TABLE.pop(("test-component", "test/app"))


def test_the_render_summary_lists_every_image_without_a_verified_digest(prod):
    from kfplatform.render.output import summary

    text = summary(prod)
    pending = [e for e in images.table() if not e.verified]
    assert f"images: {len(images.table())} pinned in the image table, {len(pending)} without a verified digest" in text
    for entry in pending:
        state = "PLACEHOLDER digest" if entry.image.is_placeholder else "digest not verified"
        assert re.search(rf"{re.escape(entry.upstream_ref)}\s+\({state}\)", text), entry.upstream_ref
    assert "docker.io/library/mariadb:11.8.5" not in text  # verified: not listed


def _imports(path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_the_pack_imports_only_what_its_own_virtualenv_has():
    """`pulumi preview` runs policy/__main__.py in policy/venv (policy/requirements.txt: pulumi and
    pulumi-policy, which bring protobuf and PyYAML). The offline harness (engine.py) may use more."""
    allowed = set(sys.stdlib_module_names) | {"pulumi_policy", "pulumi", "yaml", "google", "kfguard"}
    for path in [PROJECT_DIR / "policy" / "__main__.py", *sorted((PROJECT_DIR / "policy" / "kfguard").rglob("*.py"))]:
        if path.name == "engine.py":
            continue
        assert _imports(path) <= allowed, (path.name, _imports(path) - allowed)
    requirements = (PROJECT_DIR / "policy" / "requirements.txt").read_text().split()
    from importlib.metadata import version

    assert requirements == [f"pulumi=={version('pulumi')}", f"pulumi-policy=={version('pulumi-policy')}"]


@pytest.mark.parametrize("stack", ["prod", "sandbox"])
def test_the_pack_config_lists_exactly_the_tables_unverified_digests(stack):
    """A policy cannot import the table: the real-but-unverified digests are repeated in its config."""
    from kfguard import engine

    _, props = engine.load_config(engine.config_for_stack(stack))["image-digests-verified"]
    expected = [f"{e.image.path}:{e.image.tag}@{e.image.digest}" for e in images.table()
                if not e.verified and not e.image.is_placeholder]
    assert props["unverified"] == expected


def test_unverified_digests_are_listed_by_the_pack_as_advisory(prod):
    from tests.policy.harness import recorded, run

    report = run(recorded(prod), only="image-digests-verified")
    assert {v.level for v in report.violations} == {"advisory"}
    assert sorted(v.message.split(":")[0] for v in report.violations) == [
        "values.certController.image", "values.image", "values.webhook.image"]
    assert all("external-secrets/external-secrets:v2.9.0@sha256:44eb" in v.message for v in report.violations)
