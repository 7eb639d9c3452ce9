"""Class 5, egress allow-lists: share of the address space, metadata and link-local, the cluster's own
ranges, prefix limits, explicit ports, and no tenant route into platform namespaces."""
from __future__ import annotations

import pytest

from tests.config.helpers import errors, load, stack_config, tenant

IDP = "kubeflow-platform:network"


def _stack(cidrs: list[str] | None = None, key: str = "identityProvider", limits: dict | None = None) -> dict:
    config = stack_config()
    if cidrs is not None:
        config[IDP]["egress"][key]["cidrs"] = cidrs
    if limits is not None:
        config[IDP]["cidrLimits"] = limits
    return config


def sixteens(n: int, first: int = 60) -> list[str]:
    return [f"{first + i}.0.0.0/16" for i in range(n)]


@pytest.mark.parametrize("cidrs, why", [
    (["0.0.0.0/1", "128.0.0.0/1"], "broader than /16"),
    (["203.0.0.0/15"], "broader than /16"),
    (["2001:db8::/32"], "broader than /48"),
    (["169.254.169.254/32"], "169.254.0.0/16"),
    (["169.254.0.0/16"], "169.254.0.0/16"),
    (["fe80::1/128"], "fe80::/10"),
    (["fd00:ec2::254/128"], "fd00:ec2::254/128"),
    (["::ffff:169.254.169.254/128"], "IPv4-mapped"),
    (["10.0.5.0/24"], "pod range 10.0.0.0/16"),
    (["10.100.0.10/32"], "Service range 10.100.0.0/16"),
    (["10.100.0.1/32"], "Service range"),  # the kubernetes ClusterIP: only kubernetesApi may name it
])
def test_stack_egress_blocks_refused(tmp_path, cidrs, why):
    issues = errors(tmp_path, _stack(cidrs))
    assert issues and all(i.startswith(f"Pulumi.prod.yaml: {IDP}.egress.identityProvider.cidrs: ") or
                          i.startswith(f"Pulumi.prod.yaml: {IDP}.egress: ") for i in issues), issues
    assert any(why in i for i in issues), issues


@pytest.mark.parametrize("cidrs", [
    ["198.51.100.16/29"], ["203.0.0.0/16"], ["2001:db8::/48"], ["10.2.0.0/24"], ["169.253.255.255/32"],
    ["198.51.100.0/24", "198.51.100.0/25"], sixteens(6),
])
def test_stack_egress_neighbours_load(tmp_path, cidrs):
    assert load(tmp_path, _stack(cidrs))


def test_the_union_is_measured_after_merging_overlaps(tmp_path):
    # Six /16s are 0.009% of IPv4; a seventh tips the union over the default 0.01%.
    (issue,) = errors(tmp_path / "bad", _stack(sixteens(7)))
    assert issue.startswith(f"Pulumi.prod.yaml: {IDP}.egress: the egress CIDRs of network.egress together cover")
    # The same seven, overlapping into one /16 and some /24s, are fine.
    assert load(tmp_path / "good", _stack(["60.0.0.0/16"] + [f"60.0.{i}.0/24" for i in range(6)]))


def test_two_halves_are_the_internet_whatever_the_limits(tmp_path):
    limits = {"maxAddressShare": 0.9, "broadestPrefixV4": 1, "broadestPrefixV6": 1}
    issues = errors(tmp_path, _stack(["0.0.0.0/1", "128.0.0.0/1"], limits=limits))
    assert f"Pulumi.prod.yaml: {IDP}.egress: the egress CIDRs of network.egress together cover 100.0000% of the " \
           "IPv4 address space (0.0.0.0/0), more than network.cidrLimits.maxAddressShare 0.9" in issues
    assert load(tmp_path / "ok", _stack(["192.0.0.0/2"], limits={**limits, "maxAddressShare": 0.5}))


def test_ipv4_and_ipv6_are_counted_apart(tmp_path):
    # Each family at just under the share: neither exceeds it, together they are not summed.
    assert load(tmp_path, _stack(sixteens(6) + ["2001:db8::/48"]))


@pytest.mark.parametrize("cidrs, ok", [
    (["10.100.0.1/32", "172.20.10.0/28"], True),   # the kubernetes Service ClusterIP + the API endpoints
    (["10.100.0.2/32", "172.20.10.0/28"], False),  # another Service's address
    (["10.100.0.0/30"], False),                    # more than the one address
    (["10.0.0.1/32"], False),                      # a pod address
])
def test_the_kubernetes_api_entry_may_name_only_the_api_service_ip(tmp_path, cidrs, ok):
    config = _stack(cidrs, key="kubernetesApi")
    if ok:
        assert load(tmp_path, config)
    else:
        (issue,) = errors(tmp_path, config)
        assert issue.startswith(f"Pulumi.prod.yaml: {IDP}.egress.kubernetesApi.cidrs: ")


@pytest.mark.parametrize("key", ["podCidrs", "serviceCidrs"])
def test_cluster_ranges_are_required(tmp_path, key):
    config = stack_config()
    del config["kubeflow-platform:cluster"][key]
    (issue,) = errors(tmp_path, config)
    assert issue.startswith(f"Pulumi.prod.yaml: kubeflow-platform:cluster.{key}: required")


