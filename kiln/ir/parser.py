"""Parser for the printer's text, its exact inverse: `print_graph(parse(t)) == t`.

Any malformed text, whatever it holds (NUL bytes, bytes that are not UTF-8, 100 kB lines,
numbers that overflow, types of terabytes, attributes of the wrong kind, operand counts an op
does not take), raises ParseError starting `line L:C:`; nothing else escapes. Each node's
types are re-inferred by the op's registry rules as it is read. Limits: attributes nest at
most MAX_NESTING deep and their tuples hold integers (shapes, axes, pads, strides); a type
has at most MAX_NDIM dims and MAX_TENSOR_BYTES bytes.
"""
from __future__ import annotations

import functools
import inspect
import json
import math
from typing import Any

import numpy as np

from ..errors import KilnError, ParseError
from . import dtypes as dt
from .graph import Graph, Loc, Node, Value, make_node
from .lexer import Token, decode, error, tokens
from .opdef import REGISTRY, OpDef
from .types import TensorType

MAX_NESTING = 32
MAX_NDIM = 64  # NumPy's own limit
MAX_TENSOR_BYTES = 1 << 40  # a declared type larger than 1 TiB is refused before anything allocates
_MAX_NUMBER_CHARS = 64  # longer than any float repr or int64
_INT64 = (-(1 << 63), (1 << 63) - 1)
_DTYPES = {d.short: d for d in dt.ALL} | {d.name: d for d in dt.ALL}
_WORDS = {"true": True, "false": False, "none": None, "inf": math.inf, "nan": math.nan}


class _Dense(list):
    """The items of a `dense<...>`, typed once the constant's declared type is read."""


class _Cursor:
    """The tokens of one line and the position of the next."""

    def __init__(self, line: str, lineno: int):
        self.line, self.lineno = line, lineno
        self.toks, self.i = tokens(line, lineno), 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def error(self, msg: str, tok: Token | None = None) -> ParseError:
        return error(self.lineno, (tok or self.tok).col, msg, self.line)

    def at(self, text: str) -> bool:
        return self.tok.kind in ("punct", "name") and self.tok.text == text

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.i += 1
            return True
        return False

    def next(self) -> Token:
        tok = self.tok
        if tok.kind == "end":
            raise self.error("unexpected end of line")
        self.i += 1
        return tok

    def expect(self, text: str) -> Token:
        if not self.at(text):
            raise self.error(f"expected {text!r}, got {self.tok.text or 'the end of the line'!r}")
        return self.next()

    def end(self) -> None:
        if self.tok.kind != "end":
            raise self.error(f"unexpected {self.tok.text!r}")

    def value_name(self) -> Token:
        tok = self.next()
        if tok.kind != "name" or not tok.text.startswith("%"):
            raise self.error(f"expected a %name, got {tok.text!r}", tok)
        return tok

    def type(self) -> TensorType:
        tok = self.next()
        if tok.kind != "name" or tok.text[0] in "%@":
            raise self.error("expected a type like f32[4,8]", tok)
        if tok.text not in _DTYPES:
            raise self.error(f"kiln has no dtype {tok.text}; use one of {[d.name for d in dt.ALL]}", tok)
        self.expect("[")
        dims: list[int] = []
        while not self.accept("]"):
            if dims:
                self.expect(",")
            dims.append(self.dim())
        t = TensorType(tuple(dims), _DTYPES[tok.text])
        if t.ndim > MAX_NDIM:
            raise self.error(f"type {t} has {t.ndim} dims; at most {MAX_NDIM} are allowed", tok)
        if t.nbytes > MAX_TENSOR_BYTES:
            raise self.error(f"type {t} holds {t.nbytes} bytes; a tensor holds at most {MAX_TENSOR_BYTES}",
                             tok)
        return t

    def types(self) -> list[TensorType]:
        out = [self.type()]
        while self.accept(","):
            out.append(self.type())
        return out

    def dim(self) -> int:
        tok = self.next()
        n = _number(tok, self) if tok.kind == "num" else None
        if not isinstance(n, int) or n < 0:
            raise self.error(f"a dimension is an integer >= 0, not {tok.text!r}", tok)
        return n


