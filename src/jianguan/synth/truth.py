"""Ground truth of the synthetic world that no register records, e.g. which entities cannot be reached.

Pure functions of (uscc, seed), hash-based, so that any module's synthetic step (inspection results, annual
reports, complaints) agrees on the same hidden facts without sharing state. The scalar and the vectorised
forms give identical answers (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Share of entities whose registered address cannot be contacted (通过登记的住所或者经营场所无法联系).
UNREACHABLE_PER_10000 = 300

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = (1 << 64) - 1
_USCC_LEN = 18


def _mix(h: int) -> int:
    """SplitMix64 finaliser: spreads the FNV state over all 64 bits."""
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK
    return h ^ (h >> 31)


def _seed_state(seed: int) -> int:
    h = _FNV_OFFSET
    for b in (seed & _MASK).to_bytes(8, "little"):
        h = ((h ^ b) * _FNV_PRIME) & _MASK
    return h


def truth_hash(uscc: str, seed: int, salt: int = 0) -> int:
    """A 64-bit hash of (seed, salt, uscc); salt separates independent facts about the same entity."""
    h = _seed_state(seed ^ (salt * 0x9E3779B97F4A7C15))
    for b in uscc.encode("ascii"):
        h = ((h ^ b) * _FNV_PRIME) & _MASK
    return _mix(h)


def unreachable(uscc: str, seed: int) -> bool:
    """True if this entity cannot be contacted at its registered address in the synthetic world of `seed` (~3%)."""
    return (truth_hash(uscc, seed) >> 32) % 10000 < UNREACHABLE_PER_10000


def truth_hash_array(usccs: Sequence[str] | np.ndarray, seed: int, salt: int = 0) -> np.ndarray:
    """Vectorised :func:`truth_hash` for many 18-character codes (uint64 array)."""
    arr = np.asarray(usccs, dtype=f"S{_USCC_LEN}")
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    raw = arr.view(np.uint8).reshape(len(arr), _USCC_LEN)
    lengths = np.char.str_len(arr)
    if len(arr) and (lengths != _USCC_LEN).any():
        raise ValueError("truth_hash_array expects 18-character codes")
    prime = np.uint64(_FNV_PRIME)
    h = np.full(len(arr), _seed_state(seed ^ ((salt * 0x9E3779B97F4A7C15) & _MASK)), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(_USCC_LEN):
            h = (h ^ raw[:, i].astype(np.uint64)) * prime
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        h = h ^ (h >> np.uint64(31))
    return h


def unreachable_mask(usccs: Sequence[str] | np.ndarray, seed: int) -> np.ndarray:
    """Vectorised :func:`unreachable`: a boolean array, one per code."""
    h = truth_hash_array(usccs, seed)
    return (h >> np.uint64(32)) % np.uint64(10000) < np.uint64(UNREACHABLE_PER_10000)
