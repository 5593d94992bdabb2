"""Coalesce a kernel's adjacent point dimensions when every index it computes is affine in
them with row-major strides: a (N, C, 10, 10) epilogue then runs an inner loop of 100
contiguous points, not 10, which is what the vectorizer needs (and a GPU grid too).

Dims d and d+1 (of sizes n_d, n_{d+1}) merge when idx d and idx d+1 are used only inside
add/sub/multiply-by-constant chains that end as load or store offsets, and each such
offset has coefficient(d) = coefficient(d+1) * n_{d+1}; then idx d := 0 and idx d+1 := the
merged index give the same offsets.
"""
from __future__ import annotations

from ..ir.kernel import Expr, Kernel, KernelBuilder, Reduction, Store, make_kernel

_AFFINE = ("add", "sub", "mul")


def _coefs(e: Expr, dims: tuple[int, int], memo: dict) -> dict[int, int] | None:
    """e's coefficients on idx dims[0], dims[1] ({} if e does not involve them), or None when
    e involves them other than affinely."""
    if id(e) in memo:
        return memo[id(e)]
    out: dict[int, int] | None = {}
    if e.op == "idx" and e.attr in dims:
        out = {e.attr: 1}
    elif e.op in _AFFINE:
        a, b = (_coefs(x, dims, memo) for x in e.args)
        if a is None or b is None:
            out = None
        elif e.op == "mul":
            const = [x.attr for x in e.args if x.is_const]
            if a and b or (a or b) and not const:
                out = None
            else:
                out = {d: c * const[0] for d, c in (a or b).items()}
        else:
            sign = -1 if e.op == "sub" else 1
            out = {d: a.get(d, 0) + sign * b.get(d, 0) for d in set(a) | set(b)}
    memo[id(e)] = out
    return out


def _mergeable(k: Kernel, d: int) -> bool:
    dims, inner = (d, d + 1), k.shape[d + 1]
    memo: dict = {}
    seen: set[int] = set()

    def offset_ok(e: Expr) -> bool:
        c = _coefs(e, dims, memo)
        return c is not None and c.get(d, 0) == c.get(d + 1, 0) * inner

    def check(e: Expr) -> bool:
        """Every non-affine use of an index expression in dims is a load offset that fits."""
        if id(e) in seen:
            return True
        seen.add(id(e))
        if e.op == "load" and not offset_ok(e.args[0]):
            return False
        if e.op not in _AFFINE and e.op != "load" and any(_coefs(a, dims, memo) != {} for a in e.args):
            return False
        return all(check(a) for a in e.args)
    exprs = [r.value for r in k.reductions] + [s.value for s in k.stores]
    if any(_coefs(v, dims, memo) != {} for v in exprs):
        return False  # a value computed from the index itself (iota)
    return all(offset_ok(s.offset) and check(s.offset) for s in k.stores) and all(check(e) for e in exprs)


def _merge(k: Kernel, d: int) -> Kernel:
    b = KernelBuilder()
    memo: dict[int, Expr] = {}

    def walk(e: Expr) -> Expr:
        if id(e) not in memo:
            if e.op == "idx":
                new = b.const(0) if e.attr == d else b.idx(e.attr - (e.attr > d))
            elif e.op == "const":
                new = b.const(e.attr, e.dtype)
            elif e.op in ("ridx", "acc"):
                new = getattr(b, e.op)(e.attr) if e.op == "ridx" else b.acc(e.attr, e.dtype)
            elif e.op == "load":
                new = b.load(e.attr, walk(e.args[0]), e.dtype)
            else:
                new = b._mk(e.op, e.dtype, tuple(walk(a) for a in e.args), e.attr)
                if e.op in _AFFINE and new.dtype.is_int:
                    new = b.binary(e.op, *new.args)
            memo[id(e)] = new
        return memo[id(e)]
    shape = k.shape[:d] + (k.shape[d] * k.shape[d + 1],) + k.shape[d + 2:]
    stores = tuple(Store(s.buf, walk(s.offset), walk(s.value), s.mode) for s in k.stores)
    reductions = tuple(Reduction(r.kind, walk(r.value)) for r in k.reductions)
    return make_kernel(k.name, shape, stores, k.rshape, reductions, k.origin, k.gemm)


def coalesce(k: Kernel) -> Kernel:
    """k with every mergeable pair of adjacent point dims merged, innermost first."""
    if k.is_scan or k.gemm:
        return k
    d = len(k.shape) - 2
    while d >= 0:
        if _mergeable(k, d):
            k = _merge(k, d)
        d -= 1
    return k
