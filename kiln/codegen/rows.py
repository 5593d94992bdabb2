"""Guards that become loop bounds: a guard whose conditions along a kernel's innermost output
row w are either free of w or unit-coefficient bounds on it (`w − 2 >= 0`, `w < 28`) is true
on one interval of each row. A padding copy, a stride-1 col2im or a padded window sum then
runs an unguarded contiguous loop over that interval (which vectorizes) instead of testing
every point."""
from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from ..ir.kernel import GUARD, Expr, Kernel, nodes, refs
from .scalar import I64, ScalarEmitter


@dataclass(frozen=True)
class Bound:
    """`coef·w + rest(w=0) <op> 0` for the innermost output index w (coef ±1): one bound on w."""

    op: str
    coef: int
    lhs: Expr
    rhs: Expr


@dataclass(frozen=True)
class RowGuard:
    """A guard condition split into the conditions constant along a row and bounds on w."""

    uniform: tuple[Expr, ...]
    bounds: tuple[Bound, ...]


def row_guard(cond: Expr, d: int) -> RowGuard | None:
    """`cond` as a RowGuard along idx d, or None (a condition that varies along the row in
    another way, or no bound on the row at all)."""
    uniform, bounds = [], []
    for atom in _atoms(cond):
        coefs = [coef(x, d) for x in atom.args]
        if all(c == 0 for c in coefs):
            uniform.append(atom)
        elif atom.op in ("lt", "le", "gt", "ge") and None not in coefs and abs(coefs[0] - coefs[1]) == 1 \
                and atom.args[0].dtype.is_int:
            bounds.append(Bound(atom.op, coefs[0] - coefs[1], *atom.args))
        else:
            return None
    return RowGuard(tuple(uniform), tuple(bounds)) if bounds else None


def guarded_rows(k: Kernel) -> tuple[Expr, RowGuard] | None:
    """The guard of an elementwise kernel whose stores hold one guarded value (a padding
    copy: `guard(0 <= w − 2 < 28, load, 0)`) with its RowGuard, or None."""
    if k.reductions or k.gemm or len(k.shape) < 2 or k.shape[-1] < 4:
        return None
    guards = {id(e): e for e in nodes(s.value for s in k.stores) if e.op == "select" and e.attr == GUARD}
    if len(guards) != 1:
        return None
    (g,) = guards.values()
    if any(id(e) == id(g) for e in nodes(s.offset for s in k.stores)):
        return None
    rows = row_guard(g.args[0], len(k.shape) - 1)
    return (g, rows) if rows else None


def row_range(b: ir.IRBuilder, em: ScalarEmitter, guard: RowGuard, width: int) -> tuple[ir.Value, ir.Value]:
    """[lo, hi): where on the row the guard holds, 0 <= lo <= hi <= width (empty when a
    uniform condition fails); `em` evaluates at w = 0."""
    lo, hi = I64(0), I64(width)
    for bound in guard.bounds:
        f0 = b.sub(em(bound.lhs), em(bound.rhs))
        low, value = _BOUND[bound.op, bound.coef]
        edge = b.add(b.neg(f0) if bound.coef == 1 else f0, I64(value))
        lo, hi = (_max(b, lo, edge), hi) if low else (lo, _min(b, hi, edge))
    lo = _min(b, lo, I64(width))
    hi = _max(b, hi, lo)
    for c in guard.uniform:
        hi = b.select(em(c), hi, lo)
    return lo, hi


# (op, coef) of `coef·w + f0 <op> 0` → (a lower bound?, c): the bound is w >= -f0 + c (coef 1)
# or w >= f0 + c (coef -1) when lower, w < ... likewise when upper
_BOUND = {("ge", 1): (True, 0), ("gt", 1): (True, 1), ("le", 1): (False, 1), ("lt", 1): (False, 0),
          ("ge", -1): (False, 1), ("gt", -1): (False, 0), ("le", -1): (True, 0), ("lt", -1): (True, 1)}


def coef(e: Expr, d: int, op: str = "idx") -> int | None:
    """e's coefficient of index d (an `idx`, or with op="ridx" a reduction index) when e is
    that index times a constant plus terms free of it; None when it is not that simple."""
    if e.op == op and e.attr == d:
        return 1
    if d not in refs(e, op):
        return 0
    if e.op in ("add", "sub"):
        a, b = coef(e.args[0], d, op), coef(e.args[1], d, op)
        return None if a is None or b is None else (a + b if e.op == "add" else a - b)
    if e.op == "neg":
        c = coef(e.args[0], d, op)
        return None if c is None else -c
    if e.op == "mul":
        for x, y in (e.args, e.args[::-1]):
            c = coef(x, d, op)
            if c is not None and y.is_const:
                return c * y.attr
    return None


def _atoms(c: Expr) -> list[Expr]:
    return _atoms(c.args[0]) + _atoms(c.args[1]) if c.op == "and" else [c]


def _max(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed(">", x, y), x, y)


def _min(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed("<", x, y), x, y)
