"""kiln's own float32 exp, log, log1p and tanh, written as straight-line LLVM IR (selects,
FMA-friendly polynomials, integer bit tricks and no calls), so the loop vectorizer turns
them into SIMD code where libm calls would stay scalar. Every backend that emits LLVM IR
(CPU, NVPTX) shares them. Range reduction after Cody & Waite; log's polynomial is the classic
single-precision minimax fit (as in Cephes), exp's our own relative-error minimax fit of
e^r − 1 − r (five coefficients suffice for float32); about 1–2 ulp against NumPy.

Each function takes the IRBuilder, a float value and `intrinsic(name, *args)` (llvm.* calls
overloaded on float).
"""
from __future__ import annotations

from typing import Callable

from llvmlite import ir

F32 = ir.FloatType()
C = ("contract",)  # let LLVM fuse multiply-adds (FMA): faster and at least as accurate
I32 = ir.IntType(32)
Intrinsic = Callable[..., ir.Value]


def _mul(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.fmul(x, y, flags=C)


def _add(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.fadd(x, y, flags=C)


def _sub(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.fsub(x, y, flags=C)


def _f(v: float) -> ir.Constant:
    return ir.Constant(F32, v)


def _poly(b: ir.IRBuilder, x: ir.Value, coeffs: tuple[float, ...]) -> ir.Value:
    """coeffs[0]·x^(n-1) + … + coeffs[-1] by Estrin's scheme: pairs c + c'·x, then pairs of
    those with x², x⁴, …: a dependent chain of about log2(n) multiply-adds instead of Horner's
    n − 1. The loops these run in are bound by that chain's latency, not by the few extra
    multiplies. Three terms left take two steps of Horner's rule in the current power, as
    deep as one more pairing but without squaring the power again."""
    terms = [_f(c) for c in reversed(coeffs)]  # lowest degree first
    power = x
    while len(terms) > 3:
        terms = [_add(b, _mul(b, terms[i + 1], power), terms[i]) if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
        power = _mul(b, power, power)
    result = terms[-1]
    for t in reversed(terms[:-1]):
        result = _add(b, _mul(b, result, power), t)
    return result


_ROUND = 12582912.0  # 1.5·2^23: adding it rounds a float of magnitude < 2^22 to an integer


def _reduce(b: ir.IRBuilder, x: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(r, n) with x = n·ln 2 + r, |r| ≤ ln2/2, n an i32: n = round(x·log2 e) by the
    add-1.5·2^23 trick (its low bits are n itself), r in two parts (Cody–Waite)."""
    t = _add(b, _mul(b, x, _f(1.44269504088896341)), _f(_ROUND))
    n = _sub(b, t, _f(_ROUND))
    r = _sub(b, _sub(b, x, _mul(b, n, _f(0.693359375))), _mul(b, n, _f(-2.12194440e-4)))
    return r, b.sub(b.bitcast(t, I32), b.bitcast(_f(_ROUND), I32))


def _exp_reduced(b: ir.IRBuilder, x: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(q, n) with e^x = (1 + q)·2^n: q = e^r − 1 = r + r²·p(r) by a minimax fit on
    |r| ≤ ln2/2, kept apart from the 1 so tanh's 1 − e^x has it without cancellation (exp
    and tanh in one loop share the constants)."""
    r, n = _reduce(b, x)
    p = _poly(b, r, (1.3882522471e-3, 8.3665139973e-3, 4.1667200625e-2, 1.6666543484e-1,
                     4.9999997020e-1))
    return _add(b, _mul(b, p, _mul(b, r, r)), r), n


def _pow2(b: ir.IRBuilder, n: ir.Value) -> ir.Value:
    """2**n for an i32 n in [-126, 127], built from exponent bits."""
    return b.bitcast(b.shl(b.add(n, I32(127)), I32(23)), F32)


def exp_f32(b: ir.IRBuilder, x: ir.Value, intrinsic: Intrinsic, nonpositive: bool = False) -> ir.Value:
    """e^x = 2^n·(1 + q), formed as (2^a + 2^a·q)·2^(n−a) (one FMA, then one exact or
    correctly rounding scale) so subnormal results and overflow to inf come out right. For x
    known to be ≤ 0 (n in [−150, 0]) a = n + 24 and the second factor is the constant 2^−24;
    otherwise 2^n is split in halves. The clamp keeps NaN (an unordered compare picks x)."""
    if nonpositive:
        return _mul(b, _exp_scaled(b, x), _f(2.0 ** -24))
    q, n = _exp_reduced(b, _clamp(b, x, -104.0, 89.0))
    first = b.ashr(n, I32(1))
    scale = _pow2(b, first)
    return _mul(b, _add(b, _mul(b, q, scale), scale), _pow2(b, b.sub(n, first)))


def _exp_scaled(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """2^24·e^x for x ≤ 0 (or NaN): a normal number down to x = −104, below which e^x rounds
    to 0 in any float32 use."""
    q, n = _exp_reduced(b, _clamp(b, x, -104.0, None))
    scale = _pow2(b, b.add(n, I32(24)))
    return _add(b, _mul(b, q, scale), scale)


def _clamp(b: ir.IRBuilder, x: ir.Value, lo: float, hi: float | None) -> ir.Value:
    """min(max(x, lo), hi) that passes NaN through."""
    x = b.select(b.fcmp_unordered(">", x, _f(lo)), x, _f(lo))
    return x if hi is None else b.select(b.fcmp_unordered("<", x, _f(hi)), x, _f(hi))


def log_f32(b: ir.IRBuilder, x: ir.Value, intrinsic: Intrinsic) -> ir.Value:
    """log x = e·ln 2 + log m with x = m·2^e, m in [√½, √2); subnormals are scaled first."""
    tiny = b.fcmp_ordered("<", x, _f(1.17549435e-38))
    xs = b.select(tiny, _mul(b, x, _f(8388608.0)), x)  # 2^23
    bits = b.bitcast(xs, I32)
    e = b.sub(b.and_(b.lshr(bits, I32(23)), I32(0xFF)), I32(126))
    m = b.bitcast(b.or_(b.and_(bits, I32(0x007FFFFF)), I32(0x3F000000)), F32)  # [0.5, 1)
    e = b.sitofp(e, F32)
    e = b.select(tiny, _sub(b, e, _f(23.0)), e)
    low = b.fcmp_ordered("<", m, _f(0.707106781186547524))
    e = b.select(low, _sub(b, e, _f(1.0)), e)
    m = _sub(b, b.select(low, _add(b, m, m), m), _f(1.0))
    z = _mul(b, m, m)
    p = _poly(b, m, (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
                     -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1))
    y = _mul(b, _mul(b, m, z), p)
    y = _add(b, y, _mul(b, e, _f(-2.12194440e-4)))
    y = _sub(b, y, _mul(b, z, _f(0.5)))
    y = _add(b, _add(b, m, y), _mul(b, e, _f(0.693359375)))
    inf = _f(float("inf"))
    y = b.select(b.fcmp_ordered("==", x, inf), inf, y)
    y = b.select(b.fcmp_ordered("==", x, _f(0.0)), _f(float("-inf")), y)
    return b.select(b.fcmp_unordered("ult", x, _f(0.0)), _f(float("nan")), y)  # x < 0 or NaN


def log1p_f32(b: ir.IRBuilder, x: ir.Value, intrinsic: Intrinsic) -> ir.Value:
    """log(1+x) accurate for small x: log(u)·x/(u−1) with u = 1+x (x itself where u == 1)."""
    u = _add(b, x, _f(1.0))
    d = _sub(b, u, _f(1.0))
    y = _mul(b, log_f32(b, u, intrinsic), b.fdiv(x, d))
    y = b.select(b.fcmp_ordered("==", u, _f(float("inf"))), u, y)
    return b.select(b.fcmp_ordered("==", d, _f(0.0)), x, y)


def _one_minus_exp(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """1 − e^x for x in [−87, 0] without cancellation near 0: with e^x = 2^n·(1 + q),
    1 − e^x = (1 − 2^n) − 2^n·q, one FMA joining the parts."""
    q, n = _exp_reduced(b, x)
    scale = _pow2(b, n)
    return _sub(b, _sub(b, _f(1.0), scale), _mul(b, scale, q))


def sigmoid_f32(b: ir.IRBuilder, x: ir.Value, intrinsic: Intrinsic) -> ir.Value:
    """1/(1 + e) for x ≥ 0, e/(1 + e) below, e = e^−|x| in (0, 1], numerator and denominator
    both taken 2^24 times (exact): 2^24·e is normal down to x = −104, so the quotient rounds
    once, into the subnormals where it is that small. Never overflows; NaN passes; the sign
    bit picks the numerator (−0.0 gives 0.5 either way)."""
    scaled = _exp_scaled(b, b.fneg(intrinsic("fabs", x)))
    one = _f(2.0 ** 24)
    negative = b.icmp_signed("<", b.bitcast(x, I32), I32(0))
    return b.fdiv(b.select(negative, scaled, one), _add(b, scaled, one))


def tanh_f32(b: ir.IRBuilder, x: ir.Value, intrinsic: Intrinsic) -> ir.Value:
    """tanh|x| = p/(2 − p) with p = 1 − e^(−2|x|) in [0, 1): one formula for every x, exact
    for tiny x, no overflow; clamping −2|x| at −87 keeps 2^n normal (±1 from |x| > 9 on).
    p ≥ 0, so x's sign goes on with one OR, off the divide's path."""
    p = _one_minus_exp(b, _clamp(b, _mul(b, intrinsic("fabs", x), _f(-2.0)), -87.0, None))
    signed = b.bitcast(b.or_(b.bitcast(p, I32), b.and_(b.bitcast(x, I32), I32(-2 ** 31))), F32)
    return b.fdiv(signed, _sub(b, _f(2.0), p))