def _number(tok: Token, cur: _Cursor) -> int | float:
    """An int64 or a finite float (or inf/-inf/nan spelled so): a literal that overflows is an
    error, never a silent inf or a huge integer."""
    text = tok.text
    if len(text) > _MAX_NUMBER_CHARS:
        raise cur.error(f"number literal of {len(text)} characters", tok)
    if text == "-inf":
        return -math.inf
    if any(c in text for c in ".eE"):
        value = float(text)
        if math.isinf(value):
            raise cur.error(f"float literal {text} is out of range", tok)
        return value
    n = int(text)
    if not _INT64[0] <= n <= _INT64[1]:
        raise cur.error(f"integer literal {text} is out of range of int64", tok)
    return n


def _string(tok: Token, cur: _Cursor) -> str:
    try:
        return json.loads(tok.text)
    except ValueError as e:
        raise cur.error(f"bad string literal: {e}", tok) from None


def _scalar(tok: Token, cur: _Cursor) -> Any:
    if tok.kind == "num":
        return _number(tok, cur)
    if tok.kind == "str":
        return _string(tok, cur)
    if tok.kind == "name" and tok.text in _WORDS:
        return _WORDS[tok.text]
    raise cur.error(f"bad attribute value {tok.text!r}", tok)


def _attr(cur: _Cursor, depth: int = 0) -> Any:
    """A scalar, a tuple `(a, b)` / `(a,)` / `()`, or `dense<...>`."""
    tok = cur.next()
    if tok.kind != "punct" or tok.text not in ("(", "dense<"):
        return _scalar(tok, cur)
    if depth >= MAX_NESTING:
        raise cur.error(f"attribute nested deeper than {MAX_NESTING}", tok)
    close = ")" if tok.text == "(" else ">"
    items: list[Any] = []
    while not cur.accept(close):
        if items:
            cur.expect(",")
            if cur.accept(close):  # `(a,)`
                break
        item = _attr(cur, depth + 1) if close == ")" else _scalar(cur.next(), cur)
        integer = isinstance(item, int) and not isinstance(item, bool)
        if close == ")" and not isinstance(item, tuple) and not integer:
            raise cur.error(f"a tuple attribute holds integers (or tuples of them), not {item!r}", tok)
        items.append(item)
    return tuple(items) if close == ")" else _Dense(items)


def _attrs(cur: _Cursor, op: OpDef) -> dict[str, Any]:
    """`{key=value, ...}`: keys the op declares, each once."""
    cur.expect("{")
    attrs: dict[str, Any] = {}
    while not cur.accept("}"):
        if attrs:
            cur.expect(",")
        key = cur.next()
        if key.kind != "name" or key.text[0] in "%@":
            raise cur.error(f"expected an attribute name, got {key.text!r}", key)
        if key.text not in op.attrs:
            takes = f"it takes {', '.join(op.attrs)}" if op.attrs else "it takes none"
            raise cur.error(f"{op.name} has no attribute {key.text!r}; {takes}", key)
        if key.text in attrs:
            raise cur.error(f"attribute {key.text!r} given twice", key)
        cur.expect("=")
        value = _attr(cur)
        if isinstance(value, _Dense) and op.name != "constant":
            raise cur.error("dense<...> is only a constant's value", key)
        attrs[key.text] = value
    return attrs


