"""Large files written once and read back once, past the operating system's page cache.

A province draw writes some 4 GB of `candidates.csv` and reads it back days later to check its SHA-256. Through the
page cache each gigabyte costs the kernel seconds of copying (measured on the benchmark machine: 17.7 CPU-s to
write 3.8 GB, 9 s to read it; with `O_DIRECT` 0.8 and 0.2 s, the disk doing the rest), and it pushes the
database's own pages out of memory: right after a freeze, the draw's look-ups found the registry's index on disk.

`O_DIRECT` wants block-aligned buffers, lengths and offsets: data is gathered in page-aligned buffers (anonymous
`mmap`), written in whole blocks by a background thread while the next buffer fills, and the last, partial block is
padded and cut off again with `ftruncate`. Where the file system refuses `O_DIRECT` (when opening, or with EINVAL on
the first read or write) or the platform has none, the same code reads and writes through the page cache.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import mmap
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

BLOCK = 4096  # alignment O_DIRECT needs on the file systems we run on (logical block size ≤ 4 KiB)
BUFFER = 32 << 20  # bytes per write or read: two buffers are in use at once
O_DIRECT = getattr(os, "O_DIRECT", 0)


def _open(path: Path, flags: int) -> tuple[int, bool]:
    """A file descriptor, with O_DIRECT where the file system allows it; whether it has it."""
    if O_DIRECT:
        try:
            return os.open(path, flags | O_DIRECT, 0o644), True
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # this file system does not do O_DIRECT; anything else is a real error
                raise
    return os.open(path, flags, 0o644), False


def _without_direct(fd: int) -> None:
    """Turn O_DIRECT off for an open file (a file system that accepted it when opening but refuses the I/O)."""
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~O_DIRECT)


def _write_all(fd: int, buffer: mmap.mmap, length: int) -> None:
    """Write the buffer's first `length` bytes at the file's current offset. The views are released even when the
    write fails, so that the buffer can still be closed."""
    with memoryview(buffer) as whole:
        done = 0
        while done < length:
            with whole[done:length] as part:
                try:
                    written = os.write(fd, part)
                except OSError as exc:
                    if exc.errno != errno.EINVAL or not fcntl.fcntl(fd, fcntl.F_GETFL) & O_DIRECT:
                        raise
                    _without_direct(fd)
                    continue
            if written <= 0:
                raise OSError(errno.EIO, "write returned no bytes")
            done += written


class UncachedWriter:
    """A binary file open for writing, past the page cache where possible. `write` takes bytes-like objects of any
    size; `close` writes the rest and gives the file its exact length. Usable as a file object by libraries that
    call `write` and `flush` (Polars' `write_ipc`). Leaving a `with` block by an exception, or a failed write,
    stops writing: the file is then incomplete and the caller removes it. With `sha256` the bytes are hashed as
    they go out (by the background writer, in order), so that :meth:`hexdigest` needs no second read of the
    file."""

    def __init__(self, path: Path, *, sha256: bool = False) -> None:
        self._digest = hashlib.sha256() if sha256 else None
        self._buffers = [mmap.mmap(-1, BUFFER), mmap.mmap(-1, BUFFER)]
        try:
            self._fd, self.direct = _open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        except BaseException:
            for buffer in self._buffers:
                buffer.close()
            raise
        self._current = 0
        self._fill = 0
        self._size = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="uncached-write")
        self._pending: Future[None] | None = None
        self._failed = False  # a write failed: the file is incomplete
        self._aborted = False  # left by an exception: the caller knows it is incomplete
        self._closed = False

    def write(self, data: Any) -> int:
        if self._failed or self._closed:
            raise ValueError("write to a file that failed or was closed")
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
        """Nothing to do here: whole buffers go to the file as they fill (in the background), the rest at `close`."""

    def _hand_over(self, length: int, data: int | None = None) -> None:
        """Write the current buffer's first `length` bytes (a multiple of BLOCK) in the background, of which the
        first `data` (all by default) are the file's, the rest padding."""
        self._wait()
        buffer = self._buffers[self._current]
        if self._digest is None:
            self._pending = self._pool.submit(_write_all, self._fd, buffer, length)
        else:
            self._pending = self._pool.submit(_hash_and_write, self._digest, self._fd, buffer, length,
                                              length if data is None else data)
        self._current = 1 - self._current
        self._fill = 0

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            try:
                pending.result()
            except BaseException:
                self._failed = True
                raise

    def close(self) -> None:
        """Write what is left and cut the file to its length; after a failure only release what it holds."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self._failed:
                if self._fill:
                    padded = -(-self._fill // BLOCK) * BLOCK
                    self._buffers[self._current][self._fill:padded] = bytes(padded - self._fill)
                    self._hand_over(padded, self._fill)
                self._wait()
                os.ftruncate(self._fd, self._size)
        finally:
            self._release()
        if self._failed and not self._aborted:  # a failed write whose error the caller did not see through
            raise OSError(errno.EIO, "an earlier write to this file failed; the file is incomplete")

    def hexdigest(self) -> str:
        """The SHA-256 of what was written (after :meth:`close`; only when opened with `sha256`)."""
        if self._digest is None or not self._closed or self._failed:
            raise ValueError("no digest: the file was not opened with sha256=True, is still open, or failed")
        return self._digest.hexdigest()

    def _release(self) -> None:
        with contextlib.suppress(BaseException):
            self._wait()  # a write still running uses a buffer: let it end first
        self._pool.shutdown(wait=True)
        os.close(self._fd)
        for buffer in self._buffers:
            buffer.close()

    def __enter__(self) -> UncachedWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is not None:
            self._failed = self._aborted = True  # the data is incomplete: do not write the rest
        self.close()


def _hash_and_write(digest: Any, fd: int, buffer: mmap.mmap, length: int, data: int) -> None:
    with memoryview(buffer) as view:
        digest.update(view[:data])  # hashlib lets go of the GIL for large pieces
    _write_all(fd, buffer, length)


def _read_into(fd: int, buffer: mmap.mmap) -> int:
    """Read up to a buffer's length at the file's offset (O_DIRECT turned off if the file system refuses it)."""
    try:
        return os.readv(fd, [buffer])
    except OSError as exc:
        if exc.errno != errno.EINVAL or not fcntl.fcntl(fd, fcntl.F_GETFL) & O_DIRECT:
            raise
        _without_direct(fd)
        return os.readv(fd, [buffer])


def read_uncached(path: Path) -> Iterator[memoryview]:
    """The file's bytes in pieces (each valid until the next is asked for), read past the page cache where
    possible, the next piece read in the background while the caller works on this one."""
    with contextlib.ExitStack() as stack:
        buffers = [mmap.mmap(-1, BUFFER), mmap.mmap(-1, BUFFER)]
        for buffer in buffers:
            stack.callback(buffer.close)
        fd, _direct = _open(path, os.O_RDONLY)
        stack.callback(os.close, fd)
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="uncached-read"))
        current = 0
        pending = pool.submit(_read_into, fd, buffers[current])
        while True:
            n = pending.result()
            if n == 0:
                return
            piece = memoryview(buffers[current])[:n]
            current = 1 - current
            # Read on until a read returns nothing. Under O_DIRECT a read that is not a whole number of blocks was
            # the file's last, partial block (reading on from there would be an unaligned offset).
            direct_now = bool(fcntl.fcntl(fd, fcntl.F_GETFL) & O_DIRECT)
            last = direct_now and n % BLOCK
            pending = pool.submit(int) if last else pool.submit(_read_into, fd, buffers[current])
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
