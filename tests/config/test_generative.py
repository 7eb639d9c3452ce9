"""Generative: seeded random mutations of the shipped stack and tenant files.

Each mutated input either loads (and then renders to objects the schema validator accepts: checked
on a small sample) or is refused with a ConfigError naming a file - the CLI's exit 2 - and never
raises anything else (a traceback). Mutations are structural (a value replaced by one of a pool
of hostile values, a key deleted or added, a list entry repeated, a string nudged) and textual
(a YAML line repeated, an alias bomb, a YAML 1.1 boolean or date dropped in). Bounded in time:
generation stops at the deadline, and at least MIN_CASES must have run.
"""
from __future__ import annotations

import copy
import importlib.util
import random
import time
import traceback

import yaml

from kfplatform.config import ConfigError, load_platform_config
from kfplatform.render.run import read_stack_config, render_stack
from tests.conftest import PROJECT_DIR, SHARED_DIR, copy_project, rendered
from tests.config.helpers import as_engine_config, stack_config, tenant

SEED = 20261201
CASES = 300
MIN_CASES = 60
DEADLINE_SECONDS = 3.0
TENANTS = ("team-forecasting", "team-nlp", "team-vision")

HOSTILE = [
    "", " ", "x\n", "*", "*@example.com", "-1", "0", "1e400", "9" * 30, 10**30, -5, 0, 0.5, float("inf"), True, False,
    None, [], {}, [None], {"x": 1}, "2024-01-01", "system:masters", "0.0.0.0/0", "169.254.169.254/32", "10.0.0.0/8",
    "kube-system", "kubeflow", "a" * 300, "é", "UPPER", "a,b", "1.5", "500m", "16Gi", "eu-west-1a",
]
TEXT_INSERTS = ["on", "no", "2024-01-01", "1:30", "*undefined", "&a [*a]", "[[[[", "'unterminated", "{a: 1, a: 2}"]
LAUGHS = "{a: &a [x, x, x, x, x, x, x, x, x, x], b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a], " + \
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b], d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c], " + \
    "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d]}"


def _paths(node, prefix=()):
    """Every (path, value) in a nested structure, containers included."""
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