def _dense(items: list[Any], t: TensorType, cur: _Cursor, tok: Token) -> np.ndarray:
    """A constant's data as an array of its declared type: as many values as the type holds,
    each of the dtype's kind and within its range."""
    if len(items) != t.size:
        raise cur.error(f"constant has {len(items)} values but its type {t} holds {t.size}", tok)
    d = t.dtype
    if d.is_bool:
        ok = all(isinstance(x, bool) for x in items)
    elif d.is_int:
        info = np.iinfo(d.np)
        ok = all(isinstance(x, int) and not isinstance(x, bool) and info.min <= x <= info.max for x in items)
    else:
        ok = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in items)
        if ok:
            wide = np.array(items, dtype=np.float64)
            with np.errstate(over="ignore"):
                ok = not (np.isinf(wide.astype(d.np)) & np.isfinite(wide)).any()
    if not ok:
        raise cur.error(f"constant data does not fit its type {t}", tok)
    return np.array(items, dtype=d.np).reshape(t.shape)


def _check_arity(op: OpDef, inputs: list[Value], cur: _Cursor, at: Token) -> None:
    least, most = _arity(op)
    if not least <= len(inputs) <= most:
        takes = least if least == most else f"at least {least}"
        raise cur.error(f"{op.name} takes {takes} operand{'s' * (takes != 1)}, got {len(inputs)}", at)


@functools.cache
def _arity(op: OpDef) -> tuple[int, float]:
    """How many operands the op takes (fewest, most), read from its scalar body or its NumPy
    reference: the registry is the one place that says it."""
    fn = op.scalar or op.ref
    if fn is None:
        return 0, math.inf
    if isinstance(fn, np.ufunc):
        return fn.nin, fn.nin
    try:
        params = list(inspect.signature(fn).parameters.values())[1 if op.scalar else 0:]
    except (TypeError, ValueError):
        return 0, math.inf
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 1, math.inf
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.name not in op.attrs]
    return len(positional), len(positional)


def _infer(op: OpDef, inputs: list[Value], attrs: dict[str, Any], cur: _Cursor, at: Token
           ) -> list[TensorType]:
    """The op's result types by its registry rules; whatever they raise becomes a ParseError."""
    try:
        return op.infer([v.type for v in inputs], attrs)
    except KilnError as e:
        raise cur.error(str(e), at) from None
    except Exception as e:  # noqa: BLE001 -- the rules are plain Python; attrs of the wrong kind fail in them
        shown = ", ".join(f"{k}={v!r}" for k, v in attrs.items())
        raise cur.error(f"{op.name}: attributes {{{shown}}} do not fit its rules ({type(e).__name__}: "
                        f"{str(e)[:120]})", at) from None


def parse(text: str | bytes) -> Graph:
    """Parse one `func` into a Graph (verifying each node's types as it goes)."""
    if isinstance(text, (bytes, bytearray)):
        text = decode(bytes(text))
    lines = [(i + 1, t) for i, t in enumerate(text.split("\n"))
             if t.strip() and not t.lstrip().startswith("//")]
    if not lines:
        raise ParseError("line 1:1: empty input")
    env: dict[str, Value] = {}
    name, inputs = _header(_Cursor(lines[0][1], lines[0][0]), env)
    nodes: list[Node] = []
    outputs: list[Value] | None = None
    closed = False
    for lineno, line in lines[1:]:
        cur = _Cursor(line, lineno)
        if closed:
            raise cur.error("text after the function's closing '}'")
        if cur.accept("}"):
            if outputs is None:
                raise cur.error("the function ends without 'return'")
            cur.end()
            closed = True
        elif outputs is not None:
            raise cur.error("only '}' may follow 'return'")
        elif cur.accept("return"):
            outputs = _uses(cur, env)
        else:
            nodes.append(_node(cur, env))
    if not closed:
        lineno, line = lines[-1]
        raise error(lineno, len(line) + 1, "the function is not closed by '}'", line)
    return Graph(name, inputs, nodes, outputs or [])


