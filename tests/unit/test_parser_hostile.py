"""Hostile `.kir` text: whatever it holds, the parser answers quickly with kn.ParseError naming
line:col, and never with another exception, a hang or an allocation of the declared size."""
from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

import kiln as kn
from kiln.ir.opdef import REGISTRY
from kiln.ir.parser import _arity, parse
from kiln.ir.printer import print_graph

HEAD = "func @f(%0: f32[4], %1: i32[4]) {\n"


def body(*lines: str, ret: str = "%0") -> str:
    return HEAD + "".join(f"  {line}\n" for line in lines) + f"  return {ret}\n}}\n"


MALFORMED = {
    "bad number": (body("%2 = add %0, 1.2.3 : f32[4]"), "malformed number"),
    "exponent without digits": (body("%2 = constant {value=dense<1e>} : f32[]"), "exponent without digits"),
    "float overflow": (body("%2 = constant {value=dense<1e999>} : f64[]"), "out of range"),
    "int overflow": (body("%2 = iota {axis=0, dtype=\"int32\", shape=(99999999999999999999,)} : i32[1]"),
                     "out of range of int64"),
    "huge literal": (body("%2 = constant {value=dense<" + "9" * 5000 + ">} : f32[]"),
                     "number literal of 5000"),
    "unknown dtype": (body("%2 = astype %0 {dtype=\"float32\"} : f16[4]"), "kiln has no dtype f16"),
    "negative dim": (HEAD.replace("f32[4]", "f32[-4]") + "  return %0\n}\n", "integer >= 0"),
    "terabyte type": (HEAD.replace("f32[4]", "f32[1000000,1000000]") + "  return %0\n}\n", "at most"),
    "too many dims": (HEAD.replace("f32[4]", "f32[" + ",".join(["1"] * 65) + "]") + "  return %0\n}\n",
                      "at most 64"),
    "constant count": (body("%2 = constant {value=dense<1.0,2.0>} : f32[3]"), "has 2 values but"),
    "constant range": (body("%2 = constant {value=dense<300>} : i32[]".replace("300", str(2 ** 31))),
                       "does not fit"),
    "constant float overflow": (body("%2 = constant {value=dense<1e300>} : f32[]"), "does not fit"),
    "constant kind": (body("%2 = constant {value=dense<1.5>} : i32[]"), "does not fit"),
    "constant bool": (body("%2 = constant {value=dense<1>} : bool[]"), "does not fit"),
    "terabyte constant": (body("%2 = constant {value=dense<1.0>} : f32[1000000,1000]"), "has 1 values but"),
    "unknown attr": (body("%2 = exp %0 {axis=0} : f32[4]"), "exp has no attribute 'axis'; it takes none"),
    "repeated attr": (body("%2 = sum %0 {axes=(0,), axes=(0,), keepdims=false} : f32[]"), "given twice"),
    "attr of wrong kind": (body("%2 = astype %0 {dtype=5} : f32[4]"), "do not fit its rules"),
    "axes of wrong kind": (body("%2 = sum %0 {axes=\"x\", keepdims=false} : f32[]"), "is not an integer"),
    "float in a tuple": (body("%2 = sum %0 {axes=(0.5,), keepdims=false} : f32[]"), "holds integers"),
    "float axis": (body("%2 = argmax %0 {axis=0.5, keepdims=false} : i64[]"), "not an integer"),
    "iota axis": (body("%2 = iota {axis=3, dtype=\"int32\", shape=(8,)} : i32[8]"), "out of range"),
    "axis of a scalar": (body("%2 = sum %3 {axes=(0,), keepdims=false} : f32[]",
                              ).replace("  %2", "  %3 = constant {value=dense<1.0>} : f32[]\n  %2"),
                         "out of bounds for an array of dimension 0"),
    "dense outside a constant": (body("%2 = pad %0 {pads=((1, 1),), value=dense<0.0>} : f32[6]"),
                                 "only a constant's value"),
    "too few operands": (body("%2 = add %0 : f32[4]"), "add takes 2 operands, got 1"),
    "too many operands": (body("%2 = exp %0, %0 : f32[4]"), "exp takes 1 operand, got 2"),
    "op rule error": (body("%2 = add %0, %1 : f32[4]"), "add: operands must share one dtype"),
    "duplicate result": (body("%2 = exp %0 : f32[4]", "%2 = exp %0 : f32[4]"), "%2 is defined twice"),
    "duplicate param": ("func @f(%0: f32[4], %0: f32[4]) {\n  return %0\n}\n", "%0 is defined twice"),
    "result count": (body("%2, %3 = exp %0 : f32[4]"), "1 results, 2 names given"),
    "assign to an arg": (body("assign %0, %0"), "assign writes a state input only"),
    "deep nesting": (body("%2 = sum %0 {axes=" + "(" * 5000 + ")" * 5000 + ", keepdims=false} : f32[]"),
                     "nested deeper than 32"),
    "NUL byte": (body("%2 = exp %0 : f32[4]\x00"), "unexpected character '\\x00'"),
    "unterminated string": (body("%2 = astype %0 {dtype=\"float32} : f32[4]"), "unterminated string"),
    "bad escape": (body("%2 = astype %0 {dtype=\"\\q\"} : f32[4]"), "bad string literal"),
    "bad location": (body("%2 = exp %0 : f32[4]  # nowhere"), "'# FILE:LINE'"),
    "no return": (HEAD + "}\n", "without 'return'"),
    "not closed": (HEAD + "  return %0\n", "not closed by '}'"),
    "text after the function": (body() + "func @g() {\n", "after the function's closing"),
    "node after return": (HEAD + "  return %0\n  %2 = exp %0 : f32[4]\n}\n", "only '}' may follow"),
    "empty": ("// nothing\n\n", "empty input"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_text_raises_parse_error_with_line_and_column(name):
    text, message = MALFORMED[name]
    with pytest.raises(kn.ParseError) as info:
        parse(text)
    assert re.match(r"line \d+:\d+: ", str(info.value)), str(info.value)
    assert message in str(info.value)


def test_text_that_is_not_utf8_names_its_line_and_column():
    data = body("%2 = exp %0 : f32[4]").encode().replace(b"exp", b"e\xffp")
    with pytest.raises(kn.ParseError, match=r"^line 2:9: the text is not UTF-8 \(byte 0xff\)"):
        parse(data)


def test_opt_reports_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "bad.kir"
    path.write_bytes(b"func @f(%0: f32[4]) {\n  return %0 \xc3\x28\n}\n")
    run = subprocess.run([sys.executable, "-m", "kiln", "opt", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith("error: line 2:13: the text is not UTF-8"), run.stderr


@pytest.mark.parametrize("line", [
    "%2 = constant {value=dense<" + "1" * 100_000 + ">} : f32[]",  # the regex this replaced backtracked here
    "%2 = constant {value=dense<" + "1.5," * 25_000 + "1.5>} : f32[25001]",
    "%2 = astype %0 {dtype=\"" + "\\\\" * 50_000 + "} : f32[4]",
    "%2 = exp %0 : f32[4]  " + "1" * 100_000,
    "%2 = sum %0 {axes=" + "(" * 50_000 + "} : f32[]",
])
def test_long_lines_parse_in_linear_time(line):
    start = time.perf_counter()
    try:
        parse(body(line))
    except kn.ParseError:
        pass
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("op", sorted(REGISTRY))
def test_every_op_refuses_an_operand_count_it_does_not_take(op):
    least, most = _arity(REGISTRY[op])
    count = least - 1 if least > 0 else most + 1
    if count == float("inf"):
        pytest.skip(f"{op} takes any number of operands")
    operands = ", ".join(["%0"] * int(count))
    with pytest.raises(kn.ParseError, match=rf"^line 2:\d+: {op} takes "):
        parse(body(f"%2 = {op} {operands} : f32[4]"))


def test_strings_holding_the_location_marker_round_trip():
    text = 'func @f(%0: f32[4] state "w  # not a location") {\n  return %0\n}\n'
    assert print_graph(parse(text)) == text
