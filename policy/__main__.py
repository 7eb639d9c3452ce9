"""The CrossGuard pack: `pulumi preview --policy-pack policy --policy-pack-config policy/config/<stack>.json`.

Constructing PolicyPack starts the analyzer server and blocks, so it happens only here; the
policies themselves live in the importable `kfguard` package. The offline harness
(kfguard/engine.py) runs the same POLICIES through the same analyzer servicer, with the same name,
version and default enforcement level; the config file sets each policy's level per stack.
"""
from pulumi_policy import EnforcementLevel, PolicyPack

from kfguard.pack import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
