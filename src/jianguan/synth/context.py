"""What `jianguan synth` hands to every module's synthetic step (AppConfig.synth_steps)."""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl

DEFAULT_TODAY = dt.date(2026, 11, 20)


def year_before(today: dt.date) -> tuple[dt.date, dt.date]:
    """The 12 months before `today`: (same day a year earlier, the day before today), both inclusive."""
    try:
        start = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - 1, day=28)
    return start, today - dt.timedelta(days=1)


@dataclass
class SynthContext:
    """The synthetic world so far, passed to `fn(ctx)` for each dotted path in an app's ``synth_steps``.

    ``entities`` is a Polars frame with one row per generated entity: ``id`` (the database id when ``load`` is
    true, else the id written to ``entities.parquet``), ``uscc``, ``name``, ``kind``, ``subtype``, ``division``,
    ``industry`` (GB/T 4754 class), ``section``, ``established_on``, ``status``, ``status_date``,
    ``is_ecommerce_platform``, ``odr_enabled``, ``street``. With ``load`` a step writes to the database (in bulk,
    one ``synth_load``-style audit entry per run); otherwise it writes Parquet files under ``out_dir``.
    ``year`` is the window of history to make up: (first day, last day), both inclusive; by default the 12
    months before ``today``. Whether an entity can be reached at its address is
    :func:`jianguan.synth.truth.unreachable` (uscc, seed).
    """

    seed: int
    scale: str
    divisions: list[str]
    entities: pl.DataFrame
    load: bool = False
    out_dir: Path | None = None
    today: dt.date = DEFAULT_TODAY
    year: tuple[dt.date, dt.date] | None = None
    out: IO[str] | Any = None
    facts: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.year is None:
            self.year = year_before(self.today)
        if self.out_dir is not None:
            self.out_dir = Path(self.out_dir)

    def say(self, text: str) -> None:
        """Report progress to the operator (one line)."""
        stream = self.out if self.out is not None else sys.stdout
        stream.write(f"  {text}\n" if not text.endswith("\n") else f"  {text}")

    def rng(self, name: str) -> np.random.Generator:
        """A generator of its own for a named step, so that steps do not shift each other's random numbers."""
        digest = hashlib.sha256(f"{self.seed}:{name}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:16], "little"))

    @property
    def year_start(self) -> dt.date:
        assert self.year is not None
        return self.year[0]

    @property
    def year_end(self) -> dt.date:
        assert self.year is not None
        return self.year[1]
