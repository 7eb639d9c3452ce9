"""Run the pack exactly as `pulumi preview --policy-pack policy` does, over a recorded render.

The Pulumi CLI starts the pack's analyzer (pulumi-policy's `_PolicyAnalyzerServicer`), sends it
`Configure` with the reconciled pack config, then one `Analyze(AnalyzeRequest)` per resource
(its inputs) and one `AnalyzeStack(AnalyzeStackRequest)` with every resource. Properties travel
as a protobuf `Struct` marshalled with KeepUnknowns and KeepSecrets (pulumi
pkg/resource/plugin/analyzer_plugin.go: `MarshalOptions{KeepUnknowns: true, KeepSecrets: true,
SkipInternalKeys: true}`): an unknown value is the sentinel string `04da6b54-...` (pulumi
sdk/python/lib/pulumi/runtime/rpc.py `UNKNOWN`), a secret is `{4dabf18193072939515e22adb298388d:
1b47061264138c4ac30d75fd1eb44270, value: ...}`. The servicer deserializes and wraps them in its
unknown-checking proxies, so policies see `_DictProxy`/`_ListProxy`, floats for every number, and
`UnknownValueError` on unknowns - here too. Nothing is called on the policies directly.

Pack config files (`policy/config/<stack>.json`) are read the way the CLI reads
`--policy-pack-config` (pulumi pkg/resource/analyzer/config.go, `parsePolicyPackConfig` and
`ReconcilePolicyPackConfig`): `{"all": "<level>", "<policy>": "<level>" | {"enforcementLevel":
..., <property>: ...}}`; defaults come from each policy's config schema, then `all`, then each
policy's entry; every policy's properties are validated against its schema. Unlike the CLI, an
entry naming no policy of the pack is an error here (a typo would otherwise disable nothing).

Upstream read for this (pulumi/pulumi at commit 1b5949891b): pkg/resource/analyzer/config.go
(config file format, `all`, reconciliation, schema validation), pkg/resource/plugin/analyzer_plugin.go
(marshalling), pkg/resource/deploy/step_generator.go (`AnalyzeResources`: every resource of the
stack, with parent, dependencies and protect), pkg/cmd/pulumi/operations/preview.go (the
`--policy-pack-config` flag), pkg/cmd/pulumi/install/install.go (`pulumi install` in a policy pack
nested in a project installs the pack's dependencies); pulumi-policy 1.21.0 policy.py/proxy.py.
"""
from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from .pack import FIX, PACK_NAME, POLICIES

PACK_VERSION = "0.2.0"  # PulumiPolicy.yaml `version` (what the CLI shows)
# What pulumi-policy's PolicyPack hands its servicer ("0.0.1": the CLI takes the version from
# PulumiPolicy.yaml); the servicer puts it in its own messages, so the harness passes the same.
SERVICER_VERSION = "0.0.1"
PACK_ENFORCEMENT = EnforcementLevel.MANDATORY  # policy/__main__.py: the pack's default
CONFIG_DIR = pathlib.Path(__file__).resolve().parent.parent / "config"

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi.runtime.rpc.UNKNOWN (string unknown)
SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RECORDED_SECRET = "[secret]"  # how kfplatform/render/mocks.py records a secret value

LEVELS = {"advisory": EnforcementLevel.ADVISORY, "mandatory": EnforcementLevel.MANDATORY,
          "remediate": EnforcementLevel.REMEDIATE, "disabled": EnforcementLevel.DISABLED}
_PROTO_LEVEL_NAMES = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory",
                      proto.REMEDIATE: "remediate", proto.DISABLED: "disabled"}


class PolicyConfigError(ValueError):
    """A pack config file the CLI would refuse (or that names no policy of the pack)."""


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str  # mandatory | advisory | remediate
    urn: str
    message: str
    hint: str

    @property
    def resource(self) -> str:
        """`<type>::<name>` of the URN (or `stack` for a stack-wide violation)."""
        if not self.urn:
            return "stack"
        parts = self.urn.split("::")
        return f"{parts[-2].split('$')[-1]}::{parts[-1]}" if len(parts) >= 2 else self.urn

    @property
    def mandatory(self) -> bool:
        return self.level in ("mandatory", "remediate")


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    # "can't run policy during preview" notes: a policy that hit an unknown it did not handle.
    not_run: list[Violation] = field(default_factory=list)
    resources: int = 0

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.mandatory]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if not v.mandatory]


