"""The CrossGuard pack: `pulumi preview --policy-pack policy`.

Constructing PolicyPack starts the analyzer server and blocks, so it happens only here; the
policies themselves live in the importable `kfguard` package (and are unit-tested).
"""
from pulumi_policy import EnforcementLevel, PolicyPack

from kfguard.pack import POLICIES

PolicyPack(name="kubeflow-platform-guardrails", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