def _set(root, path, value):
    node = root
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _nudge(value, rng: random.Random):
    if isinstance(value, str):
        return rng.choice([value + "\n", " " + value, value.upper(), value + "*", value[: len(value) // 2],
                           value * 2, value.replace("-", "_"), "-" + value, value + "0" * 25])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return rng.choice([-value, value * 10**30, value + 0.5, str(value) + "m", 0])
    return rng.choice(HOSTILE)


def mutate(data, rng: random.Random, under: str | None = None, pool: list = HOSTILE) -> tuple[object, str]:
    """One mutation of `data` (only below its key `under`, when given), hostile values from `pool`."""
    data = copy.deepcopy(data)
    paths = [(p, v) for p, v in _paths(data) if p and (under is None or p[0] == under)]
    path, value = rng.choice(paths)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    op = rng.choice(["replace", "replace", "nudge", "nudge", "delete", "add", "repeat"])
    if op == "replace":
        new = copy.deepcopy(rng.choice(pool))
        _set(data, path, new)
        return data, f"{path} = {new!r}"
    if op == "nudge":
        new = _nudge(value, rng)
        _set(data, path, new)
        return data, f"{path} ~ {new!r}"
    if op == "delete":
        del parent[path[-1]]
        return data, f"del {path}"
    if op == "add" and isinstance(value, dict):
        value[rng.choice(["extra", "Name", "zone", "podCidr"])] = rng.choice(pool)
        return data, f"add key under {path}"
    if isinstance(value, list) and value:
        value.append(copy.deepcopy(value[rng.randrange(len(value))]))
        return data, f"repeat an entry of {path}"
    _set(data, path, rng.choice(pool))
    return data, f"{path} = hostile"


def mutate_text(text: str, rng: random.Random) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    i = rng.randrange(len(lines))
    op = rng.choice(["repeat", "insert", "bomb"])
    if op == "repeat":
        lines.insert(i, lines[i])
        return "".join(lines), f"line {i + 1} repeated"
    if op == "insert" and ": " in lines[i]:
        head = lines[i].split(": ", 1)[0]
        new = rng.choice(TEXT_INSERTS)
        lines[i] = f"{head}: {new}\n"
        return "".join(lines), f"line {i + 1} value -> {new}"
    indent = len(lines[i]) - len(lines[i].lstrip())
    lines.insert(i, " " * indent + f"laughs: {LAUGHS}\n")
    return "".join(lines), f"alias bomb at line {i + 1}"


def _validator():
    spec = importlib.util.spec_from_file_location("validate_manifests", SHARED_DIR / "tools" / "validate_manifests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counts = {"cel_rules_skipped": 0, "cel_rules_evaluated": 0}
    crds = module.CrdCatalog(SHARED_DIR / "crds", counts)
    cel = module.CelRules(counts)
    return lambda doc: module.validate_doc(doc, crds, cel, "1.31.0")


def _key(obj: dict) -> tuple:
    return obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]


def test_mutated_inputs_load_or_exit_2_and_what_loads_renders_valid(tmp_path):
    rng = random.Random(SEED)
    stacks = {s: stack_config(s) for s in ("prod", "sandbox")}
    stack_texts = {s: (PROJECT_DIR / f"Pulumi.{s}.yaml").read_text() for s in stacks}
    tenants = {t: tenant(t) for t in TENANTS}
    tenant_texts = {t: (PROJECT_DIR / "tenants" / f"{t}.yaml").read_text() for t in TENANTS}
    base_dir = tmp_path / "project"
    base_dir.mkdir()
    copy_project(base_dir)
    tenants_dir = base_dir / "tenants"

    outcomes = {"loaded": 0, "refused": 0}
    failures, renderable = [], []
    started = time.monotonic()
    for case in range(CASES):
        if time.monotonic() - started > DEADLINE_SECONDS:
            break
        stack = rng.choice(["prod", "prod", "sandbox"])
        raw = stacks[stack]
        target = rng.choice(["stack", "tenant"])
        textual = rng.random() < 0.2
        changed_tenant = None
        try:
            if target == "stack" and textual:
                text, what = mutate_text(stack_texts[stack], rng)
                (base_dir / f"Pulumi.{stack}.yaml").write_text(text)
                try:
                    raw, _ = read_stack_config(base_dir, stack)
                finally:
                    (base_dir / f"Pulumi.{stack}.yaml").write_text(stack_texts[stack])
            elif target == "stack":
                section = rng.choice(sorted(k for k in raw if k.startswith("kubeflow-platform:")))
                mutated, what = mutate({section: raw[section]}, rng)
                raw = {**raw, **mutated} if section in mutated else {k: v for k, v in raw.items() if k != section}
                raw = as_engine_config(raw)  # as the engine hands it over: objects JSON-encoded
            else:
                changed_tenant = rng.choice(TENANTS)
                if textual:
                    text, what = mutate_text(tenant_texts[changed_tenant], rng)
                else:
                    body, what = mutate(tenants[changed_tenant], rng)
                    text = yaml.safe_dump(body, sort_keys=False)
                (tenants_dir / f"{changed_tenant}.yaml").write_text(text)
            what = f"case {case} ({stack}, {target}): {what}"
            try:
                config = load_platform_config(stack, raw, PROJECT_DIR, tenants_dir)
            finally:
                if changed_tenant:
                    (tenants_dir / f"{changed_tenant}.yaml").write_text(tenant_texts[changed_tenant])
        except ConfigError as e:
            outcomes["refused"] += 1
            for issue in e.issues:
                if not (issue.file.startswith(("Pulumi.", "tenants/")) or "tenants" in issue.file) or not issue.message:
                    failures.append(f"{what}: issue without a file or message: {issue}")
            continue
        except Exception:  # noqa: BLE001 - anything but ConfigError is the bug this test looks for
            failures.append(f"{what}: {traceback.format_exc(limit=3)}")
            continue
        outcomes["loaded"] += 1
        if changed_tenant or raw is not stacks[stack]:
            renderable.append((stack, raw, changed_tenant, text if changed_tenant else None, what, config))

    cases = outcomes["loaded"] + outcomes["refused"]
    assert not failures, "\n".join(failures[:5])
    assert cases >= MIN_CASES, outcomes
    assert outcomes["refused"] > cases // 3 and outcomes["loaded"] > 0, outcomes

    # Render one changed input that loaded (a tenant's, when there is one: fewer objects change);
    # schema-validate every object that differs from the committed render (the rest is covered by
    # the render-contract tests).
    stack, raw, changed_tenant, text, what, _ = next((r for r in renderable if r[2]), renderable[0])
    project = tmp_path / "render"
    project.mkdir()
    copy_project(project)
    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": raw}))
    if changed_tenant:
        (project / "tenants" / f"{changed_tenant}.yaml").write_text(text)
    result = render_stack(project, stack)
    committed = {_key(o): o for o in rendered(stack).kubernetes_objects()}
    changed = [o for o in result.kubernetes_objects() if committed.get(_key(o)) != o]
    validate = _validator()
    invalid = {_key(o): errs for o in changed if (errs := validate(o))}
    assert not invalid, f"{what}: {invalid}"


# The keys the areas added (observability, compliance, backups, model registry): mutated on their
# own too, so every run reaches them, with values aimed at where they land (PromQL, cron, durations,
# URLs, OpenSearch patterns, booleans) besides the general pool.
NEW_TENANT_KEYS = {
    "serving": tenant("team-nlp")["serving"],
    "alerting": {"receiver": "pagerduty"},
    "compliance": "regulated",
    "backup": {"notebookVolumes": True},
    "modelRegistry": True,
}
NEW_STACK_SECTIONS = ("backup", "compliance", "observability")
NEW_HOSTILE = HOSTILE + [
    'x"} or vector(1) #', "Sentiment-Classifier", "a" * 46, "1m1h", "1h1h", "300y", "0", "0s", "0 0 31 2 *",
    "*/0 * * * *", "99 1 * * *", "0 1 * * 7", "*/ * * * *", "9999999h", "0h", "169h", "https://u:p@h.example.com",
    "https://h.example.com\n", "http://h.example.com", "https://h.example.com:99999", "{tenant}*", "/{tenant}.+/",
    "{tenant}", "platform", "standard", "regulated", "webhook", "no", "yes", 1, "/var/log/*.log", "**",
    "registry.ml.example.com/mirror/", 2**63, float("nan"), ["team-nlp", "team-nlp"], {"release": "a b"},
]
# Values aimed at a leaf by its key name: what its consumer (PromQL, Velero, Prometheus, OpenSearch)
# would choke on, or read differently from what the file says.
TARGETED = {
    "cron": ["0 0 31 2 *", "*/0 * * * *", "*/ * * * *", "99 1 * * *", "0 5-1 * * *", "0 1 * * 7", "0 1 * * 0",
             "0 0 29 2 *", "0  1 * * *", "5/15 * * * *", "0 1 1 * *", "@daily"],
    "ttl": ["0h", "24h", "25h", "9999999h", "2562047h", "1h30m", "30d"],
    "maxRetention": ["0h", "24h", "169h", "9999999h", "720"],
    "latencyFor": ["30m1h", "1h1h", "300y", "0", "1y"], "coldStartsFor": ["5m5m", "0s", "10m"],
    "for": ["1m\n", "300y", "1d2h"],
    "name": ['x"} or vector(1) #', "Sentiment-Classifier", "a" * 46, "a", ""],
    "runbookBaseUrl": ["https://u:p@h.example.com", "https://h.example.com\n", "http://h.example.com", "https://h.example.com/x?y"],
    "endpoint": ["https://h.example.com:99999", "https://admin:pw@h.example.com", "https://h.example.com\n", "h.example.com:443"],
    "webhookUrl": ["https://", "https://h.example.com/x y", "http://h.example.com"],
    "auditorGroup": ["{tenant}*", "/{tenant}.+/", "{tenant}?", "{tenant}", "system:{tenant}"],
    "logPath": ["/var/log/*.log", "/var/log/k8s.d/audit", "/var/log/a.log\n"],
    "registry": ["**", "registry.ml.example.com/mirror/", "*/x"],
    "receiver": [True, "slack", "webhook"], "compliance": ["standard", False, "Regulated"],
    "scaleToZero": ["no", 1, 0, "yes"], "notebookVolumes": ["no", "off", 1], "modelRegistry": ["true", 1],
    "region": ["EU Central", "eu-central-1\n"], "selectorLabels": [{"release": "a b"}, {}, {"a/b/c": "x"}],
    "defaultLevel": ["regulated", "standard", True], "pointInTime": [0, "2026-11-30T22:00:00", "garbage"],
}
NEW_KEY_CASES = 200
NEW_KEY_MIN_CASES = 40
NEW_KEY_DEADLINE_SECONDS = 2.5


def _consume(config) -> None:
    """What the render derives from the new keys without Pulumi: rule groups (PromQL from names and
    durations), backup alerts (cron gaps), the log index's role mappings (auditor groups)."""
    from kfplatform.backup.alerts import backup_rules
    from kfplatform.compliance.index_access import security_role_mappings
    from kfplatform.observability.component import rule_groups

    stack = config.stack
    rule_groups(config)
    backup_rules(stack.backup, velero_namespace=stack.cluster.namespaces.backup,
                 database_namespace=stack.cluster.namespaces.database, artifact_bucket="mlpipeline",
                 runbook_base_url=stack.observability.runbook_base_url)
    log_index = stack.compliance.log_index
    security_role_mappings([t.config.name for t in config.tenants], log_index.auditor_group_of, "platform-auditors")


def _mutate_new(data, rng: random.Random, under: str | None = None) -> tuple[object, str]:
    """Mostly a value aimed at the leaf's key (TARGETED), else a general mutation."""
    leaves = [(p, v) for p, v in _paths(data) if p and isinstance(p[-1], str) and p[-1] in TARGETED
              and (under is None or p[0] == under)]
    if leaves and rng.random() < 0.7:
        data = copy.deepcopy(data)
        path, _ = rng.choice(leaves)
        new = copy.deepcopy(rng.choice(TARGETED[path[-1]]))
        _set(data, path, new)
        return data, f"{path} = {new!r}"
    return mutate(data, rng, under=under, pool=NEW_HOSTILE)


def test_mutations_of_the_new_keys_load_or_exit_2(tmp_path):
    rng = random.Random(SEED + 1)
    stacks = {s: stack_config(s) for s in ("prod", "sandbox")}
    tenants = {t: tenant(t) for t in TENANTS}
    tenants_dir = tmp_path / "tenants"
    tenants_dir.mkdir()
    texts = {t: (PROJECT_DIR / "tenants" / f"{t}.yaml").read_text() for t in TENANTS}
    for name, text in texts.items():
        (tenants_dir / f"{name}.yaml").write_text(text)
    outcomes = {"loaded": 0, "refused": 0}
    failures = []
    started = time.monotonic()
    for case in range(NEW_KEY_CASES):
        if time.monotonic() - started > NEW_KEY_DEADLINE_SECONDS:
            break
        stack = rng.choice(["prod", "prod", "sandbox"])
        raw, changed = stacks[stack], None
        if rng.random() < 0.5:
            changed = rng.choice(TENANTS)
            key = rng.choice(sorted(NEW_TENANT_KEYS))
            body = {**tenants[changed]}
            body.setdefault(key, copy.deepcopy(NEW_TENANT_KEYS[key]))
            body, what = _mutate_new(body, rng, under=key)
            (tenants_dir / f"{changed}.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
        else:
            section = "kubeflow-platform:" + rng.choice(NEW_STACK_SECTIONS)
            mutated, what = _mutate_new({section: raw.get(section, {})}, rng)
            raw = {**{k: v for k, v in raw.items() if k != section}, **mutated}
            raw = as_engine_config(raw)
        what = f"case {case} ({stack}): {what}"
        try:
            config = load_platform_config(stack, raw, PROJECT_DIR, tenants_dir)
            _consume(config)
        except ConfigError as e:
            outcomes["refused"] += 1
            for issue in e.issues:
                if not (issue.file.startswith(("Pulumi.", "tenants/")) or "tenants" in issue.file) or not issue.message:
                    failures.append(f"{what}: issue without a file or message: {issue}")
        except Exception:  # noqa: BLE001 - anything but ConfigError is the bug this test looks for
            failures.append(f"{what}: {traceback.format_exc(limit=3)}")
        else:
            outcomes["loaded"] += 1
        finally:
            if changed:
                (tenants_dir / f"{changed}.yaml").write_text(texts[changed])
    assert not failures, "\n".join(failures[:5])
    cases = outcomes["loaded"] + outcomes["refused"]
    assert cases >= NEW_KEY_MIN_CASES and outcomes["loaded"] and outcomes["refused"], outcomes
