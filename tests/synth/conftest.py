from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ref():
    from jianguan.synth.registry import load_reference

    return load_reference(REPO / "rules")


@pytest.fixture(scope="session")
def wendeng(ref):
    """20,000 entities of 文登区 with seed 11 (generated once per session)."""
    from jianguan.synth.registry import DivisionPlan, RegistryGenerator

    return RegistryGenerator(ref, seed=11).division_chunk(DivisionPlan("371003", 20_000))
