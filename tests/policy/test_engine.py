"""The harness is the engine's path: protobuf requests, proxies, pack config as the CLI reads it,
and the `python -m kfplatform policy` gate."""
from __future__ import annotations

import json

import pytest
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from kfguard import engine
from kfguard.pack import POLICIES, POLICY_NAMES

from .harness import GOOD_RESOURCES, SHA, UNKNOWN, deployment, recorded, resource, run


def test_policies_see_the_engines_proxies_floats_secrets_and_unknowns():
    """What a policy receives through the servicer: not dicts and lists, floats, unwrapped secrets."""
    seen = {}

    def probe(args, report_violation):
        spec = args.props["spec"]
        seen["spec"] = type(spec).__name__
        seen["containers"] = type(spec["template"]["spec"]["containers"]).__name__
        seen["replicas"] = spec["replicas"]
        seen["secret"] = args.props["metadata"]["annotations"]["s"]
        try:
            args.props["metadata"]["annotations"]["u"]
        except Exception as e:  # noqa: BLE001 - the engine's UnknownValueError
            seen["unknown"] = type(e).__name__

    policy = ResourceValidationPolicy("probe", "probe", probe)
    deploy = deployment("web", "kubeflow", "nginx:latest")
    deploy["inputs"]["metadata"]["annotations"] = {"s": "[secret]", "u": UNKNOWN}
    engine.evaluate([deploy], engine.reconcile({}, [policy]), [policy])
    assert seen == {"spec": "_DictProxy", "containers": "_ListProxy", "replicas": 2.0, "secret": "[secret]",
                    "unknown": "UnknownValueError"}
    request = engine.analyze_request(deploy)
    annotations = request.properties.fields["metadata"].struct_value.fields["annotations"].struct_value.fields
    assert annotations["s"].struct_value.fields[engine.SPECIAL_SIG_KEY].string_value == engine.SECRET_SIG


def test_an_unhandled_unknown_becomes_the_engines_advisory_note_which_the_report_shows():
    """What the pack's own policies must avoid (tests/policy/test_policies.py checks `not_run`)."""
    def naive(args, report_violation):
        for container in args.props["spec"]["template"]["spec"]["containers"]:
            dict(container)  # reads every field, the unknown one too

    policy = ResourceValidationPolicy("naive", "naive", naive)
    report = engine.evaluate([deployment("web", "kubeflow", UNKNOWN)], engine.reconcile({}, [policy]), [policy])
    assert report.violations == []
    assert [n.policy for n in report.not_run] == ["naive"] and "during preview" in report.not_run[0].message


def test_a_list_walk_written_for_plain_lists_misses_what_the_pack_catches():
    """The defect this harness exists for: `isinstance(x, list)` is False on the engine's lists."""
    def old_walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "image":
                    yield item
                else:
                    yield from old_walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from old_walk(item)

    images = []
    policy = ResourceValidationPolicy("old", "old", lambda args, report: images.extend(old_walk(args.props)))
    deploy = deployment("web", "kubeflow", "nginx:latest", resources=GOOD_RESOURCES)
    engine.evaluate([deploy], engine.reconcile({}, [policy]), [policy])
    assert images == []  # the proxies are neither dict nor list
    assert any("nginx:latest" in v.message for v in run([deploy]).violations)


def test_stack_policies_get_parents_dependencies_and_protect():
    seen = {}

    def probe(args, report_violation):
        for r in args.resources:
            seen[r.name] = (r.opts.protect, [d.name for d in r.dependencies], r.parent.name if r.parent else None)

    policy = StackValidationPolicy("probe", "probe", probe)
    parent = resource("kfplatform:index:Platform", "platform", {}, custom=False)
    child = resource("random:index/randomPassword:RandomPassword", "pw", {"length": 20}, protect=True,
                     dependencies=[parent["urn"]])
    child["parent"] = parent["urn"]
    engine.evaluate([parent, child], engine.reconcile({}, [policy]), [policy])
    assert seen["pw"] == (True, ["platform"], "platform")


# --------------------------------------------------------------------------------------------
# Pack config files, as `pulumi preview --policy-pack-config FILE` reads them.
# --------------------------------------------------------------------------------------------

