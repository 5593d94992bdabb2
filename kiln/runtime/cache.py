"""In-process caches of loaded executables, keyed on sha256(canonical IR + target + version).

Native code is freed when the last object holding it goes: the code cache shares what is alive
(weakly) and keeps only the few programs used last alive on its own, so that a program compiled
again and again (a gradient taken eagerly each step, a function re-jitted in a loop) is not
rebuilt, while code nobody uses any more does not pile up.
"""
from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

T = TypeVar("T")
VERSION = "kiln-0.1"
RECENT = 16  # programs kept alive by the code cache itself, used last first


def key_of(ir_text: str, target: str) -> str:
    return hashlib.sha256(f"{VERSION}\n{target}\n{ir_text}".encode()).hexdigest()


class LRU(Generic[T]):
    """A bounded map that forgets the entry used longest ago; safe to share between threads."""

    def __init__(self, bound: Callable[[], int]) -> None:
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._bound = bound  # read at each insertion: the bound may be a flag changed at run time
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: T) -> list[T]:
        """Insert `value`; return the values evicted to stay within the bound."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            evicted = []
            while len(self._items) > max(self._bound(), 0):
                evicted.append(self._items.popitem(last=False)[1])
            return evicted

    def pop(self, key: Hashable) -> T | None:
        with self._lock:
            return self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items


class CodeCache:
    """Loaded executables by key: every one still alive somewhere, plus the RECENT used last."""

    def __init__(self) -> None:
        self._alive: weakref.WeakValueDictionary[str, object] = weakref.WeakValueDictionary()
        self._recent: LRU[object] = LRU(lambda: RECENT)
        self.hits = self.misses = 0
        self._lock = threading.RLock()

    def get_or_build(self, key: str, build: Callable[[], T]) -> T:
        # NOTE: one build at a time: threads that miss on one key at once load its code once
        with self._lock:
            value = self._alive.get(key)
            if value is not None:
                self.hits += 1
            else:
                self.misses += 1
                value = build()
                self._alive[key] = value
            self._recent.put(key, value)
        return value  # type: ignore[return-value]

    def clear(self) -> None:
        self._alive.clear()
        self._recent.clear()

    def __len__(self) -> int:
        return len(self._alive)


CACHE = CodeCache()
