"""Checking a published draw export: the same code as the standalone `verify_draw.py` shipped with it."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from jianguan.inspections.verifier import verify_draw

VERIFIER_PATH = Path(verify_draw.__file__)


def verify_dir(path: str | Path) -> tuple[bool, str]:
    """(True, "MATCH") or (False, "MISMATCH: <first difference>") for the export in `path`."""
    ok: bool
    message: str
    ok, message = verify_draw.verify_dir(str(path))
    return ok, message


def verify_command(path: str | Path, stdout: TextIO) -> int:
    """`jianguan draw verify DIR`: prints MATCH or MISMATCH: … and returns the exit status (0 or 1)."""
    ok, message = verify_dir(path)
    stdout.write(message + "\n")
    return 0 if ok else 1


def verifier_source() -> bytes:
    """The bytes of verify_draw.py, to be written into every export next to the three data files."""
    return VERIFIER_PATH.read_bytes()