def test_prod_is_mandatory_and_sandbox_advisory():
    prod, sandbox = engine.load_config(engine.config_for_stack("prod")), engine.load_config(engine.config_for_stack("sandbox"))
    assert set(prod) == set(sandbox) == set(POLICY_NAMES)
    assert {name: level for name, (level, _) in prod.items() if level != "mandatory"} == {
        "explicit-object-names": "advisory", "image-digests-verified": "advisory"}
    assert {level for level, _ in sandbox.values()} == {"advisory"}


@pytest.mark.parametrize("stack", ["prod", "sandbox"])
def test_the_pack_config_names_the_stacks_mirror(stack):
    """A policy cannot read the stack config: the registry it enforces is repeated in the pack config."""
    import yaml

    from tests.conftest import PROJECT_DIR

    mirror = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]["kubeflow-platform:images"]["mirror"]
    _, props = engine.load_config(engine.config_for_stack(stack))["images-pinned-by-digest"]
    assert props["registries"] == [mirror]


@pytest.mark.parametrize("stack", ["prod", "sandbox"])
def test_the_pack_config_holds_the_stacks_rotation_age(stack):
    """The policy's maximum age is the stack's (secrets.rotationDays for database passwords,
    data.objectStore.accessKeyMaxAgeDays for object-store keys): changing one shows in both files."""
    import yaml

    from tests.conftest import PROJECT_DIR

    config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    ages = [config["kubeflow-platform:secrets"]["rotationDays"],
            config["kubeflow-platform:data"]["objectStore"]["accessKeyMaxAgeDays"]]
    _, props = engine.load_config(engine.config_for_stack(stack))["credential-rotation"]
    assert props["maxAgeDays"] == max(ages)


@pytest.mark.parametrize("stack", ["prod", "sandbox"])
def test_the_pack_config_holds_the_stacks_failure_domain(stack):
    """MinIO must survive a zone where the cluster spans zones (kfplatform/data/checks.py), else a node."""
    import yaml

    from tests.conftest import PROJECT_DIR

    zones = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]["kubeflow-platform:cluster"]["zones"]
    _, props = engine.load_config(engine.config_for_stack(stack))["ha-floors"]
    assert props["failureDomain"] == ({"kind": "zone", "zones": len(zones)} if len(zones) >= 2 else {"kind": "node"})


def test_reconcile_follows_the_cli():
    """Defaults from schemas, then `all`, then per-policy levels and properties (pulumi
    pkg/resource/analyzer/config.go applyConfig)."""
    result = engine.reconcile({"all": "advisory", "ha-floors": {"enforcementLevel": "mandatory", "galeraMinReplicas": 5},
                               "explicit-object-names": "disabled"})
    assert result["ha-floors"][0] == "mandatory" and result["ha-floors"][1]["galeraMinReplicas"] == 5
    assert result["ha-floors"][1]["minioMinServers"] == 4  # the schema default survives
    assert result["tenant-isolation"] == ("advisory", {})
    assert result["explicit-object-names"][0] == "disabled"
    assert engine.reconcile({})["explicit-object-names"][0] == "advisory"  # the policy's own level
    assert engine.reconcile({})["ha-floors"][0] == "mandatory"  # the pack's level


@pytest.mark.parametrize(
    "raw, error",
    [
        ({"ha-floor": "mandatory"}, "ha-floor: no such policy in the pack"),
        ({"all": "strict"}, "all: 'strict' is not a valid enforcement level"),
        ({"ha-floors": {"enforcementLevel": "hard"}}, "ha-floors.enforcementLevel: 'hard' is not a valid enforcement level"),
        ({"ha-floors": {"galeraMinReplicas": "three"}}, "ha-floors.galeraMinReplicas: 'three' is not of type 'integer'"),
        ({"ha-floors": {"failureDomain": {"kind": "rack"}}}, "ha-floors.failureDomain.kind: 'rack' is not one of"),
        ({"credential-rotation": {"maxAgeDays": 0}}, "credential-rotation.maxAgeDays: 0 is less than the minimum of 1"),
        ({"images-pinned-by-digest": {"registries": "registry.example.com"}}, "images-pinned-by-digest.registries:"),
        ({"ha-floors": 3}, "ha-floors: must be a string or an object"),
    ],
)
def test_bad_pack_config_names_the_file_the_policy_and_the_key(tmp_path, raw, error):
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(engine.PolicyConfigError) as e:
        engine.load_config(path)
    assert str(e.value).startswith(f"{path}: ") and error in str(e.value), str(e.value)


