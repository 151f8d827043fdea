"""Process-wide interpreter settings that bulk work changes for a while (the switch interval, the garbage
collector's thresholds), shared by nested and concurrent users: the first one in sets the value, the last one out
puts the previous value back — one import finishing must not undo the setting under another still running."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedSetting(Generic[T]):
    """A setting read with ``read`` and written with ``write``; :meth:`held` changes it for as long as any user is
    inside."""

    def __init__(self, read: Callable[[], T], write: Callable[[T], None]) -> None:
        self._read, self._write = read, write
        self._lock = threading.Lock()
        self._users = 0
        self._saved: T | None = None

    @contextmanager
    def held(self, value: Callable[[T], T]) -> Iterator[None]:
        """Inside, the setting is ``value(previous)`` — computed by the first user in; later users share it."""
        with self._lock:
            if self._users == 0:
                self._saved = self._read()
                self._write(value(self._saved))
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._write(self._saved)  # type: ignore[arg-type]  # set by the first user in


# A young-generation collection every this many allocations instead of 700, while bulk work runs.
RARE_COLLECTIONS = 200_000
_GC_THRESHOLDS: SharedSetting[tuple[int, ...]] = SharedSetting(gc.get_threshold, lambda t: gc.set_threshold(*t))


@contextmanager
def rare_collections() -> Iterator[None]:
    """Collect cyclic garbage rarely (a block or, as a decorator, a function).

    A bulk import allocates millions of short-lived tuples and no reference cycles; with the default thresholds the
    collector walks the whole heap again and again (a quarter of the import's CPU time). Reference counting still
    frees everything at once; a young-generation collection runs every 200,000 allocations instead of 700 — in a
    million-row registry import that is a handful of collections in the writing process and none in the checking one
    (whose chunks are freed as they are sent), against half the checking process's CPU time with the defaults."""
    with _GC_THRESHOLDS.held(lambda saved: (max(RARE_COLLECTIONS, saved[0]), *saved[1:])):
        yield