@pytest.mark.parametrize("value", [["10.100.0.1/16"], ["10.100.0.0/16\n"], ["not-a-cidr"], [True]])
def test_cluster_ranges_are_cidrs(tmp_path, value):
    config = stack_config()
    config["kubeflow-platform:cluster"]["serviceCidrs"] = value
    (issue,) = errors(tmp_path, config)
    assert issue.startswith("Pulumi.prod.yaml: kubeflow-platform:cluster.serviceCidrs: ")


def test_stack_egress_needs_ports(tmp_path):
    config = stack_config()
    del config[IDP]["egress"]["identityProvider"]["ports"]
    (issue,) = errors(tmp_path, config)
    assert issue.startswith(f"Pulumi.prod.yaml: {IDP}.egress: identityProvider: give `ports`")


def _proxy(**peer) -> dict:
    body = tenant("team-nlp")
    body["egressProxy"] = peer
    return {"team-nlp": body}


@pytest.mark.parametrize("peer, key, why", [
    ({"cidrs": ["10.20.0.10/32"]}, "egressProxy", "give `ports`"),
    ({"cidrs": ["10.20.0.10/32"], "ports": []}, "egressProxy", "give `ports`"),
    ({"cidrs": ["0.0.0.0/0"], "ports": [{"port": 3128}]}, "egressProxy", "whole internet"),
    ({"cidrs": ["10.0.0.0/8"], "ports": [{"port": 3128}]}, "egressProxy.cidrs", "broader than /16"),
    ({"cidrs": ["169.254.169.254/32"], "ports": [{"port": 80}]}, "egressProxy.cidrs", "metadata"),
    ({"cidrs": ["10.0.3.7/32"], "ports": [{"port": 3128}]}, "egressProxy.cidrs", "pod range"),
    ({"cidrs": ["10.100.0.1/32"], "ports": [{"port": 443}]}, "egressProxy.cidrs", "Service range"),
    ({"cidrs": sixteens(7), "ports": [{"port": 3128}]}, "egressProxy.cidrs", "what this team's pods may reach"),
    ({"namespace": "kubeflow-db", "ports": [{"port": 3306}]}, "egressProxy.namespace", "database"),
    ({"namespace": "monitoring", "ports": [{"port": 9090}]}, "egressProxy.namespace", "monitoring"),
    ({"namespace": "kube-system", "ports": [{"port": 443}]}, "egressProxy.namespace", "kube-*"),
    ({"namespace": "logging", "ports": [{"port": 4317}]}, "egressProxy.namespace", "logging"),
    ({"namespace": "kubeflow", "ports": [{"port": 8888}]}, "egressProxy.namespace", "kubeflow"),
    ({"namespace": "platform-operators", "ports": [{"port": 8200}]}, "egressProxy.namespace", "operators"),
    ({"namespace": "team-vision", "ports": [{"port": 3128}]}, "egressProxy.namespace", "a team's namespace"),
    ({"namespace": "egress-proxy", "podLabels": {"app": "squid\n"}, "ports": [{"port": 3128}]}, "egressProxy.podLabels", "label"),
])
def test_tenant_egress_proxy_refused(tmp_path, peer, key, why):
    issues = errors(tmp_path, tenants=_proxy(**peer))
    assert any(i.startswith(f"tenants/team-nlp.yaml: {key}") and why in i for i in issues), issues


@pytest.mark.parametrize("peer", [
    {"cidrs": ["10.20.0.10/32"], "ports": [{"port": 3128}]},
    {"cidrs": ["203.0.113.0/24", "2001:db8:1::/48"], "ports": [{"port": 3128}, {"port": 3129}]},
    {"namespace": "egress-proxy", "podLabels": {"app.kubernetes.io/name": "squid"}, "ports": [{"port": 3128}]},
    {"cidrs": sixteens(5), "ports": [{"port": 3128}]},
])
def test_tenant_egress_proxy_neighbours_load(tmp_path, peer):
    assert load(tmp_path, tenants=_proxy(**peer))


@pytest.mark.parametrize("key, why", [
    ("proxy", "reserved"), ("kfp-api", "camelCase"), ("KfpApi", "camelCase"), ("a b", "camelCase"), ("x" * 42, "camelCase"),
])
def test_allow_list_keys_name_network_policies(tmp_path, key, why):
    config = stack_config()
    config[IDP]["egress"][key] = {"namespace": "egress-proxy", "ports": [{"port": 3128}]}
    (issue,) = errors(tmp_path, config)
    assert issue.startswith(f"Pulumi.prod.yaml: {IDP}.egress: ") and why in issue


@pytest.mark.parametrize("cidrs, ok", [
    (["192.0.2.0/24"], True), (["10.0.0.0/16"], False), (["0.0.0.0/1", "128.0.0.0/1"], False), (["10.100.0.1/32"], False),
])
def test_ingress_by_address_follows_the_same_rules(tmp_path, cidrs, ok):
    config = stack_config()
    config[IDP]["ingress"]["scanner"] = {"cidrs": cidrs}
    if ok:
        assert load(tmp_path, config)
    else:
        issues = errors(tmp_path, config)
        assert issues and all(i.startswith(f"Pulumi.prod.yaml: {IDP}.ingress") for i in issues), issues
