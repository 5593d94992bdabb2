"""The closed scalar op set → llvmlite IRBuilder calls, with NumPy semantics, written once."""
from __future__ import annotations

from typing import Callable

from llvmlite import ir

from . import mathlib

from ..ir import dtypes as dt
from ..ir.dtypes import DType
from ..ir.kernel import GUARD, Expr, postorder

I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
F32, F64 = ir.FloatType(), ir.DoubleType()
PTR = ir.PointerType()
REDUCE_FLAGS = ("reassoc",)


def llvm_type(d: DType) -> ir.Type:
    """Register type: bools are i1 in registers, i8 in memory."""
    return {"f32": F32, "f64": F64, "i32": I32, "i64": I64, "bool": I1}[d.short]


def memory_type(d: DType) -> ir.Type:
    return I8 if d.is_bool else llvm_type(d)


def _suffix(d: DType) -> str:
    return "i1" if d.is_bool else d.short


def constant(d: DType, value) -> ir.Constant:
    return ir.Constant(llvm_type(d), value)


class ScalarEmitter:
    """Emits Exprs into one basic-block region; `leaf(expr)` supplies idx/ridx/acc/load values."""

    def __init__(self, b: ir.IRBuilder, leaf: Callable[[Expr], ir.Value], memo: dict | None = None):
        self.b, self.leaf = b, leaf
        self.memo: dict[int, ir.Value] = {} if memo is None else memo
        self.module = b.module

    def intrinsic(self, name: str, d: DType, *args: ir.Value, result: DType | None = None,
                  flags: tuple[str, ...] = ()) -> ir.Value:
        """Call llvm.<name> overloaded on the argument type (and result type, if it differs)."""
        t, rt = llvm_type(d), llvm_type(result or d)
        sym = ".".join(["llvm", name] + ([_suffix(result)] if result else []) + [_suffix(d)])
        fn = self.module.globals.get(sym)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(rt, [t] * len(args)), sym)
        return self.b.call(fn, args, fastmath=flags)

    def libm(self, name: str, d: DType, *args: ir.Value) -> ir.Value:
        t = llvm_type(d)
        sym = name + ("f" if d == dt.float32 else "")
        fn = self.module.globals.get(sym)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(t, [t] * len(args)), sym)
        return self.b.call(fn, args)

    def __call__(self, e: Expr) -> ir.Value:
        """e's value, emitting first every argument not yet emitted (in the order a recursive
        walk would, but with a stack of our own: a body of any depth emits)."""
        v = self.memo.get(id(e))
        if v is None:
            for x in postorder([e], self._operands):
                if id(x) not in self.memo:
                    self.memo[id(x)] = self._emit(x)
            v = self.memo[id(e)]
        return v

    def _operands(self, e: Expr) -> tuple[Expr, ...]:
        """The arguments emitted before e: none for leaves and for a guarded select, which
        emits its own inside a branch."""
        if id(e) in self.memo or e.op in ("const", "idx", "ridx", "acc", "load", "check") or \
                (e.op == "select" and e.attr == GUARD):
            return ()
        return e.args

    def _emit(self, e: Expr) -> ir.Value:
        if e.op == "const":
            return constant(e.dtype, e.attr)
        if e.op in ("idx", "ridx", "acc", "load", "check"):
            return self.leaf(e)
        if e.op == "select" and e.attr == GUARD:
            return self.guarded(*e.args)
        return getattr(self, "op_" + e.op)(e, *[self(a) for a in e.args])

    def guarded(self, c: Expr, a: Expr, fill: Expr) -> ir.Value:
        """Branch around a's evaluation; values first computed inside the branch do not
        dominate what follows, so they leave the memo with it."""
        b = self.b
        cond, other = self(c), self(fill)
        before = b.block
        inside = b.append_basic_block("guard.in")
        after = b.append_basic_block("guard.out")
        b.cbranch(cond, inside, after)
        b.position_at_end(inside)
        known = set(self.memo)
        value = self(a)
        last = b.block
        b.branch(after)
        for k in set(self.memo) - known:
            del self.memo[k]
        b.position_at_end(after)
        phi = b.phi(value.type)
        phi.add_incoming(value, last)
        phi.add_incoming(other, before)
        return phi

    def _arg_dtype(self, e: Expr) -> DType:
        return e.args[0].dtype

    # arithmetic -----------------------------------------------------------------------------
    def op_add(self, e, x, y):
        return self.b.fadd(x, y) if e.dtype.is_float else self.b.add(x, y)

    def op_sub(self, e, x, y):
        return self.b.fsub(x, y) if e.dtype.is_float else self.b.sub(x, y)

    def op_mul(self, e, x, y):
        return self.b.fmul(x, y) if e.dtype.is_float else self.b.mul(x, y)

    def op_div(self, e, x, y):
        return self.b.fdiv(x, y)

    def op_neg(self, e, x):
        return self.b.fneg(x) if e.dtype.is_float else self.b.neg(x)

    def op_abs(self, e, x):
        if e.dtype.is_float:
            return self.intrinsic("fabs", e.dtype, x)
        return x if e.dtype.is_bool else self.b.select(self.b.icmp_signed("<", x, x.type(0)), self.b.neg(x), x)

    def op_sign(self, e, x):
        d, b = e.dtype, self.b
        if d.is_bool:
            return x
        one, mone, zero = constant(d, 1), constant(d, -1), constant(d, 0)
        gt, lt = (b.fcmp_ordered(">", x, zero), b.fcmp_ordered("<", x, zero)) if d.is_float else \
            (b.icmp_signed(">", x, zero), b.icmp_signed("<", x, zero))
        return b.select(gt, one, b.select(lt, mone, x))

    def op_floordiv(self, e, x, y):
        d, b = e.dtype, self.b
        if d.is_float:
            mod = b.frem(x, y)
            div = b.fdiv(b.fsub(x, mod), y)
            zero = constant(d, 0.0)
            wrong_sign = b.and_(b.fcmp_unordered("!=", mod, zero),
                                b.xor(b.fcmp_ordered("<", y, zero), b.fcmp_ordered("<", mod, zero)))
            div = b.select(wrong_sign, b.fsub(div, constant(d, 1.0)), div)
            fl = self.intrinsic("floor", d, div)
            fl = b.select(b.fcmp_ordered(">", b.fsub(div, fl), constant(d, 0.5)), b.fadd(fl, constant(d, 1.0)), fl)
            signed_zero = self.intrinsic("copysign", d, zero, b.fdiv(x, y))
            out = b.select(b.fcmp_unordered("!=", div, zero), fl, signed_zero)
            return b.select(b.fcmp_ordered("==", y, zero), b.fdiv(x, y), out)
        zero, one, mone = constant(d, 0), constant(d, 1), constant(d, -1)
        y_is0, y_ism1 = b.icmp_signed("==", y, zero), b.icmp_signed("==", y, mone)
        safe = b.select(b.or_(y_is0, y_ism1), one, y)
        q, r = b.sdiv(x, safe), b.srem(x, safe)
        adjust = b.and_(b.icmp_signed("!=", r, zero), b.xor(b.icmp_signed("<", r, zero), b.icmp_signed("<", y, zero)))
        q = b.select(adjust, b.sub(q, one), q)
        return b.select(y_is0, zero, b.select(y_ism1, b.neg(x), q))

    def op_mod(self, e, x, y):
        d, b = e.dtype, self.b
        if d.is_float:
            zero = constant(d, 0.0)
            r = b.frem(x, y)
            wrong_sign = b.and_(b.fcmp_unordered("!=", r, zero),
                                b.xor(b.fcmp_ordered("<", y, zero), b.fcmp_ordered("<", r, zero)))
            r = b.select(wrong_sign, b.fadd(r, y), r)
            return b.select(b.fcmp_ordered("==", r, zero), self.intrinsic("copysign", d, zero, y), r)
        zero, one = constant(d, 0), constant(d, 1)
        y_is0 = b.icmp_signed("==", y, zero)
        safe = b.select(b.or_(y_is0, b.icmp_signed("==", y, constant(d, -1))), one, y)
        r = b.srem(x, safe)
        adjust = b.and_(b.icmp_signed("!=", r, zero), b.xor(b.icmp_signed("<", r, zero), b.icmp_signed("<", y, zero)))
        return b.select(y_is0, zero, b.select(adjust, b.add(r, safe), r))

    def op_pow(self, e, x, y):
        d, b = e.dtype, self.b
        if d.is_float:
            return self.intrinsic("pow", d, x, y)
        result, base = constant(d, 1), x
        for bit in range(d.bits - 1):  # square-and-multiply over the exponent's bits
            take = b.icmp_signed("!=", b.and_(y, constant(d, 1 << bit)), constant(d, 0))
            result = b.select(take, b.mul(result, base), result)
            base = b.mul(base, base)
        return b.select(b.icmp_signed("<", y, constant(d, 0)), self._int_inverse_pow(d, x, y), result)

    def _int_inverse_pow(self, d, x, y):
        """x^y for y < 0: 1/x^|y| truncated toward zero (1, ±1 for x = -1, else 0)."""
        b, one = self.b, constant(d, 1)
        odd = b.icmp_signed("!=", b.and_(y, one), constant(d, 0))
        minus = b.select(odd, constant(d, -1), one)
        return b.select(b.icmp_signed("==", x, one), one,
                        b.select(b.icmp_signed("==", x, constant(d, -1)), minus, constant(d, 0)))

    def op_max(self, e, x, y):
        return self._minmax(e.dtype, x, y, "maximum", ">")

    def op_min(self, e, x, y):
        return self._minmax(e.dtype, x, y, "minimum", "<")

    def _minmax(self, d, x, y, name, rel):
        if d.is_float:
            return self.intrinsic(name, d, x, y)
        cmp = self.b.icmp_unsigned if d.is_bool else self.b.icmp_signed
        return self.b.select(cmp(rel, x, y), x, y)

    # transcendental -------------------------------------------------------------------------
    def _own(self, fn, e, x):
        """float32: kiln's vectorisable version (codegen/mathlib.py)."""
        return fn(self.b, x, lambda name, *args: self.intrinsic(name, dt.float32, *args))

    def op_exp(self, e, x):
        if e.dtype != dt.float32:
            return self.intrinsic("exp", e.dtype, x)
        nonpositive = _nonpositive(e.args[0])
        return self._own(lambda b, v, intrinsic: mathlib.exp_f32(b, v, intrinsic, nonpositive), e, x)

    def op_log(self, e, x):
        return self._own(mathlib.log_f32, e, x) if e.dtype == dt.float32 else self.intrinsic("log", e.dtype, x)

    def op_log1p(self, e, x):
        return self._own(mathlib.log1p_f32, e, x) if e.dtype == dt.float32 else self.libm("log1p", e.dtype, x)

    def op_sqrt(self, e, x):
        return self.intrinsic("sqrt", e.dtype, x)

    def op_sin(self, e, x):
        return self.intrinsic("sin", e.dtype, x)

    def op_cos(self, e, x):
        return self.intrinsic("cos", e.dtype, x)

    def op_sigmoid(self, e, x):
        if e.dtype == dt.float32:
            return self._own(mathlib.sigmoid_f32, e, x)
        b, d, one = self.b, e.dtype, constant(e.dtype, 1.0)
        z = self.intrinsic("exp", d, b.fneg(self.intrinsic("fabs", d, x)))
        negative = b.icmp_signed("<", b.bitcast(x, ir.IntType(d.bits)), ir.IntType(d.bits)(0))
        return b.fdiv(b.select(negative, z, one), b.fadd(z, one))

    def op_tanh(self, e, x):
        return self._own(mathlib.tanh_f32, e, x) if e.dtype == dt.float32 else self.libm("tanh", e.dtype, x)

    def op_floor(self, e, x):
        return self.intrinsic("floor", e.dtype, x) if e.dtype.is_float else x

    def op_ceil(self, e, x):
        return self.intrinsic("ceil", e.dtype, x) if e.dtype.is_float else x

    def op_isnan(self, e, x):
        return self.b.fcmp_unordered("uno", x, x)

    # comparison and logic -------------------------------------------------------------------
    def _compare(self, e, x, y, rel):
        d = self._arg_dtype(e)
        if d.is_float:
            return self.b.fcmp_unordered(rel, x, y) if rel == "!=" else self.b.fcmp_ordered(rel, x, y)
        return (self.b.icmp_unsigned if d.is_bool else self.b.icmp_signed)(rel, x, y)

    def op_lt(self, e, x, y):
        return self._compare(e, x, y, "<")

    def op_le(self, e, x, y):
        return self._compare(e, x, y, "<=")

    def op_gt(self, e, x, y):
        return self._compare(e, x, y, ">")

    def op_ge(self, e, x, y):
        return self._compare(e, x, y, ">=")

    def op_eq(self, e, x, y):
        return self._compare(e, x, y, "==")

    def op_ne(self, e, x, y):
        return self._compare(e, x, y, "!=")

    def op_and(self, e, x, y):
        return self.b.and_(x, y)

    def op_or(self, e, x, y):
        return self.b.or_(x, y)

    def op_xor(self, e, x, y):
        return self.b.xor(x, y)

    def op_not(self, e, x):
        return self.b.not_(x)

    def op_shl(self, e, x, y):
        return self.b.shl(x, y)

    def op_lshr(self, e, x, y):
        return self.b.lshr(x, y)

    def op_select(self, e, c, x, y):
        return self.b.select(c, x, y)

    def op_cast(self, e, x):
        src, dst, b = self._arg_dtype(e), e.dtype, self.b
        t = llvm_type(dst)
        if dst.is_bool:
            return b.fcmp_unordered("!=", x, constant(src, 0.0)) if src.is_float else b.icmp_unsigned(
                "!=", x, constant(src, 0))
        if src.is_float and dst.is_float:
            return b.fpext(x, t) if dst.bits > src.bits else b.fptrunc(x, t)
        if src.is_float:
            return self.intrinsic("fptosi.sat", src, x, result=dst)
        if dst.is_float:
            return b.uitofp(x, t) if src.is_bool else b.sitofp(x, t)
        if dst.bits > src.bits:
            return b.zext(x, t) if src.is_bool else b.sext(x, t)
        return b.trunc(x, t)


def _nonpositive(e: Expr) -> bool:
    """Whether e ≤ 0 (or NaN) by its form alone: −|x|, −(x·x), −e^x and the like, so exp of it
    never overflows (sigmoid's and softplus's e^−|x|)."""
    return e.op == "neg" and _nonnegative(e.args[0])


def _nonnegative(e: Expr) -> bool:
    if e.op in ("abs", "exp", "sqrt"):
        return True
    return e.op == "mul" and e.args[0] is e.args[1]
