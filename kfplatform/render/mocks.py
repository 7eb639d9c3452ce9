"""Pulumi mocks that record every registration with its options, as the engine would see it."""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import mocks

SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET = "[secret]"


@dataclass
class RegisteredResource:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: Any
    protect: bool
    dependencies: list[str]
    retain_on_delete: bool
    ignore_changes: list[str]
    provider: str = ""
    outputs: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "inputs": self.inputs,
            "protect": self.protect,
            "dependencies": self.dependencies,
            "retain_on_delete": self.retain_on_delete,
            "ignore_changes": self.ignore_changes,
        }


def plain(value: Any) -> Any:
    """Inputs as plain JSON: secrets replaced by "[secret]" (unknowns arrive as None: not a preview)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            return SECRET
        return {k: plain(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        # The wire format (protobuf Struct) carries every number as a double; the provider sends a
        # whole one to the API server as an integer (Go's JSON encoding of 6.0 is `6`), so do we.
        return int(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


# Outputs a provider computes that programs read back: filled deterministically from the name,
# so an `.apply` on them runs (an unknown output would silently skip the check).
COMPUTED_OUTPUTS: dict[str, dict[str, str]] = {
    "random:index/randomPassword:RandomPassword": {"result": "password"},
    "random:index/randomId:RandomId": {"hex": "hex", "b64Url": "b64"},
    "random:index/randomString:RandomString": {"result": "string"},
    "time:index/rotating:Rotating": {"rotationRfc3339": "rotation"},
}


def computed_output(type_: str, name: str, key: str) -> str:
    """The value the mocks give output `key` of resource `name` (tests compare rendered values with it)."""
    digest = hashlib.sha256(f"{name}/{key}".encode()).hexdigest()
    return f"mock-{COMPUTED_OUTPUTS[type_][key]}-{digest[:16]}"


class PlatformMocks(mocks.Mocks):
    def __init__(self):
        super().__init__()
        # The inputs MockMonitor deserialized for the registration this thread is handling, so the
        # recording monitor does not deserialize them a second time (registrations run in threads).
        self.seen = threading.local()

    def new_resource(self, args: mocks.MockResourceArgs):
        self.seen.inputs = args.inputs
        state = dict(args.inputs)
        for key in COMPUTED_OUTPUTS.get(args.typ, {}):
            state.setdefault(key, computed_output(args.typ, args.name, key))
        # Every custom resource gets a real id, so `.id.apply(...)` runs under the mocks.
        return f"{args.name}-id", state

    def call(self, args: mocks.MockCallArgs):
        return {}, None


class DuplicateResourceError(RuntimeError):
    pass


class RecordingMonitor(mocks.MockMonitor):
    """Records each RegisterResource request's options (which `Mocks.new_resource` never sees)."""

    def __init__(self, the_mocks: mocks.Mocks):
        super().__init__(the_mocks)
        self.registered: list[RegisteredResource] = []
        self._urns: set[str] = set()

    def RegisterResource(self, request):
        seen = getattr(self.mocks, "seen", None)
        if seen is not None:
            seen.inputs = None
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        if response.urn in self._urns:
            # The real engine refuses two resources with one URN; mocks would not.
            raise DuplicateResourceError(f"duplicate resource URN {response.urn}")
        self._urns.add(response.urn)
        inputs = getattr(seen, "inputs", None)
        if inputs is None:
            from pulumi.runtime import rpc

            inputs = rpc.deserialize_properties(request.object)
        self.registered.append(
            RegisteredResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=bool(request.custom),
                inputs=plain(inputs),
                protect=bool(request.protect),
                dependencies=sorted(request.dependencies),
                retain_on_delete=bool(request.retainOnDelete),
                ignore_changes=list(request.ignoreChanges),
                provider=request.provider,
            )
        )
        return response