def _header(cur: _Cursor, env: dict[str, Value]) -> tuple[str, list[Value]]:
    """`func @name(%0: f32[4], %1: i64[2] state "rng") {`"""
    cur.expect("func")
    gname = cur.next()
    if gname.kind != "name" or not gname.text.startswith("@"):
        raise cur.error("expected @name", gname)
    cur.expect("(")
    inputs: list[Value] = []
    while not cur.accept(")"):
        if inputs:
            cur.expect(",")
        tok = _define(cur, env)
        cur.expect(":")
        v = Value(cur.type(), role="arg")
        if cur.accept("state"):
            v.role = "state"
            if cur.tok.kind == "str":
                v.name = _string(cur.next(), cur)
        env[tok.text] = v
        inputs.append(v)
    cur.expect("{")
    cur.end()
    return gname.text[1:], inputs


def _define(cur: _Cursor, env: dict[str, Value]) -> Token:
    tok = cur.value_name()
    if tok.text in env:
        raise cur.error(f"value {tok.text} is defined twice", tok)
    return tok


def _use(cur: _Cursor, env: dict[str, Value]) -> Value:
    tok = cur.value_name()
    if tok.text not in env:
        raise cur.error(f"use of undefined value {tok.text}", tok)
    return env[tok.text]


def _uses(cur: _Cursor, env: dict[str, Value]) -> list[Value]:
    """`%a, %b` up to the end of the line (or nothing)."""
    out: list[Value] = []
    while cur.tok.kind == "name" and cur.tok.text.startswith("%"):
        out.append(_use(cur, env))
        if not cur.accept(","):
            break
    return out


def _node(cur: _Cursor, env: dict[str, Value]) -> Node:
    """`%r = op %a, %b {k=v} : type  # file:line`"""
    results: list[Token] = []
    if cur.tok.text.startswith("%"):
        results.append(_define(cur, env))
        while cur.accept(","):
            results.append(_define(cur, env))
        cur.expect("=")
    optok = cur.next()
    op = REGISTRY.get(optok.text) if optok.kind == "name" else None
    if op is None:
        raise cur.error(f"unknown op {optok.text!r}", optok)
    inputs = _uses(cur, env)
    _check_arity(op, inputs, cur, optok)
    attrs = _attrs(cur, op) if cur.at("{") else {}
    declared = cur.types() if cur.accept(":") else []
    loc = _loc(cur)
    if op.name == "constant":
        attrs = _constant_attrs(attrs, declared, cur, optok)
    inferred = _infer(op, inputs, attrs, cur, optok)
    if inferred != declared:
        raise cur.error(f"declared type {[str(t) for t in declared]} but {op.name} infers "
                        f"{[str(t) for t in inferred]}", optok)
    if len(results) != len(inferred):
        raise cur.error(f"{op.name} has {len(inferred)} results, {len(results)} names given", optok)
    if op.name == "assign" and inputs[0].role != "state":
        raise cur.error("assign writes a state input only", optok)
    node = make_node(op.name, tuple(inputs), attrs, inferred, loc)
    for tok, v in zip(results, node.outputs):
        env[tok.text] = v
    return node


def _constant_attrs(attrs: dict[str, Any], declared: list[TensorType], cur: _Cursor, at: Token
                    ) -> dict[str, Any]:
    """A constant's dense<...> (or scalar) value gets its dtype and shape from the declared type."""
    if "value" not in attrs:
        raise cur.error("constant needs a value", at)
    if len(declared) != 1:
        raise cur.error("constant needs a declared type", at)
    value = attrs["value"]
    items = value if isinstance(value, _Dense) else [value]
    return {**attrs, "value": _dense(items, declared[0], cur, at)}


def _loc(cur: _Cursor) -> Loc | None:
    """The optional `# file:line` that ends a node's line."""
    loc = None
    if cur.tok.kind == "loc":
        tok = cur.next()
        file, _, lno = tok.text.rpartition(":")
        if not file or not lno.isascii() or not lno.isdigit() or len(lno) > 18:
            raise cur.error("a location is '# FILE:LINE'", tok)
        loc = Loc(file, int(lno))
    cur.end()
    return loc
