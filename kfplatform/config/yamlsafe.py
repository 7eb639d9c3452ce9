"""Read a YAML config file (a tenant file, a stack file) refusing what YAML would silently change.

PyYAML (YAML 1.1) and the Pulumi engine (Go, YAML 1.2) do not read every plain scalar alike, and
plain YAML accepts documents no person means. Refused, each with the file and key path:
- a key given twice in one mapping (YAML keeps the last one silently);
- plain scalars YAML 1.1 turns into something else: `on`/`off`/`yes`/`no`/`y`/`n` (booleans, only
  `true`/`false` are accepted), dates and times (`2024-01-01`), base-60 numbers (`1:30` is 90),
  octal `0755` and `1_000` (read otherwise by YAML 1.2); quote them if a string is meant;
- values of types JSON cannot carry (`!!binary`, `!!set`, `!!timestamp`, ...);
- aliases that expand beyond MAX_VALUES values (a "billion laughs" document is a few hundred bytes
  that expands to 10^9 values), and recursive aliases; nesting deeper than Python can walk.
The document is composed into nodes first (aliases stay shared, so this is linear in the file's
size) and checked there; only then is it constructed.
"""
from __future__ import annotations

import re
from typing import Any

import yaml

from .errors import ConfigIssue

MAX_VALUES = 100_000
BOOL_TAG = "tag:yaml.org,2002:bool"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
MERGE_TAG = "tag:yaml.org,2002:merge"
# What a config value may be: JSON's types (the engine hands config to the program as JSON).
PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge")}


class _Recursive(Exception):
    pass


def _key_text(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else "<complex key>"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Checker:
    def __init__(self, file: str):
        self.file = file
        self.issues: list[ConfigIssue] = []
        self.sizes: dict[int, int] = {}
        self.visited: set[int] = set()

    def size(self, node: yaml.Node, active: frozenset = frozenset()) -> int:
        """Values the node expands to, aliases expanded (memoised per shared node)."""
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if key in active:
            raise _Recursive()
        active = active | {key}
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(self.size(child, active) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(self.size(k, active) + self.size(v, active) for k, v in node.value)
        self.sizes[key] = total
        return total

    def children(self, node: yaml.Node, path: str) -> list[tuple[yaml.Node, str]]:
        if isinstance(node, yaml.SequenceNode):
            return [(child, f"{path}[{i}]") for i, child in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            out = []
            for k, v in node.value:
                out.append((k, path))  # keys are checked as scalars at their mapping's path
                out.append((v, _join(path, _key_text(k))))
            return out
        return []

    def too_big(self, node: yaml.Node, path: str) -> None:
        """Name the deepest key whose value alone expands beyond the limit."""
        while True:
            bigger = [(c, p) for c, p in self.children(node, path) if self.sizes.get(id(c), 0) > MAX_VALUES]
            if not bigger:
                break
            node, path = bigger[0]
        self.issues.append(ConfigIssue(
            self.file, path,
            f"expands to {self.sizes[id(node)]:,} values through YAML aliases (at most {MAX_VALUES:,}); "
            "write the values out instead of nesting aliases",
        ))

    def tag(self, node: yaml.Node, path: str) -> bool:
        if node.tag in PLAIN_TAGS:
            return True
        self.issues.append(ConfigIssue(
            self.file, path,
            f"YAML type {node.tag.rsplit(':', 1)[-1]!r} is not a config value (text, numbers, true/false, lists and "
            "mappings only)",
        ))
        return False

    def scalar(self, node: yaml.ScalarNode, path: str) -> None:
        if node.style is not None:  # quoted or block: a string, as written
            return
        value = node.value
        if node.tag == BOOL_TAG and value.lower() not in ("true", "false"):
            self.issues.append(ConfigIssue(
                self.file, path,
                f"`{value}` is a boolean in YAML 1.1 but a string in YAML 1.2 (which Pulumi reads); "
                f"quote it (\"{value}\") for a string, or write true/false",
            ))
        elif node.tag == TIMESTAMP_TAG:
            self.issues.append(ConfigIssue(
                self.file, path, f"YAML reads `{value}` as a date/time, not text; quote it (\"{value}\")"
            ))
        elif node.tag in NUMBER_TAGS and ":" in value:
            self.issues.append(ConfigIssue(
                self.file, path, f"YAML 1.1 reads `{value}` as a base-60 number; quote it (\"{value}\")"
            ))
        elif node.tag in NUMBER_TAGS and ("_" in value or re.fullmatch(r"[-+]?0[0-9]+", value)):
            self.issues.append(ConfigIssue(
                self.file, path,
                f"YAML 1.1 and 1.2 read `{value}` differently (digit separators, a leading 0 for octal); "
                f"write the plain number, or quote it (\"{value}\")",
            ))

    def walk(self, node: yaml.Node, path: str) -> None:
        stack = [(node, path)]
        while stack:
            node, path = stack.pop()
            if id(node) in self.visited:
                continue
            self.visited.add(id(node))
            plain_date = isinstance(node, yaml.ScalarNode) and node.style is None and node.tag == TIMESTAMP_TAG
            if not plain_date and not self.tag(node, path):
                continue
            if isinstance(node, yaml.ScalarNode):
                self.scalar(node, path)
                continue
            if isinstance(node, yaml.MappingNode):
                seen: dict[str, int] = {}
                for k, _ in node.value:
                    if k.tag == MERGE_TAG:
                        continue
                    text = _key_text(k)
                    if text in seen:
                        self.issues.append(ConfigIssue(
                            self.file, _join(path, text),
                            f"key given twice (lines {seen[text]} and {k.start_mark.line + 1}); YAML would keep "
                            "only the last one",
                        ))
                    else:
                        seen[text] = k.start_mark.line + 1
            stack.extend(reversed(self.children(node, path)))


def load_yaml(text: str, file: str, strip_prefix: str = "") -> tuple[Any, list[ConfigIssue]]:
    """The document in `text`, or the issues that make it unsafe to read (located in `file`).

    `strip_prefix`: a leading path part left out of the issues' key paths (`config.` in a stack file,
    whose keys the other messages name without it).
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        checker = _Checker(file)
        try:
            if checker.size(node) > MAX_VALUES:
                checker.too_big(node, "")
            else:
                checker.walk(node, "")
        except _Recursive:
            return None, [ConfigIssue(file, "", "a YAML alias refers to itself (recursive); write the values out")]
        if checker.issues:
            return None, [_strip(i, strip_prefix) for i in checker.issues]
        return loader.construct_document(node), []
    except RecursionError:
        return None, [ConfigIssue(file, "", "nested too deeply to read")]
    except yaml.YAMLError as e:
        return None, [ConfigIssue(file, "", f"not valid YAML: {e}")]
    finally:
        loader.dispose()


def _strip(issue: ConfigIssue, prefix: str) -> ConfigIssue:
    if prefix and issue.path.startswith(prefix):
        return ConfigIssue(issue.file, issue.path[len(prefix):], issue.message)
    return issue