# ------------------------------------------------------------------------------------------------
# Pack config: the `--policy-pack-config` file, reconciled as the CLI does.
# ------------------------------------------------------------------------------------------------

def parse_config(raw: Mapping[str, Any], source: str = "policy config") -> dict[str, tuple[str | None, dict]]:
    """`{name: (level or None, properties)}` from a config file's JSON (pulumi's parsePolicyPackConfig)."""
    if not isinstance(raw, Mapping):
        raise PolicyConfigError(f"{source}: expected a JSON object of policy names")
    parsed: dict[str, tuple[str | None, dict]] = {}
    for key, value in raw.items():
        if key == "environments":
            continue
        if isinstance(value, str):
            if value not in LEVELS:
                raise PolicyConfigError(f"{source}: {key}: {value!r} is not a valid enforcement level ({', '.join(LEVELS)})")
            parsed[key] = (value, {})
        elif isinstance(value, Mapping):
            props = dict(value)
            level = props.pop("enforcementLevel", None)
            if level is not None and level not in LEVELS:
                raise PolicyConfigError(f"{source}: {key}.enforcementLevel: {level!r} is not a valid enforcement level")
            if level is None and not props:
                continue
            parsed[key] = (level, props)
        else:
            raise PolicyConfigError(f"{source}: {key}: must be a string or an object")
    return parsed


def reconcile(raw: Mapping[str, Any] | None, policies: Sequence = POLICIES,
              source: str = "policy config") -> dict[str, tuple[str, dict]]:
    """Every policy's (enforcement level, properties) after defaults, `all` and per-policy entries."""
    import jsonschema

    given = parse_config(raw or {}, source)
    known = {p.name for p in policies}
    unknown = sorted(set(given) - known - {"all"})
    if unknown:
        raise PolicyConfigError(f"{source}: {', '.join(unknown)}: no such policy in the pack ({', '.join(sorted(known))})")
    result: dict[str, tuple[str, dict]] = {}
    for policy in policies:
        level = policy.enforcement_level or PACK_ENFORCEMENT
        schema = policy.config_schema.properties if policy.config_schema else {}
        defaults = {k: v["default"] for k, v in (schema or {}).items() if "default" in v}
        result[policy.name] = (level.value, defaults)
    if "all" in given and given["all"][0]:
        result = {name: (given["all"][0], props) for name, (_, props) in result.items()}
    for name, (level, props) in given.items():
        if name == "all":
            continue
        old_level, old_props = result[name]
        result[name] = (level or old_level, {**old_props, **props})
    for policy in policies:
        if policy.config_schema is None:
            continue
        schema = {"type": "object", "properties": policy.config_schema.properties}
        if policy.config_schema.required:
            schema["required"] = policy.config_schema.required
        for error in jsonschema.Draft7Validator(schema).iter_errors(result[policy.name][1]):
            where = ".".join(str(p) for p in error.absolute_path)
            raise PolicyConfigError(f"{source}: {policy.name}{'.' + where if where else ''}: {error.message}")
    return result


def load_config(path: pathlib.Path | str | None) -> dict[str, tuple[str, dict]]:
    if path is None:
        return reconcile({})
    path = pathlib.Path(path)
    try:
        raw = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError) as e:
        raise PolicyConfigError(f"{path}: cannot read: {e}") from None
    return reconcile(raw, source=str(path))


def config_for_stack(stack: str) -> pathlib.Path | None:
    path = CONFIG_DIR / f"{stack}.json"
    return path if path.exists() else None


# ------------------------------------------------------------------------------------------------
# Resources as the engine sends them.
# ------------------------------------------------------------------------------------------------

