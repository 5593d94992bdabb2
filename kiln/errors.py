"""kiln's user-facing errors: each names the op, the offending types and the user's file:line."""
from __future__ import annotations


class KilnError(Exception):
    """Base error; `op` and `loc` are filled in as the error travels up to the user."""

    def __init__(self, message: str, op: str | None = None, loc: object = None):
        self.detail, self.op, self.loc = message, op, loc
        super().__init__(self._text())

    def _text(self) -> str:
        text = f"{self.op}: {self.detail}" if self.op else self.detail
        return f"{text} (at {self.loc})" if self.loc else text

    def at(self, op: str | None, loc: object) -> "KilnError":
        """Attach the op name and user location, keeping what was already known."""
        self.op = self.op or op
        self.loc = self.loc or loc
        self.args = (self._text(),)
        return self

    def __str__(self) -> str:
        return self._text()


class ShapeError(KilnError, ValueError):
    """Shapes that do not fit the op (or a data-dependent shape inside a compiled function)."""


class DTypeError(KilnError, TypeError):
    """A dtype the op does not accept."""


class OutOfBoundsError(KilnError, IndexError):
    """An index outside its axis (or a label outside its classes): NumPy's IndexError, with the op,
    the index, the bound and the user's line."""


class TraceError(KilnError, RuntimeError):
    """Python control flow or state use that cannot be traced into a static graph."""


class ParseError(KilnError, SyntaxError):
    """Malformed textual IR (`.kir`); the message starts with `line L:C:`."""

