"""Evaluators the compliance tests run the rendered rules through.

- `AdmissionPolicy`: a ValidatingAdmissionPolicy's variables and validations evaluated by a real
  CEL implementation (cel-python), with `object`, `request` and `variables` bound as the API server
  binds them.
- `vrl_condition`: the subset of VRL the routing conditions are written in (`.path`, `."quoted"`,
  string literals, `==`, `&&`, `||`, parentheses), parsed and evaluated strictly: anything outside
  the subset is an error, so a condition the generator changes cannot silently evaluate to False.
"""
from __future__ import annotations

import re
from typing import Any

import celpy


class AdmissionPolicy:
    def __init__(self, spec: dict):
        self.env = celpy.Environment()
        self.variables = [(v["name"], self._program(v["expression"])) for v in spec.get("variables", [])]
        self.validations = [(v, self._program(v["expression"])) for v in spec["validations"]]
        self.messages = {
            id(v): self._program(v["messageExpression"]) for v in spec["validations"] if "messageExpression" in v
        }

    def _program(self, expression: str):
        return self.env.program(self.env.compile(expression))

    def failures(self, obj: dict, namespace: str) -> list[str]:
        """The message (a messageExpression evaluated) of every validation `obj` fails."""
        activation: dict[str, Any] = {
            "object": celpy.json_to_cel(obj),
            "request": celpy.json_to_cel({"namespace": namespace, "operation": "CREATE"}),
        }
        values: dict = {}
        for name, program in self.variables:
            activation["variables"] = celpy.celtypes.MapType(values)
            values[celpy.celtypes.StringType(name)] = program.evaluate(activation)
        activation["variables"] = celpy.celtypes.MapType(values)
        failed = []
        for validation, program in self.validations:
            result = program.evaluate(activation)
            if isinstance(result, celpy.CELEvalError):
                raise AssertionError(f"{validation['expression']}: {result}")
            if not bool(result):
                if id(validation) in self.messages:
                    failed.append(str(self.messages[id(validation)].evaluate(activation)))
                else:
                    failed.append(validation["message"])
        return failed


_TOKEN = re.compile(r'\s*(?:(?P<op>==|&&|\|\||\(|\))|(?P<str>"(?:[^"\\]|\\.)*")|(?P<path>\.(?:[A-Za-z_][A-Za-z0-9_]*|"[^"]*")(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|"[^"]*"))*))')


def _tokens(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"outside the VRL subset at {text[pos:]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _lookup(event: dict, path: str) -> Any:
    value: Any = event
    for part in re.findall(r'\.(?:"([^"]*)"|([A-Za-z_][A-Za-z0-9_]*))', path):
        key = part[0] or part[1]
        value = value.get(key) if isinstance(value, dict) else None
    return value


def vrl_condition(condition: str, event: dict) -> bool:
    tokens = _tokens(condition)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else (None, None)

    def take(kind=None, value=None):
        nonlocal pos
        tok = peek()
        if tok[0] is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            raise ValueError(f"unexpected {tok} in {condition!r}")
        pos += 1
        return tok

    def operand():
        kind, value = take()
        if kind == "str":
            return bytes(value[1:-1], "utf-8").decode("unicode_escape")
        if kind == "path":
            return _lookup(event, value)
        if value == "(":
            result = disjunction()
            take("op", ")")
            return result
        raise ValueError(f"unexpected {value!r} in {condition!r}")

    def comparison():
        left = operand()
        if peek() == ("op", "=="):
            take()
            return left == operand()
        if not isinstance(left, bool):
            raise ValueError(f"not a boolean: {condition!r}")
        return left

    def conjunction():
        result = comparison()
        while peek() == ("op", "&&"):
            take()
            result = comparison() and result
        return result

    def disjunction():
        result = conjunction()
        while peek() == ("op", "||"):
            take()
            result = conjunction() or result
        return result

    result = disjunction()
    if pos != len(tokens):
        raise ValueError(f"trailing tokens in {condition!r}")
    return bool(result)


def routed(pipeline: dict, route_transform: str, event: dict) -> set[str]:
    """The sinks an event reaches through `route_transform` (Vector route semantics: every matching
    route, and `<id>._unmatched` when none matches)."""
    routes = pipeline["transforms"][route_transform]["route"]
    outputs = {f"{route_transform}.{name}" for name, cond in routes.items() if vrl_condition(cond, event)}
    if not outputs:
        outputs = {f"{route_transform}._unmatched"}
    return {name for name, sink in pipeline["sinks"].items() if outputs & set(sink["inputs"])}
