"""In-process cache of loaded executables, keyed on sha256(canonical IR + target + version)."""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Callable, TypeVar

T = TypeVar("T")
VERSION = "kiln-0.1"
_MAX = 4096


def key_of(ir_text: str, target: str) -> str:
    return hashlib.sha256(f"{VERSION}\n{target}\n{ir_text}".encode()).hexdigest()


class CodeCache:
    """Bounded LRU; values are loaded executables (native code is never pickled)."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, object] = OrderedDict()
        self.hits = self.misses = 0
        self._lock = threading.RLock()

    def get_or_build(self, key: str, build: Callable[[], T]) -> T:
        # NOTE: one build at a time: threads that miss on one key at once load its code once
        with self._lock:
            return self._get_or_build(key, build)

    def _get_or_build(self, key: str, build: Callable[[], T]) -> T:
        if key in self._items:
            self.hits += 1
            self._items.move_to_end(key)
            return self._items[key]  # type: ignore[return-value]
        self.misses += 1
        value = build()
        self._items[key] = value
        if len(self._items) > _MAX:
            self._items.popitem(last=False)
        return value


CACHE = CodeCache()
