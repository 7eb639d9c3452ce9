"""Reading resource properties the way the policy engine hands them over.

Under `pulumi preview --policy-pack`, pulumi-policy wraps a resource's properties in
`unknown_checking_proxy` (pulumi_policy/proxy.py, 1.21.0): a list arrives as `_ListProxy` (a
`collections.abc.Sequence`, not a `list`), a mapping as `_DictProxy` (a `Mapping`, not a `dict`,
whose `str()` is an object repr), and reading a value that is unknown during preview (a generated
password, an ID, anything computed from another resource's output) raises `UnknownValueError`.
The servicer turns an exception escaping `validate` into one advisory "can't run policy during
preview" note for the whole resource, so a walk that lets it escape skips every known field too.

These helpers therefore:
- test containers with `Mapping`/`Sequence` (never `dict`/`list`), and never stringify a mapping;
- catch `UnknownValueError` per field: an unknown field is skipped (and counted by the caller if
  it wants), the known fields next to it are still checked.
The same helpers work on plain dicts and lists (the offline tools and unit tests).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterator

from pulumi_policy.proxy import UnknownValueError, _is_unknown

MISSING = object()


def is_unknown(value: Any) -> bool:
    """An unknown sentinel (what the proxies raise on; in plain data it is just the string)."""
    return _is_unknown(value)


def has(mapping: Any, key: str) -> bool:
    """`key in mapping` without reading the value: `Mapping.__contains__` does `self[key]`, which
    raises UnknownValueError on the engine's proxy when the value is unknown."""
    return is_map(mapping) and key in list(iter(mapping))


def unknown_at(mapping: Any, key: str) -> bool:
    """The key is there but its value is unknown during preview."""
    if not has(mapping, key):
        return False
    try:
        return is_unknown(mapping[key])
    except UnknownValueError:
        return True


def is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def is_seq(value: Any) -> bool:
    """A list (or the engine's `_ListProxy`), never a string."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def get(mapping: Any, key: str, default: Any = None) -> Any:
    """`mapping[key]`, or `default` when absent, unknown during preview, or not a mapping."""
    if not is_map(mapping):
        return default
    try:
        value = mapping[key]
    except (KeyError, UnknownValueError):
        return default
    return default if is_unknown(value) else value


def dig(value: Any, *path: str | int, default: Any = None) -> Any:
    """`value[p0][p1]...` through mappings and sequences; `default` on anything missing or unknown."""
    for key in path:
        if isinstance(key, int):
            if not is_seq(value):
                return default
            try:
                value = value[key]
            except (IndexError, UnknownValueError):
                return default
            if is_unknown(value):
                return default
        else:
            value = get(value, key, MISSING)
            if value is MISSING:
                return default
    return value


def items(mapping: Any) -> Iterator[tuple[Any, Any]]:
    """Known (key, value) pairs of a mapping; unknown values are skipped, not fatal."""
    if not is_map(mapping):
        return
    for key in list(mapping):
        try:
            value = mapping[key]
        except UnknownValueError:
            continue
        if not is_unknown(value):
            yield key, value


def elements(sequence: Any) -> Iterator[tuple[int, Any]]:
    """Known (index, value) pairs of a sequence; unknown elements are skipped."""
    if not is_seq(sequence):
        return
    for index in range(len(sequence)):
        try:
            value = sequence[index]
        except UnknownValueError:
            continue
        if not is_unknown(value):
            yield index, value


def each(value: Any) -> Iterator[Any]:
    """The known elements of a sequence (nothing for anything else)."""
    for _, item in elements(value):
        yield item


def keys(mapping: Any) -> list[str]:
    """A mapping's keys (known or not: a key is never unknown, only its value can be)."""
    return [str(k) for k in mapping] if is_map(mapping) else []


def walk(value: Any, path: str = "", visit: Callable[[str, Any], bool] | None = None) -> Iterator[tuple[str, Any]]:
    """Every known (path, value) below `value`, depth first; `visit(path, v)` False stops descent."""
    yield path, value
    if visit is not None and not visit(path, value):
        return
    if is_map(value):
        for key, item in items(value):
            yield from walk(item, f"{path}.{key}" if path else str(key), visit)
    elif is_seq(value):
        for index, item in elements(value):
            yield from walk(item, f"{path}[{index}]", visit)


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every known string leaf below `value`, with its path."""
    for here, item in walk(value, path):
        if isinstance(item, str):
            yield here, item


def plain(value: Any) -> Any:
    """A plain-Python copy of the known parts (unknown values dropped), for messages and parsing."""
    if is_map(value):
        return {str(k): plain(v) for k, v in items(value)}
    if is_seq(value):
        return [plain(v) for v in each(value)]
    return value


def name_of(props: Any) -> str:
    """`namespace/name` of a Kubernetes object's props (what is known of it)."""
    meta = get(props, "metadata")
    parts = [get(meta, "namespace"), get(meta, "name")]
    return "/".join(str(p) for p in parts if isinstance(p, str) and p)


def labels_of(props: Any) -> Mapping:
    labels = dig(props, "metadata", "labels")
    return labels if is_map(labels) else {}
