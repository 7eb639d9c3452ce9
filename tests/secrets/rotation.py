"""Rotation markers as rendered: which generated paths rotate, and the marker the mocks give each."""
from __future__ import annotations

from kfplatform.render.mocks import computed_output
from kfplatform.secrets.rotation import ROTATION_PERIOD_KEY

ROTATING = "time:index/rotating:Rotating"
KV_SECRET = "vault:kv/secretV2:SecretV2"


def rotated_paths(result) -> dict[str, str]:
    """Rotated generated Vault path -> its marker (`<period start>/<the Rotating's rotationRfc3339
    under the mocks>`).

    A generated path is written by a KV SecretV2 named after its slug; it rotates when a Rotating
    named `<slug>-rotation` exists.
    """
    rotating = {r.name: r for r in result.by_type(ROTATING)}
    own = {
        kv.inputs["name"]: rotating[f"{kv.name}-rotation"].inputs["triggers"][ROTATION_PERIOD_KEY] + "/"
        + computed_output(ROTATING, f"{kv.name}-rotation", "rotationRfc3339")
        for kv in result.by_type(KV_SECRET)
        if f"{kv.name}-rotation" in rotating
    }
    # A mirrored path (plane.mirrored) has its source's values, hence its source's marker.
    from kfplatform.secrets.plane import MIRROR_OF

    mirrors = {
        kv.inputs["name"]: own[source]
        for kv in result.by_type(KV_SECRET)
        if (source := ((kv.inputs.get("customMetadata") or {}).get("data") or {}).get(MIRROR_OF)) in own
    }
    return {**own, **mirrors}


def expected_marker(result, paths) -> str | None:
    """ROTATION_ANNOTATION's value for something reading `paths` (None: none of them rotates)."""
    markers = rotated_paths(result)
    rotated = sorted(p for p in set(paths) if p in markers)
    return ",".join(f"{p}={markers[p]}" for p in rotated) or None