def engine_value(value: Any) -> Any:
    """A recorded JSON value in the engine's wire encoding (secrets wrapped; unknowns stay sentinels)."""
    if isinstance(value, Mapping):
        return {str(k): engine_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [engine_value(v) for v in value]
    if value == RECORDED_SECRET:
        return {SPECIAL_SIG_KEY: SECRET_SIG, "value": RECORDED_SECRET}
    return value


def struct(props: Mapping[str, Any] | None) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(engine_value(dict(props or {})))
    return message


def _options(r: Mapping[str, Any]) -> proto.AnalyzerResourceOptions:
    return proto.AnalyzerResourceOptions(
        protect=bool(r.get("protect")),
        ignoreChanges=list(r.get("ignore_changes") or []),
        parent=r.get("parent") or "",
    )


def analyze_request(r: Mapping[str, Any]) -> proto.AnalyzeRequest:
    return proto.AnalyzeRequest(type=r["type"], properties=struct(r.get("inputs")), urn=r["urn"], name=r["name"],
                                options=_options(r))


def analyzer_resource(r: Mapping[str, Any]) -> proto.AnalyzerResource:
    return proto.AnalyzerResource(
        type=r["type"], properties=struct(r.get("inputs")), urn=r["urn"], name=r["name"], options=_options(r),
        parent=r.get("parent") or "", dependencies=list(r.get("dependencies") or []),
    )


def servicer(config: Mapping[str, tuple[str, dict]], policies: Sequence = POLICIES) -> _PolicyAnalyzerServicer:
    """The pack's analyzer, configured as the CLI configures it."""
    analyzer = _PolicyAnalyzerServicer(PACK_NAME, SERVICER_VERSION, list(policies), PACK_ENFORCEMENT)
    request = proto.ConfigureAnalyzerRequest()
    for name, (level, props) in config.items():
        entry = proto.PolicyConfig(enforcementLevel=_proto_level(level))
        if props:
            entry.properties.update(json.loads(json.dumps(props)))
        request.policyConfig[name].CopyFrom(entry)
    analyzer.Configure(request, None)
    return analyzer


def _proto_level(level: str) -> int:
    return {v: k for k, v in _PROTO_LEVEL_NAMES.items()}[level]


def _diagnostics(response, report: Report) -> None:
    for d in response.diagnostics:
        level = _PROTO_LEVEL_NAMES.get(d.enforcementLevel, "advisory")
        text = d.message
        if text.startswith("can't run policy"):
            report.not_run.append(Violation(d.policyName, level, d.urn, text, ""))
            continue
        # report_violation prefixes the policy description: "<description>\n<message>\nfix: <hint>"
        body = text[len(d.description) + 1:] if text.startswith(d.description + "\n") else text
        message, _, hint = body.partition(FIX)
        report.violations.append(Violation(d.policyName, level, d.urn, message, hint))


def evaluate(resources: Iterable[Mapping[str, Any]], config: Mapping[str, tuple[str, dict]] | None = None,
             policies: Sequence = POLICIES) -> Report:
    """Run the pack over recorded resources (resources.json entries) through the analyzer servicer."""
    resources = list(resources)
    analyzer = servicer(config if config is not None else reconcile({}, policies), policies)
    report = Report(resources=len(resources))
    for r in resources:
        _diagnostics(analyzer.Analyze(analyze_request(r), None), report)
    _diagnostics(analyzer.AnalyzeStack(proto.AnalyzeStackRequest(resources=[analyzer_resource(r) for r in resources]), None),
                 report)
    return report


def stack_of(resources: Sequence[Mapping[str, Any]]) -> str:
    for r in resources:
        urn = r.get("urn") or ""
        if urn.startswith("urn:pulumi:"):
            return urn.split(":")[2]
    return ""


def evaluate_file(path: pathlib.Path | str, config_path: pathlib.Path | str | None = None) -> tuple[Report, str, pathlib.Path | None]:
    """A render's resources.json through the pack; config: the given file, or policy/config/<stack>.json."""
    resources = json.loads(pathlib.Path(path).read_text())
    stack = stack_of(resources)
    config_file = pathlib.Path(config_path) if config_path else config_for_stack(stack)
    return evaluate(resources, load_config(config_file)), stack, config_file


def format_report(report: Report, stack: str = "", config_file: pathlib.Path | None = None) -> str:
    """One block per violation: policy, level, resource, message, fix hint."""
    lines = []
    for v in sorted(report.violations, key=lambda v: (not v.mandatory, v.policy, v.urn, v.message)):
        lines += [f"[{v.level}] {v.policy}: {v.resource}", f"    {v.message}"]
        if v.hint:
            lines.append(f"    fix: {v.hint}")
    for v in report.not_run:
        lines.append(f"[not run] {v.policy}: {v.message}")
    source = f" (config {config_file.name})" if config_file else " (pack defaults)"
    lines.append(
        f"policy pack{source}: {report.resources} resources{f' of stack {stack}' if stack else ''}, "
        f"{len(report.mandatory)} mandatory violation(s), {len(report.advisory)} advisory, "
        f"{len(report.not_run)} not run (unknown values)"
    )
    return "\n".join(lines)


def as_json(report: Report) -> list[dict]:
    return [
        {"policy": v.policy, "level": v.level, "urn": v.urn, "resource": v.resource, "message": v.message, "fix": v.hint}
        for v in report.violations
    ]
