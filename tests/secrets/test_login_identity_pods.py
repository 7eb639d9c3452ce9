"""No pod may run as a Vault login identity (`eso-vault`, `eso-vault-platform`): each holds a
cluster-wide `system:auth-delegator` binding. The rendered ValidatingAdmissionPolicy is evaluated
with a real CEL evaluator (cel-python) on pods as the API server would send them."""
import celpy
import pytest

from kfplatform.secrets.vault_auth import AUTH_DELEGATOR, LOGIN_SERVICE_ACCOUNTS, NO_LOGIN_PODS_POLICY


@pytest.fixture(scope="module")
def admits(prod):
    policy = prod.find("ValidatingAdmissionPolicy", NO_LOGIN_PODS_POLICY)
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert (rule["apiGroups"], rule["resources"], set(rule["operations"])) == ([""], ["pods"], {"CREATE", "UPDATE"})
    assert policy["spec"]["failurePolicy"] == "Fail"
    env = celpy.Environment()
    programs = [env.program(env.compile(v["expression"])) for v in policy["spec"]["validations"]]

    def admit(spec: dict) -> bool:
        pod = celpy.json_to_cel({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team-nlp"}, "spec": spec})
        return all(bool(p.evaluate({"object": pod})) for p in programs)

    return admit


def test_the_policy_is_bound_everywhere_and_denies(prod):
    binding = prod.find("ValidatingAdmissionPolicyBinding", NO_LOGIN_PODS_POLICY)
    assert binding["spec"]["policyName"] == NO_LOGIN_PODS_POLICY
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert not binding["spec"].get("matchResources")  # every namespace


def test_every_service_account_holding_auth_delegator_is_covered(prod):
    delegated = {s["name"] for o in prod.kubernetes_objects() if o["kind"] == "ClusterRoleBinding"
                 and o["roleRef"]["name"] == AUTH_DELEGATOR for s in o["subjects"] if s["kind"] == "ServiceAccount"}
    assert delegated and delegated <= set(LOGIN_SERVICE_ACCOUNTS)


CONTAINERS = [{"name": "c", "image": "registry.example.com/x@sha256:" + "a" * 64}]


@pytest.mark.parametrize(
    "spec, allowed",
    [
        ({"serviceAccountName": "eso-vault", "containers": CONTAINERS}, False),
        ({"serviceAccountName": "eso-vault-platform", "containers": CONTAINERS}, False),
        ({"serviceAccount": "eso-vault", "containers": CONTAINERS}, False),  # the deprecated alias
        ({"serviceAccountName": "default", "serviceAccount": "eso-vault", "containers": CONTAINERS}, False),
        # valid neighbours
        ({"serviceAccountName": "default-editor", "containers": CONTAINERS}, True),
        ({"serviceAccountName": "eso-vault-reader", "containers": CONTAINERS}, True),
        ({"serviceAccountName": "eso-vaul", "containers": CONTAINERS}, True),
        ({"containers": CONTAINERS}, True),  # the namespace's default ServiceAccount
    ],
)
def test_pods_as_a_login_identity_are_refused(admits, spec, allowed):
    assert admits(spec) is allowed
