"""Parser for the printer's text: its exact inverse, with line:col in every error."""
from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from ..errors import IRParseError, KilnError
from . import dtypes as dt
from .graph import Graph, Loc, Value, make_node
from .opdef import get
from .types import TensorType

_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|inf|nan)(?![\w.]))
    |(?P<punct>dense<|[(){}\[\],:=<>])|(?P<name>%\d+|@[\w.]+|[A-Za-z_][\w.]*))""", re.X)
_TYPE = re.compile(r"\s*(\w+)\[([\d,]*)\]")


class _Line:
    """A cursor over one line of text."""

    def __init__(self, text: str, lineno: int):
        self.text, self.lineno, self.pos = text, lineno, 0

    def error(self, msg: str) -> IRParseError:
        return IRParseError(f"line {self.lineno}:{self.pos + 1}: {msg}: {self.text.strip()!r}")

    def peek(self) -> str | None:
        m = _TOKEN.match(self.text, self.pos)
        return m.group(m.lastgroup) if m and m.lastgroup else None

    def next(self) -> str:
        m = _TOKEN.match(self.text, self.pos)
        if not m or not m.lastgroup:
            raise self.error("unexpected text")
        self.pos = m.end()
        return m.group(m.lastgroup)

    def expect(self, tok: str) -> None:
        got = self.next()
        if got != tok:
            raise self.error(f"expected {tok!r}, got {got!r}")

    def type(self) -> TensorType:
        m = _TYPE.match(self.text, self.pos)
        if not m:
            raise self.error("expected a type like f32[4,8]")
        self.pos = m.end()
        try:
            dtype = dt.as_dtype(m.group(1))
        except TypeError as e:
            raise self.error(str(e)) from None
        return TensorType(tuple(int(n) for n in m.group(2).split(",") if n), dtype)

    def rest(self) -> str:
        return self.text[self.pos:].strip()


def _scalar(tok: str, line: _Line) -> Any:
    if tok in ("true", "false"):
        return tok == "true"
    if tok == "none":
        return None
    if tok.startswith('"'):
        return json.loads(tok)
    try:
        return int(tok)
    except ValueError:
        pass
    try:
        return float(tok)
    except ValueError:
        raise line.error(f"bad attribute value {tok!r}") from None


def _attr(line: _Line) -> Any:
    tok = line.next()
    if tok == "(":
        items = []
        while line.peek() != ")":
            items.append(_attr(line))
            if line.peek() == ",":
                line.next()
        line.next()
        return tuple(items)
    if tok == "dense<":
        items = []
        while line.peek() != ">":
            items.append(_scalar(line.next(), line))
            if line.peek() == ",":
                line.next()
        line.next()
        return np.array(items)
    return _scalar(tok, line)


def parse(text: str) -> Graph:
    """Parse one `func` into a Graph (verifying each node's types as it goes)."""
    lines = [(i + 1, t) for i, t in enumerate(text.splitlines()) if t.strip() and not t.strip().startswith("//")]
    if not lines:
        raise IRParseError("line 1:1: empty input")
    env: dict[str, Value] = {}
    head = _Line(*reversed(lines[0]))
    head.expect("func")
    gname = head.next()
    if not gname.startswith("@"):
        raise head.error("expected @name")
    head.expect("(")
    inputs: list[Value] = []
    while head.peek() != ")":
        vname = head.next()
        head.expect(":")
        v = Value(head.type(), role="arg")
        if head.peek() == "state":
            head.next()
            v.role = "state"
            if head.peek() and head.peek().startswith('"'):
                v.name = _scalar(head.next(), head)
        env[vname] = v
        inputs.append(v)
        if head.peek() == ",":
            head.next()
    head.expect(")")
    head.expect("{")
    nodes, outputs = [], []
    for lineno, text in lines[1:]:
        line = _Line(text, lineno)
        if line.peek() == "}":
            break
        if line.peek() == "return":
            line.next()
            while line.peek() not in (None,):
                outputs.append(_use(env, line))
                if line.peek() == ",":
                    line.next()
            continue
        nodes.append(_node(env, line))
    return Graph(gname[1:], inputs, nodes, outputs)


def _use(env: dict[str, Value], line: _Line) -> Value:
    tok = line.next()
    if tok not in env:
        raise line.error(f"use of undefined value {tok}")
    return env[tok]


def _node(env: dict[str, Value], line: _Line):
    text, _, loc_text = line.text.partition("  # ")
    line.text = text
    results = []
    while line.peek() and line.peek().startswith("%"):
        results.append(line.next())
        if line.peek() == ",":
            line.next()
    if results:
        line.expect("=")
    op = line.next()
    try:
        opdef = get(op)
    except KeyError as e:
        raise line.error(str(e.args[0])) from None
    inputs = []
    while line.peek() and line.peek().startswith("%"):
        inputs.append(_use(env, line))
        if line.peek() == ",":
            line.next()
    attrs: dict[str, Any] = {}
    if line.peek() == "{":
        line.next()
        while line.peek() != "}":
            key = line.next()
            line.expect("=")
            attrs[key] = _attr(line)
            if line.peek() == ",":
                line.next()
        line.next()
    if "value" in attrs and op == "constant":
        attrs["value"] = _constant_value(attrs["value"], line)
    declared = []
    if line.peek() == ":":
        line.next()
        declared.append(line.type())
    if line.rest():
        raise line.error(f"unexpected {line.rest()!r}")
    try:
        inferred = opdef.infer([v.type for v in inputs], attrs)
    except KilnError as e:
        raise line.error(str(e)) from None
    if inferred != declared:
        raise line.error(f"declared type {[str(t) for t in declared]} but {op} infers {[str(t) for t in inferred]}")
    loc = None
    if loc_text:
        file, _, lno = loc_text.strip().rpartition(":")
        loc = Loc(file, int(lno))
    node = make_node(op, tuple(inputs), attrs, inferred, loc)
    for name, v in zip(results, node.outputs):
        env[name] = v
    return node


def _constant_value(value: Any, line: _Line) -> np.ndarray:
    """A constant's dense<...> gets its dtype and shape from the declared type that follows."""
    save = line.pos
    rest = line.text[line.pos:]
    m = re.search(r":\s*(\w+)\[([\d,]*)\]", rest)
    if not m:
        raise line.error("constant needs a declared type")
    line.pos = save
    t = dt.as_dtype(m.group(1))
    shape = tuple(int(n) for n in m.group(2).split(",") if n)
    return np.asarray(value, dtype=t.np).reshape(shape)
