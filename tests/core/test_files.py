"""Large files written and read past the page cache (`core.files`): every byte and the exact length survive, with
O_DIRECT where the file system has it and without where it has not."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os

import polars as pl
import pytest

from jianguan.core import files
from jianguan.core.files import UncachedWriter, read_uncached, sha256_uncached

SMALL = 3 * files.BLOCK  # a small buffer, so that a few kilobytes cross many buffer boundaries


def direct_io_here(directory) -> bool:
    """Whether this directory's file system takes O_DIRECT (the test's tmp_path normally does)."""
    try:
        fd = os.open(directory / "probe", os.O_WRONLY | os.O_CREAT | files.O_DIRECT)
    except OSError:
        return False
    os.close(fd)
    return True


@pytest.fixture(params=["direct", "refused"])
def directory(request, tmp_path, monkeypatch):
    """The test's directory, written with O_DIRECT or as on a file system that refuses it (EINVAL on open; recent
    kernels accept O_DIRECT even on tmpfs, so the refusal is simulated)."""
    if request.param == "refused":
        real_open = os.open

        def refusing(path, flags, *args):
            if flags & getattr(os, "O_DIRECT", 0):
                raise OSError(errno.EINVAL, "Invalid argument")
            return real_open(path, flags, *args)

        monkeypatch.setattr(files.os, "open", refusing)
    return tmp_path, request.param == "refused"


@pytest.mark.parametrize("size", [0, 1, files.BLOCK - 1, files.BLOCK, files.BLOCK + 1, SMALL - 1, SMALL,
                                  SMALL + 1, 5 * SMALL + 123])
@pytest.mark.parametrize("step", [1000, files.BLOCK, 2 * SMALL + 7])
def test_what_is_written_is_read_back_exactly(directory, monkeypatch, size, step):
    monkeypatch.setattr(files, "BUFFER", SMALL)
    data = os.urandom(size)
    path = directory[0] / "data.bin"
    with UncachedWriter(path, sha256=True) as out:
        for i in range(0, size, step):
            assert out.write(data[i:i + step]) == len(data[i:i + step])
    assert out.direct is (not directory[1] and direct_io_here(path.parent))
    assert path.stat().st_size == size
    assert path.read_bytes() == data
    assert b"".join(bytes(piece) for piece in read_uncached(path)) == data
    # hashed as written, the last buffer's padding left out: the same digest as reading the file back
    assert sha256_uncached(path) == [hashlib.sha256(data).hexdigest()] == [out.hexdigest()]


def test_a_digest_is_given_only_for_a_file_hashed_as_written_and_closed(tmp_path):
    plain = UncachedWriter(tmp_path / "plain.bin")
    plain.write(b"x")
    plain.close()
    with pytest.raises(ValueError, match="no digest"):
        plain.hexdigest()
    hashed = UncachedWriter(tmp_path / "hashed.bin", sha256=True)
    hashed.write(b"x")
    with pytest.raises(ValueError, match="no digest"):
        hashed.hexdigest()  # still open: the last piece is not hashed yet
    hashed.close()
    assert hashed.hexdigest() == hashlib.sha256(b"x").hexdigest()


def test_polars_writes_arrow_files_through_it(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "BUFFER", SMALL)
    frame = pl.DataFrame({"sid": pl.Series(range(50_000), dtype=pl.UInt32),
                          "uscc": [f"U{i:017d}" for i in range(50_000)]})
    with UncachedWriter(tmp_path / "frame.arrow", sha256=True) as out:
        frame.write_ipc(out)  # type: ignore[arg-type]
    assert pl.read_ipc(tmp_path / "frame.arrow").equals(frame)
    assert out.hexdigest() == hashlib.sha256((tmp_path / "frame.arrow").read_bytes()).hexdigest()


def test_a_reader_left_early_closes_its_file(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "BUFFER", SMALL)
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(10 * SMALL))
    before = len(os.listdir("/proc/self/fd"))
    pieces = read_uncached(path)
    assert len(next(pieces)) == SMALL
    pieces.close()
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        sha256_uncached(tmp_path / "missing.csv")


def test_a_failed_write_raises_its_own_error_and_releases_the_buffers(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "BUFFER", SMALL)

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", full)
    out = UncachedWriter(tmp_path / "x.bin")
    with pytest.raises(OSError, match="No space") as raised, out:
        out.write(b"x" * (3 * SMALL))  # the second buffer's hand-over finds the first one's failure
    assert raised.value.errno == errno.ENOSPC
    assert all(buffer.closed for buffer in out._buffers)
    with pytest.raises(ValueError):
        out.write(b"more")


def test_a_failure_the_caller_swallowed_is_raised_at_close(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "BUFFER", SMALL)
    real_write = os.write
    calls = []

    def once_full(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(files.os, "write", once_full)
    out = UncachedWriter(tmp_path / "x.bin")
    with contextlib.suppress(OSError):
        out.write(b"x" * (3 * SMALL))
    with pytest.raises(OSError, match="incomplete"):
        out.close()
