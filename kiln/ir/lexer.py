"""The `.kir` lexer: one left-to-right scan of each line that never backtracks, so its time is
linear in the text (a 100 kB line lexes as fast as it is read), and every token keeps its
column for the parser's `line:col` errors.

Tokens: numbers (`-12`, `0.5`, `1e-05`, `-inf`), JSON strings, names (`%3`, `@f`, `add`,
`f32`), punctuation, `dense<`, and `#`, which makes the rest of the line one location token.
"""
from __future__ import annotations

import string
from dataclasses import dataclass

from ..errors import ParseError

_SPACE = frozenset(" \t\r")
_DIGITS = frozenset(string.digits)
_WORD = frozenset(string.ascii_letters + string.digits + "_.")
_WORD_START = frozenset(string.ascii_letters + "_")
_PUNCT = frozenset("(){}[],:=<>")
_GRAPH_NAME_STOP = _SPACE | frozenset("(){},:=")  # `@<lambda>` is a graph name


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "str", "name", "punct", "loc" or "end"
    text: str
    col: int  # 1-based column of its first character


def error(lineno: int, col: int, msg: str, line: str) -> ParseError:
    """The parser's one error form: `line L:C: what: 'the line'` (long lines shortened)."""
    shown = line.strip()
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return ParseError(f"line {lineno}:{col}: {msg}: {shown!r}")


def decode(data: bytes) -> str:
    """The text of `data`, or a ParseError at the line:col of its first byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - data.rfind(b"\n", 0, e.start)
        raise ParseError(f"line {line}:{col}: the text is not UTF-8 (byte 0x{data[e.start]:02x})") from None


def tokens(line: str, lineno: int) -> list[Token]:
    """The tokens of one line, ending with an "end" token."""
    out: list[Token] = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c in _SPACE:
            i += 1
            continue
        if c == "#":
            out.append(Token("loc", line[i + 1:].strip(), i + 1))
            i = n
            break
        start = i
        if c == '"':
            i, kind = _string_end(line, i, lineno), "str"
        elif c in _DIGITS or (c == "-" and (line[i + 1:i + 2] in _DIGITS or _word_is(line, i + 1, "inf"))):
            i, kind = _number_end(line, i, lineno), "num"
        elif c == "%":
            i, kind = _run(line, i + 1, _WORD), "name"
        elif c == "@":
            i, kind = _run_until(line, i + 1, _GRAPH_NAME_STOP), "name"
        elif c in _WORD_START:
            i, kind = _run(line, i, _WORD), "name"
            if line[start:i] == "dense" and line[i:i + 1] == "<":
                i, kind = i + 1, "punct"
        elif c in _PUNCT:
            i, kind = i + 1, "punct"
        else:
            raise error(lineno, i + 1, f"unexpected character {c!r}", line)
        if i == start + 1 and c in "%@":
            raise error(lineno, i + 1, f"expected a name after {c!r}", line)
        out.append(Token(kind, line[start:i], start + 1))
    out.append(Token("end", "", n + 1))
    return out


def _run(line: str, i: int, chars: frozenset[str]) -> int:
    """The end of the run of `chars` starting at i."""
    while i < len(line) and line[i] in chars:
        i += 1
    return i


def _run_until(line: str, i: int, stop: frozenset[str]) -> int:
    while i < len(line) and line[i] not in stop:
        i += 1
    return i


def _word_is(line: str, i: int, word: str) -> bool:
    return line.startswith(word, i) and line[i + len(word):i + len(word) + 1] not in _WORD


def _number_end(line: str, i: int, lineno: int) -> int:
    """-?digits[.digits][e[+-]digits] or -inf; a number running into a letter, digit or dot
    (`1.2.3`, `4x`) is malformed."""
    start = i
    if line[i] == "-":
        i += 1
        if _word_is(line, i, "inf"):
            return i + 3
    i = _run(line, i, _DIGITS)
    if line[i:i + 1] == ".":
        i = _run(line, i + 1, _DIGITS)
    if line[i:i + 1] in ("e", "E"):
        j = i + 1 + (line[i + 1:i + 2] in ("+", "-"))
        k = _run(line, j, _DIGITS)
        if k == j:
            raise error(lineno, start + 1, "malformed number: exponent without digits", line)
        i = k
    if line[i:i + 1] in _WORD:
        raise error(lineno, start + 1, f"malformed number {line[start:i + 1]!r}", line)
    return i


def _string_end(line: str, i: int, lineno: int) -> int:
    """The end of the JSON string starting at i (a backslash escapes the next character)."""
    j = i + 1
    while j < len(line):
        c = line[j]
        if c == '"':
            return j + 1
        j += 2 if c == "\\" else 1
    raise error(lineno, i + 1, "unterminated string", line)
