"""Export a graph to networkx and Graphviz DOT; kernels appear as clusters."""
from __future__ import annotations

import networkx as nx

from .graph import Graph, Value
from .program import Program


def to_networkx(g: Graph) -> nx.DiGraph:
    """Nodes are graph inputs and ops (labelled with op, type and source line); edges carry values."""
    d = nx.DiGraph()
    src: dict[Value, str] = {}
    for i, v in enumerate(g.inputs):
        src[v] = f"in{i}"
        d.add_node(src[v], label=f"{v.role} {i}\\n{v.type}")
    for i, n in enumerate(g.nodes):
        nid = f"n{i}"
        loc = f"\\n{n.loc}" if n.loc else ""
        types = ", ".join(str(v.type) for v in n.outputs)
        d.add_node(nid, label=f"{n.op}\\n{types}{loc}", op=n.op)
        for v in n.inputs:
            d.add_edge(src[v], nid)
        for v in n.outputs:
            src[v] = nid
    for i, v in enumerate(g.outputs):
        d.add_node(f"out{i}", label=f"output {i}")
        d.add_edge(src[v], f"out{i}")
    return d


def to_dot(g: Graph, program: Program | None = None) -> str:
    """DOT text; with a Program, the nodes each kernel computes sit in its cluster (a node
    recomputed by several kernels is drawn in the first)."""
    d = to_networkx(g)
    placed: dict[str, int] = {}
    for k, kern in enumerate(program.kernels if program is not None else ()):
        for i in kern.origin:
            placed.setdefault(f"n{i}", k)
    lines = [f'digraph "{g.name}" {{', "  node [shape=box, fontname=monospace];"]
    for nid, attrs in d.nodes(data=True):
        if nid not in placed:
            lines.append(f'  {nid} [label="{attrs["label"]}"];')
    for k, kern in enumerate(program.kernels if program is not None else ()):
        inside = [nid for nid, kk in placed.items() if kk == k]
        if inside:
            lines.append(f'  subgraph cluster_{k} {{ label="{kern.name}"; style=dashed;')
            lines += [f'    {nid} [label="{d.nodes[nid]["label"]}"];' for nid in inside]
            lines.append("  }")
    for a, b in d.edges():
        lines.append(f"  {a} -> {b};")
    lines.append("}")
    return "\n".join(lines) + "\n"

