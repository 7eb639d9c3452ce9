"""YAML text the program embeds in objects (KFP configs) or reads back, with libyaml when PyYAML has
it: several times faster, which counts per tenant. For what the program writes today the text is the
pure-Python emitter's (`benchmarks/render_identity.py`); the two emitters fold long double-quoted
strings at different places, so kustomize patch texts (`kubeflow/patches.py`) keep the pure one."""
from __future__ import annotations

from typing import Any

import yaml

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dump(data: Any, **options: Any) -> str:
    """`yaml.safe_dump(data, **options)`, with libyaml's emitter."""
    return yaml.dump(data, Dumper=_DUMPER, **options)


def load(text: str) -> Any:
    """`yaml.safe_load(text)`, with libyaml's parser."""
    return yaml.load(text, Loader=_LOADER)
