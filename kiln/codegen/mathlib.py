"""kiln's own float32 exp, log, log1p and tanh, written as straight-line LLVM IR (selects,
FMA-friendly polynomials, integer bit tricks and no calls), so the loop vectorizer turns
them into SIMD code where libm calls would stay scalar. Every backend that emits LLVM IR
(CPU, NVPTX) shares them. Range reduction after Cody & Waite; polynomial coefficients are
the classic single-precision minimax fits (as in Cephes); about 1–2 ulp against NumPy.

Each function takes the IRBuilder, a float value and `intrinsic(name, *args)` (llvm.* calls
overloaded on float).
"""
from __future__ import annotations

from typing import Callable

from llvmlite import ir

F32 = ir.FloatType()
I32 = ir.IntType(32)
Intrinsic = Callable[..., ir.Value]


def _f(v: float) -> ir.Constant:
    return ir.Constant(F32, v)


def _poly(b: ir.IRBuilder, x: ir.Value, coeffs: tuple[float, ...]) -> ir.Value:
    """Horner: coeffs[0]·x^(n-1) + … + coeffs[-1]."""
    acc = _f(coeffs[0])
    for c in coeffs[1:]:
        acc = b.fadd(b.fmul(acc, x), _f(c))
    return acc


def _pow2(b: ir.IRBuilder, n: ir.Value) -> ir.Value:
    """2**n for an integer-valued float n in [-75, 64], built from exponent bits."""
    ni = b.fptosi(n, I32)
    return b.bitcast(b.shl(b.add(ni, I32(127)), I32(23)), F32)


def exp_f32(b: ir.IRBuilder, x: ir.Value, intrinsic: Intrinsic) -> ir.Value:
    """e^x = 2^n · p(r), n = round(x·log2 e), r = x − n·ln 2 in two parts; 2^n is applied as
    two halves so subnormal results and overflow to inf come out right."""
    xc = intrinsic("minnum", intrinsic("maxnum", x, _f(-104.0)), _f(89.0))
    n = intrinsic("floor", b.fadd(b.fmul(xc, _f(1.44269504088896341)), _f(0.5)))
    r = b.fsub(b.fsub(xc, b.fmul(n, _f(0.693359375))), b.fmul(n, _f(-2.12194440e-4)))
    p = _poly(b, r, (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
                     5.0000001201e-1))
    p = b.fadd(b.fadd(b.fmul(p, b.fmul(r, r)), r), _f(1.0))
    half = intrinsic("floor", b.fmul(n, _f(0.5)))
    y = b.fmul(b.fmul(p, _pow2(b, half)), _pow2(b, b.fsub(n, half)))
    return b.select(b.fcmp_unordered("uno", x, x), x, y)


def log_f32(b: ir.IRBuilder, x: ir.Value, intrinsic: Intrinsic) -> ir.Value:
    """log x = e·ln 2 + log m with x = m·2^e, m in [√½, √2); subnormals are scaled first."""
    tiny = b.fcmp_ordered("<", x, _f(1.17549435e-38))
    xs = b.select(tiny, b.fmul(x, _f(8388608.0)), x)  # 2^23
    bits = b.bitcast(xs, I32)
    e = b.sub(b.and_(b.lshr(bits, I32(23)), I32(0xFF)), I32(126))
    m = b.bitcast(b.or_(b.and_(bits, I32(0x007FFFFF)), I32(0x3F000000)), F32)  # [0.5, 1)
    e = b.sitofp(e, F32)
    e = b.select(tiny, b.fsub(e, _f(23.0)), e)
    low = b.fcmp_ordered("<", m, _f(0.707106781186547524))
    e = b.select(low, b.fsub(e, _f(1.0)), e)
    m = b.fsub(b.select(low, b.fadd(m, m), m), _f(1.0))
    z = b.fmul(m, m)
    p = _poly(b, m, (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
                     -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1))
    y = b.fmul(b.fmul(m, z), p)
    y = b.fadd(y, b.fmul(e, _f(-2.12194440e-4)))
    y = b.fsub(y, b.fmul(z, _f(0.5)))
    y = b.fadd(b.fadd(m, y), b.fmul(e, _f(0.693359375)))
    inf = _f(float("inf"))
    y = b.select(b.fcmp_ordered("==", x, inf), inf, y)
    y = b.select(b.fcmp_ordered("==", x, _f(0.0)), _f(float("-inf")), y)
    return b.select(b.fcmp_unordered("ult", x, _f(0.0)), _f(float("nan")), y)  # x < 0 or NaN


def log1p_f32(b: ir.IRBuilder, x: ir.Value, intrinsic: Intrinsic) -> ir.Value:
    """log(1+x) accurate for small x: log(u)·x/(u−1) with u = 1+x (x itself where u == 1)."""
    u = b.fadd(x, _f(1.0))
    d = b.fsub(u, _f(1.0))
    y = b.fmul(log_f32(b, u, intrinsic), b.fdiv(x, d))
    y = b.select(b.fcmp_ordered("==", u, _f(float("inf"))), u, y)
    return b.select(b.fcmp_ordered("==", d, _f(0.0)), x, y)


def tanh_f32(b: ir.IRBuilder, x: ir.Value, intrinsic: Intrinsic) -> ir.Value:
    """An odd polynomial for |x| < 0.625, else sign(x)·(1 − 2/(e^(2|x|)+1))."""
    a = intrinsic("fabs", x)
    z = b.fmul(x, x)
    small = b.fadd(b.fmul(b.fmul(_poly(b, z, (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2,
                                              1.33314422036e-1, -3.33332819422e-1)), z), x), x)
    big = b.fsub(_f(1.0), b.fdiv(_f(2.0), b.fadd(exp_f32(b, b.fadd(a, a), intrinsic), _f(1.0))))
    big = intrinsic("copysign", big, x)
    return b.select(b.fcmp_ordered("<", a, _f(0.625)), small, b.select(b.fcmp_unordered("uno", x, x), x, big))
