"""The pack's real entry point, as the Pulumi CLI starts it: `python policy/__main__.py` serves
the analyzer over gRPC on loopback; the CLI reads the port, asks GetAnalyzerInfo, sends Configure,
Analyze and AnalyzeStack. The offline harness (kfguard.engine) must answer exactly the same."""
from __future__ import annotations

import subprocess
import sys

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from kfguard import engine
from kfguard.pack import POLICY_NAMES

from tests.conftest import PROJECT_DIR

from .harness import GOOD_RESOURCES, deployment, recorded


@pytest.fixture(scope="module")
def plugin():
    """The pack started like `pulumi preview --policy-pack policy` starts it; stopped after the module."""
    process = subprocess.Popen([sys.executable, "__main__.py"], cwd=PROJECT_DIR / "policy", stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        port = int(process.stdout.readline().decode().strip() or 0)
        assert port, process.stderr.read().decode()[-2000:] if process.poll() is not None else "no port printed"
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _configure(stub, stack: str) -> None:
    request = proto.ConfigureAnalyzerRequest()
    for name, (level, props) in engine.load_config(engine.config_for_stack(stack)).items():
        entry = proto.PolicyConfig(enforcementLevel=engine._proto_level(level))
        if props:
            entry.properties.update(props)
        request.policyConfig[name].CopyFrom(entry)
    stub.Configure(request, timeout=30)


def _diagnostics(response) -> list[tuple]:
    return sorted((d.policyName, d.urn, d.message, d.enforcementLevel) for d in response.diagnostics)


def test_the_plugin_announces_the_packs_policies(plugin):
    info = plugin.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == engine.PACK_NAME and info.version == engine.SERVICER_VERSION and info.supportsConfig
    assert [p.name for p in info.policies] == POLICY_NAMES
    levels = {p.name: p.enforcementLevel for p in info.policies}
    assert levels["explicit-object-names"] == proto.ADVISORY and levels["ha-floors"] == proto.MANDATORY
    schema = next(p.configSchema for p in info.policies if p.name == "credential-rotation")
    assert schema.properties["maxAgeDays"]["default"] == 90
    version = (PROJECT_DIR / "policy" / "PulumiPolicy.yaml").read_text()
    assert f"version: {engine.PACK_VERSION}" in version


def test_the_plugin_and_the_harness_give_the_same_answers(plugin, prod):
    _configure(plugin, "prod")
    config = engine.load_config(engine.config_for_stack("prod"))
    nginx = deployment("web", "kubeflow", "nginx:latest", resources=GOOD_RESOURCES)
    over_grpc = plugin.Analyze(engine.analyze_request(nginx), timeout=30)
    in_process = engine.servicer(config).Analyze(engine.analyze_request(nginx), None)
    assert _diagnostics(over_grpc) == _diagnostics(in_process)
    assert any("nginx:latest" in d.message and d.enforcementLevel == proto.MANDATORY for d in over_grpc.diagnostics)

    resources = recorded(prod)
    request = proto.AnalyzeStackRequest(resources=[engine.analyzer_resource(r) for r in resources])
    over_grpc = plugin.AnalyzeStack(request, timeout=60)
    in_process = engine.servicer(config).AnalyzeStack(request, None)
    assert _diagnostics(over_grpc) == _diagnostics(in_process)
    tampered = [r for r in resources if r["name"] != "team-nlp-quota"]
    request = proto.AnalyzeStackRequest(resources=[engine.analyzer_resource(r) for r in tampered])
    assert any("team-nlp has no ResourceQuota" in d.message
               for d in plugin.AnalyzeStack(request, timeout=60).diagnostics)
