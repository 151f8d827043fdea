"""Large files written once and read back once, past the operating system's page cache.

A province draw writes some 4 GB of `candidates.csv` and reads it back days later to check its SHA-256. Through the
page cache each gigabyte costs the kernel seconds of copying (measured on the benchmark machine: 17.7 CPU-s to
write 3.8 GB, 9 s to read it; with `O_DIRECT` 0.8 and 0.2 s, the disk doing the rest), and it pushes the
database's own pages out of memory: right after a freeze, the draw's look-ups found the registry's index on disk.

`O_DIRECT` wants block-aligned buffers, lengths and offsets: data is gathered in page-aligned buffers (anonymous
`mmap`), written in whole blocks by a background thread while the next buffer fills, and the last, partial block is
padded and cut off again with `ftruncate`. Where the file system refuses `O_DIRECT` (tmpfs, some network file
systems) or the platform has none, the same code reads and writes through the page cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

BLOCK = 4096  # alignment O_DIRECT needs on the file systems we run on (logical block size ≤ 4 KiB)
BUFFER = 32 << 20  # bytes per write or read: two buffers are in use at once


def _open(path: Path, flags: int) -> tuple[int, bool]:
    """A file descriptor, with O_DIRECT where the file system allows it; whether it has it."""
    direct = getattr(os, "O_DIRECT", 0)
    if direct:
        try:
            return os.open(path, flags | direct, 0o644), True
        except OSError:
            pass  # EINVAL: this file system does not do O_DIRECT
    return os.open(path, flags, 0o644), False


class UncachedWriter:
    """A binary file open for writing, past the page cache where possible. `write` takes bytes-like objects of any
    size; `close` writes the rest and gives the file its exact length. Usable as a file object by libraries that
    call `write` and `flush` (Polars' `write_ipc`)."""

    def __init__(self, path: Path) -> None:
        self._fd, self.direct = _open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        self._buffers = [mmap.mmap(-1, BUFFER), mmap.mmap(-1, BUFFER)]
        self._current = 0
        self._fill = 0
        self._size = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="uncached-write")
        self._pending: Future[None] | None = None
        self._closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            buffer = self._buffers[self._current]
            n = min(len(view) - done, BUFFER - self._fill)
            buffer[self._fill:self._fill + n] = view[done:done + n]
            self._fill += n
            done += n
            if self._fill == BUFFER:
                self._hand_over(BUFFER)
        self._size += len(view)
        return len(view)

    def flush(self) -> None:
        """Nothing to do: whole buffers go to the file as they fill, the rest at `close`."""

    def _hand_over(self, length: int) -> None:
        """Write the current buffer's first `length` bytes (a multiple of BLOCK) in the background."""
        self._wait()
        self._pending = self._pool.submit(_write_all, self._fd, memoryview(self._buffers[self._current])[:length])
        self._current = 1 - self._current
        self._fill = 0

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._fill:
                padded = -(-self._fill // BLOCK) * BLOCK
                self._buffers[self._current][self._fill:padded] = bytes(padded - self._fill)
                self._hand_over(padded)
            self._wait()
            os.ftruncate(self._fd, self._size)
        finally:
            self._pool.shutdown(wait=True)
            os.close(self._fd)
            for buffer in self._buffers:
                buffer.close()

    def __enter__(self) -> UncachedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_all(fd: int, view: memoryview) -> None:
    while len(view):
        written = os.write(fd, view)
        view = view[written:]


def read_uncached(path: Path) -> Iterator[memoryview]:
    """The file's bytes in pieces (each valid until the next is asked for), read past the page cache where
    possible, the next piece read in the background while the caller works on this one."""
    fd, _direct = _open(path, os.O_RDONLY)
    buffers = [mmap.mmap(-1, BUFFER), mmap.mmap(-1, BUFFER)]
    with contextlib.ExitStack() as stack:
        stack.callback(os.close, fd)
        for buffer in buffers:
            stack.callback(buffer.close)
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="uncached-read"))
        current = 0
        pending = pool.submit(os.readv, fd, [buffers[current]])
        while True:
            n = pending.result()
            if n == 0:
                return
            piece = memoryview(buffers[current])[:n]
            current = 1 - current
            # a short read is the end of the file (regular files are read in full otherwise)
            pending = pool.submit(os.readv, fd, [buffers[current]]) if n == BUFFER else pool.submit(int)
            try:
                yield piece
            finally:
                piece.release()


def sha256_uncached(*paths: Path) -> list[str]:
    """The SHA-256 (hex) of each file, read past the page cache."""
    out = []
    for path in paths:
        digest = hashlib.sha256()
        for piece in read_uncached(path):
            digest.update(piece)
        out.append(digest.hexdigest())
    return out
