"""A tenant namespace denies everything, then allows exactly the stack's allow-lists (and its proxy)."""
import pytest

from kfplatform.config.network import REQUIRED_EGRESS, REQUIRED_INGRESS
from kfplatform.tenancy.network import kebab

TENANTS = ["team-forecasting", "team-nlp", "team-vision"]


def policies(result, namespace) -> dict[str, dict]:
    return {
        o["metadata"]["name"]: o["spec"]
        for o in result.kubernetes_objects()
        if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == namespace
    }


@pytest.mark.parametrize("tenant", TENANTS)
def test_default_deny_of_both_directions_comes_first(each_stack, tenant):
    deny = policies(each_stack, tenant)["default-deny"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


@pytest.mark.parametrize("tenant", TENANTS)
def test_each_required_peer_has_its_own_policy_with_named_ports(prod, tenant):
    found = policies(prod, tenant)
    for key in REQUIRED_EGRESS:
        rule = found[f"allow-egress-{kebab(key)}"]["egress"]
        assert len(rule) == 1 and rule[0]["ports"], key
    dns = found["allow-egress-dns"]["egress"][0]
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert dns["to"] == [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }]
    for key in REQUIRED_INGRESS:
        assert found[f"allow-ingress-{kebab(key)}"]["policyTypes"] == ["Ingress"]


def test_internet_egress_only_through_a_named_proxy(prod):
    # team-nlp names a proxy in its tenant file; the others have no way out.
    proxy = policies(prod, "team-nlp")["allow-egress-proxy"]["egress"][0]
    assert proxy == {"to": [{"ipBlock": {"cidr": "10.20.0.10/32"}}], "ports": [{"port": 3128, "protocol": "TCP"}]}
    for tenant in ("team-forecasting", "team-vision"):
        assert "allow-egress-proxy" not in policies(prod, tenant)
    for tenant in TENANTS:
        for spec in policies(prod, tenant).values():
            for rule in spec.get("egress") or []:
                for peer in rule.get("to") or []:
                    assert not peer.get("ipBlock", {}).get("cidr", "").endswith("/0")


def test_the_teams_own_pods_reach_each_other_and_nothing_else_is_implied(prod):
    same = policies(prod, "team-vision")["allow-same-namespace"]
    assert same["ingress"] == [{"from": [{"podSelector": {}}]}]
    assert same["egress"] == [{"to": [{"podSelector": {}}]}]


@pytest.mark.parametrize("key", ["git-server", "image-registry"])
def test_pipelines_reach_gitlab_and_the_registry_on_https_only(each_stack, key):
    """A pipeline proposes its canary by merge request and pushes its model image (docs/workloads.md)."""
    for tenant in TENANTS:
        (rule,) = policies(each_stack, tenant)[f"allow-egress-{key}"]["egress"]
        assert rule["ports"] == [{"port": 443, "protocol": "TCP"}]
        assert all(peer["ipBlock"]["cidr"].endswith("/29") for peer in rule["to"])
