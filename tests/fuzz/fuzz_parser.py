"""Coverage-guided fuzzing of the `.kir` parser with atheris (the `dev` extra); not a pytest file.

    python tests/fuzz/fuzz_parser.py -runs=1000000 [-jobs=2 -workers=2] [more libFuzzer flags]

Inputs are arbitrary bytes and libFuzzer's mutations of a seed corpus of valid texts (every
`tests/lit/*.kir`, copied to a scratch folder) spliced with a dictionary of the IR's words
(op names, dtypes, punctuation). For each input: `parse` may raise only ParseError; what parses
prints to a text that parses back to the same text, verifies, and goes through the graph
passes kiln owns (simplify, cse, dce) and the lowering with only kiln errors. Any other
exception is a finding: libFuzzer stops and writes the input to `crash-*`; each finding
becomes a regression test (tests/lit/parse_error_*.kir or tests/unit/test_parser_hostile.py).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["kiln"]):
    from kiln.errors import KilnError, ParseError
    from kiln.ir.opdef import REGISTRY
    from kiln.ir.parser import parse
    from kiln.ir.printer import print_graph
    from kiln.ir.verify import verify
    from kiln.passes import lower, run_pipeline

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["func", "return", "state", "dense<", "true", "false", "none", "inf", "-inf", "nan", "%0", "%1",
         "@f", " : ", " = ", ", ", "{", "}", "(", ")", "[", "]", "  # a.py:1", "1e308", "-0.0", "2.5"]


def one_input(data: bytes) -> None:
    try:
        g = parse(data)
    except ParseError:
        return
    text = print_graph(g)
    again = print_graph(parse(text))
    assert again == text, f"printed text does not parse back to itself:\n{text}\n{again}"
    try:
        verify(g)
        lower(run_pipeline(g, ["simplify", "cse", "dce"]))
    except KilnError:
        pass


def _dictionary(folder: Path) -> Path:
    path = folder / "kir.dict"
    words = WORDS + sorted(REGISTRY) + [d for op in REGISTRY.values() for d in op.attrs]
    words += ["f32", "f64", "i32", "i64", "bool"]
    path.write_text("".join(f'"{w.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"\n'
                            for w in dict.fromkeys(words)))
    return path


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="kiln-fuzz-"))
    corpus = scratch / "corpus"
    corpus.mkdir()
    for seed in sorted((ROOT / "tests" / "lit").glob("*.kir")):
        shutil.copy(seed, corpus / seed.name)
    argv = sys.argv + [f"-dict={_dictionary(scratch)}", "-max_len=4096", str(corpus)]
    atheris.Setup(argv, one_input)
    try:
        atheris.Fuzz()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("KILN_CACHE_DIR", "")
    main()