def test_disabled_policies_do_not_run():
    deploy = deployment("web", "kubeflow", "nginx:latest", resources=GOOD_RESOURCES)
    report = run([deploy], cfg=engine.reconcile({"images-pinned-by-digest": "disabled"}))
    assert not any(v.policy == "images-pinned-by-digest" for v in report.violations)


def test_every_policy_is_named_described_and_typed():
    for policy in POLICIES:
        assert policy.name and len(policy.description) > 40, policy.name
        assert isinstance(policy, (ResourceValidationPolicy, StackValidationPolicy))
    assert len(set(POLICY_NAMES)) == len(POLICY_NAMES)


# --------------------------------------------------------------------------------------------
# The gate: `python -m kfplatform policy build/STACK/resources.json`
# --------------------------------------------------------------------------------------------

def _write(tmp_path, rows, name="resources.json"):
    path = tmp_path / name
    path.write_text(json.dumps(rows))
    return path


def test_the_gate_fails_prod_on_the_placeholder_digests(prod, tmp_path, capsys):
    from kfplatform.cli import main

    assert main(["policy", str(_write(tmp_path, recorded(prod)))]) == 1
    out = capsys.readouterr().out
    assert "[mandatory] images-pinned-by-digest: kubernetes:apps/v1:Deployment::proxysql" in out
    assert "placeholder digest\n    fix: resolve the real digest" in out
    assert out.strip().splitlines()[-1].startswith("policy pack (config prod.json): ")
    from tests.policy.test_policies import PLACEHOLDERS_BY_STACK

    assert f" {len(PLACEHOLDERS_BY_STACK['prod'])} mandatory violation(s), 3 advisory, 0 not run" in out


def test_the_gate_passes_advisory_only_and_compliant_renders(sandbox, tmp_path, capsys):
    from kfplatform.cli import main

    assert main(["policy", str(_write(tmp_path, recorded(sandbox)))]) == 0
    assert "[advisory] ha-floors:" in capsys.readouterr().out



def test_prod_passes_the_gate_once_its_digests_are_real(prod, tmp_path, capsys):
    from kfplatform.cli import main

    text = json.dumps(recorded(prod)).replace("sha256:" + "0" * 64, SHA)
    assert main(["policy", str(_write(tmp_path, json.loads(text)))]) == 0
    assert "0 mandatory violation(s), 3 advisory, 0 not run" in capsys.readouterr().out


def test_the_gate_takes_an_explicit_pack_config(tmp_path, capsys):
    from kfplatform.cli import main

    nginx = [deployment("web", "kubeflow", "nginx:latest", resources=GOOD_RESOURCES)]
    assert main(["policy", str(_write(tmp_path, nginx))]) == 1  # the stack's file (prod.json): mandatory
    capsys.readouterr()
    config = tmp_path / "relaxed.json"
    config.write_text(json.dumps({"all": "advisory"}))
    assert main(["policy", str(_write(tmp_path, nginx)), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "(config relaxed.json)" in out and "[advisory] images-pinned-by-digest: kubernetes:apps/v1:Deployment::kubeflow-web" in out


@pytest.mark.parametrize("content, error", [(None, "cannot read"), ("{not json", "cannot read"), ('[{"x": 1}]', "not a render's")])
def test_the_gate_refuses_unreadable_input_with_exit_2(tmp_path, capsys, content, error):
    from kfplatform.cli import main

    path = tmp_path / "resources.json"
    if content is not None:
        path.write_text(content)
    assert main(["policy", str(path)]) == 2
    assert error in capsys.readouterr().err


def test_a_bad_pack_config_is_exit_2(prod, tmp_path, capsys):
    from kfplatform.cli import main

    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"ha-floor": "mandatory"}))
    assert main(["policy", str(_write(tmp_path, recorded(prod))), "--config", str(config)]) == 2
    assert "ha-floor: no such policy" in capsys.readouterr().err


def test_render_refuses_an_invalid_stack_pack_config(prod, tmp_path, monkeypatch):
    from kfplatform.render.output import write_render_with_gate
    from kfplatform.render.policy import PolicyInputError

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "prod.json").write_text(json.dumps({"ha-floors": {"minioMinServers": 0}}))
    monkeypatch.setattr(engine, "CONFIG_DIR", tmp_path / "config")
    with pytest.raises(PolicyInputError, match=r"prod.json: ha-floors.minioMinServers: 0 is less than the minimum of 1"):
        write_render_with_gate(prod, tmp_path / "out")
    assert (tmp_path / "out" / "resources.json").exists()  # the render itself was written
