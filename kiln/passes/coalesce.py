"""Coalesce a kernel's adjacent point dimensions when every index it computes is affine in
them with row-major strides: a (N, C, 10, 10) epilogue then runs an inner loop of 100
contiguous points, not 10, which is what the vectorizer needs (and a GPU grid too).

Dims d and d+1 (of sizes n_d, n_{d+1}) merge when idx d and idx d+1 are used only inside
add/sub/multiply-by-constant chains that end as load or store offsets, and each such
offset has coefficient(d) = coefficient(d+1) * n_{d+1}; then idx d := 0 and idx d+1 := the
merged index give the same offsets.
"""
from __future__ import annotations

from ..ir.kernel import Expr, Kernel, KernelBuilder, Reduction, Store, make_kernel, nodes, postorder, rebuild

_AFFINE = ("add", "sub", "mul")


def _coefs(e: Expr, dims: tuple[int, int], memo: dict) -> dict[int, int] | None:
    """e's coefficients on idx dims[0], dims[1] ({} if e does not involve them), or None when
    e involves them other than affinely."""
    for x in postorder([e], lambda x: x.args if x.op in _AFFINE and id(x) not in memo else ()):
        if id(x) not in memo:
            memo[id(x)] = _coefs_of(x, dims, memo)
    return memo[id(e)]


def _coefs_of(e: Expr, dims: tuple[int, int], memo: dict) -> dict[int, int] | None:
    """One step of `_coefs`: e's coefficients from its arguments' (in `memo`)."""
    if e.op == "idx" and e.attr in dims:
        return {e.attr: 1}
    if e.op not in _AFFINE:
        return {}
    a, b = (memo[id(x)] for x in e.args)
    if a is None or b is None:
        return None
    if e.op == "mul":
        const = [x.attr for x in e.args if x.is_const]
        if a and b or (a or b) and not const:
            return None
        return {d: c * const[0] for d, c in (a or b).items()}
    sign = -1 if e.op == "sub" else 1
    return {d: a.get(d, 0) + sign * b.get(d, 0) for d in set(a) | set(b)}


def _mergeable(k: Kernel, d: int) -> bool:
    dims, inner = (d, d + 1), k.shape[d + 1]
    memo: dict = {}

    def offset_ok(e: Expr) -> bool:
        c = _coefs(e, dims, memo)
        return c is not None and c.get(d, 0) == c.get(d + 1, 0) * inner

    def use_ok(e: Expr) -> bool:
        """A non-affine use of an index expression in dims is a load offset that fits."""
        if e.op == "load":
            return offset_ok(e.args[0])
        return e.op in _AFFINE or all(_coefs(a, dims, memo) == {} for a in e.args)
    exprs = [r.value for r in k.reductions] + [s.value for s in k.stores]
    if any(_coefs(v, dims, memo) != {} for v in exprs):
        return False  # a value computed from the index itself (iota)
    return all(offset_ok(s.offset) for s in k.stores) and \
        all(use_ok(e) for e in nodes([s.offset for s in k.stores] + exprs))


def _merge(k: Kernel, d: int) -> Kernel:
    b = KernelBuilder()

    def moved(e: Expr, args: tuple[Expr, ...]) -> Expr:
        if e.op == "idx":
            return b.const(0) if e.attr == d else b.idx(e.attr - (e.attr > d))
        if e.op == "const":
            return b.const(e.attr, e.dtype)
        if e.op in ("ridx", "acc"):
            return b.ridx(e.attr) if e.op == "ridx" else b.acc(e.attr, e.dtype)
        if e.op == "load":
            return b.load(e.attr, args[0], e.dtype)
        new = b._mk(e.op, e.dtype, args, e.attr)
        return b.binary(e.op, *new.args) if e.op in _AFFINE and new.dtype.is_int else new
    memo = rebuild(k.roots(), moved)
    shape = k.shape[:d] + (k.shape[d] * k.shape[d + 1],) + k.shape[d + 2:]
    stores = tuple(Store(s.buf, memo[id(s.offset)], memo[id(s.value)], s.mode) for s in k.stores)
    reductions = tuple(Reduction(r.kind, memo[id(r.value)]) for r in k.reductions)
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
