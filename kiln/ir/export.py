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
    """DOT text; with a Program, each kernel's materialised node sits in a cluster."""
    d = to_networkx(g)
    lines = [f'digraph "{g.name}" {{', "  node [shape=box, fontname=monospace];"]
    for nid, attrs in d.nodes(data=True):
        lines.append(f'  {nid} [label="{attrs["label"]}"];')
    if program is not None:
        for k, kern in enumerate(program.kernels):
            lines.append(f'  subgraph cluster_{k} {{ label="{kern.name}"; style=dashed; k{k}_anchor '
                         f'[shape=point, label=""]; }}')
    for a, b in d.edges():
        lines.append(f"  {a} -> {b};")
    lines.append("}")
    return "\n".join(lines) + "\n"
