"""Canonical text of a graph. Names are assigned here, in order, so dumps diff cleanly;
`parse(print_graph(g))` prints identically.

    func @f(%0: f32[4,8], %1: i64[2] state "rng") {
      %2 = add %0, %0 : f32[4,8]  # model.py:12
      assign %1, %3
      return %2
    }
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from .graph import Graph, Value


def format_float(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x))


def format_scalar(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return format_float(float(x))


def format_attr(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return "dense<" + ",".join(format_scalar(v) for v in x.reshape(-1).tolist()) + ">"
    if isinstance(x, (tuple, list)):
        inner = ", ".join(format_attr(v) for v in x)
        return f"({inner},)" if len(x) == 1 else f"({inner})"
    if isinstance(x, str):
        return json.dumps(x)
    if x is None:
        return "none"
    return format_scalar(x)


def print_graph(g: Graph) -> str:
    names: dict[Value, str] = {}

    def name(v: Value) -> str:
        if v not in names:
            names[v] = f"%{len(names)}"
        return names[v]

    params = []
    for v in g.inputs:
        p = f"{name(v)}: {v.type}"
        if v.role == "state":
            p += " state" + (f" {format_attr(v.name)}" if v.name else "")
        params.append(p)
    lines = [f"func @{g.name}({', '.join(params)}) {{"]
    for n in g.nodes:
        lhs = ", ".join(name(v) for v in n.outputs)
        text = (f"{lhs} = " if lhs else "") + n.op
        if n.inputs:
            text += " " + ", ".join(name(v) for v in n.inputs)
        if n.attrs:
            text += " {" + ", ".join(f"{k}={format_attr(n.attrs[k])}" for k in sorted(n.attrs)) + "}"
        if n.outputs:
            text += " : " + ", ".join(str(v.type) for v in n.outputs)
        if n.loc is not None:
            text += f"  # {n.loc}"
        lines.append("  " + text)
    lines.append("  return" + ("" if not g.outputs else " " + ", ".join(name(v) for v in g.outputs)))
    lines.append("}")
    return "\n".join(lines) + "\n"
