"""The audit chain's hashing and verification, independent of storage.

Each entry's hash is HMAC-SHA256(key, canonical payload), and the payload includes the previous entry's hash,
so altering, inserting or deleting any entry breaks the chain from that point on. The key is kept outside the
database, so someone with database access alone cannot recompute a consistent chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

GENESIS_HASH = "0" * 64

# Field order of the hashed payload; changing it invalidates every chain, so it is versioned.
PAYLOAD_FIELDS: Sequence[str] = (
    "seq", "at", "actor_id", "actor_name", "unit_id", "unit_name", "action",
    "object_type", "object_id", "object_repr", "before", "after", "reason", "prev_hash",
)


# One encoder built once: ``json.dumps`` with non-default options builds a new JSONEncoder on every call, which
# costs more than encoding a small dict (bulk imports serialise a before/after pair per entity).
_canonical_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces; non-ASCII kept. The one serialisation used for hashing."""
    return _canonical_encode(value)


# orjson writes the same bytes as the encoders above for strings (escapes included), integers within 64 bits,
# booleans, None, lists and dicts with string keys — in a fifth of the time. It writes dates, UUIDs and dataclasses
# natively; those are passed through to ``default``, which refuses them, so they fall back to the standard encoder.
# Two differences remain that no option catches: floats (``1e16`` for ``1e+16``) and plain ``Enum`` members (their
# value, where the standard encoder writes ``str(member)``). Callers whose values may hold either use
# :func:`canonical_json`.
_PLAIN = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | \
    orjson.OPT_PASSTHROUGH_SUBCLASS


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def canonical_json_plain(value: Any) -> str:
    """:func:`canonical_json` of a value known to hold no floats and no plain ``Enum`` members (e.g. an imported
    row's text cells), faster."""
    try:
        return orjson.dumps(value, default=_refuse, option=_PLAIN).decode()
    except TypeError:
        return _canonical_encode(value)


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def entry_hash(key: bytes, row: Sequence[Any]) -> str:
    """HMAC of one entry; `row` holds the values of PAYLOAD_FIELDS in order (`at` as an ISO string).

    The values are strings, integers or None (before/after are already canonical JSON text), so a plain JSON array
    is canonical; `hmac.digest` is the one-shot C implementation, several times faster than `hmac.new`. orjson
    writes the same bytes as ``_encode`` for these types, several times faster; anything else (a float) would not be
    written the same way and takes the standard encoder.
    """
    if _PLAIN_TYPES.issuperset(map(type, row)):
        try:
            data = orjson.dumps(["v1", *row])
        except TypeError:  # an integer beyond 64 bits
            data = _encode(["v1", *row]).encode()
    else:
        data = _encode(["v1", *row]).encode()
    return _hmac_sha256_hex(key, data)


_PLAIN_TYPES = frozenset({str, int, type(None)})
_KEYED: dict[bytes, tuple[Any, Any]] = {}


def _hmac_sha256_hex(key: bytes, data: bytes) -> str:
    """HMAC-SHA256 (RFC 2104) with the key's inner and outer pads hashed once per key: equal to
    ``hmac.digest(key, data, "sha256").hex()`` in half the time (the one-shot call sets the key up again each time)."""
    pads = _KEYED.get(key)
    if pads is None:
        block = hashlib.sha256(key).digest() if len(key) > 64 else key
        block = block.ljust(64, b"\0")
        pads = _KEYED[key] = (hashlib.sha256(bytes(b ^ 0x36 for b in block)),
                              hashlib.sha256(bytes(b ^ 0x5C for b in block)))
    inner = pads[0].copy()
    inner.update(data)
    outer = pads[1].copy()
    outer.update(inner.digest())
    return outer.hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """The first place the chain does not hold."""

    seq: int
    kind: str  # altered | deleted | inserted | truncated
    message: str
    message_en: str


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def verify_chain(key: bytes, rows: Iterable[tuple[Sequence[Any], str]],
                 head_seq: int, head_hash: str) -> VerifyResult:
    """Walk entries in seq order. Each item is (payload row in PAYLOAD_FIELDS order, stored hash)."""
    expected_seq = 1
    prev = GENESIS_HASH
    checked = 0
    for row, stored in rows:
        seq = int(row[0])
        if seq != expected_seq:
            if seq > expected_seq:
                return VerifyResult(checked, ChainBreak(
                    expected_seq, "deleted",
                    f"第 {expected_seq} 条审计记录缺失（被删除）；下一条是第 {seq} 条",
                    f"entry {expected_seq} is missing (deleted); next entry is {seq}"))
            return VerifyResult(checked, ChainBreak(
                seq, "inserted", f"第 {seq} 条审计记录重复或顺序错乱（被插入）",
                f"entry {seq} is out of order (inserted)"))
        if row[-1] != prev:
            # The stored link to the predecessor is wrong: this entry was inserted or its predecessor replaced.
            return VerifyResult(checked, ChainBreak(
                seq, "inserted",
                f"第 {seq} 条审计记录与前一条不衔接（被插入或前一条被替换）",
                f"entry {seq} does not link to its predecessor (inserted, or the predecessor was replaced)"))
        if not hmac.compare_digest(entry_hash(key, row), stored):
            return VerifyResult(checked, ChainBreak(
                seq, "altered", f"第 {seq} 条审计记录内容被篡改（哈希不符）",
                f"entry {seq} was altered (hash mismatch)"))
        prev = stored
        expected_seq += 1
        checked += 1
    last = expected_seq - 1
    if head_seq != last or (last and head_hash != prev):
        if head_seq > last:
            return VerifyResult(checked, ChainBreak(
                last + 1, "truncated", f"第 {last + 1} 至 {head_seq} 条审计记录缺失（尾部被删除）",
                f"entries {last + 1}..{head_seq} are missing (tail deleted)"))
        return VerifyResult(checked, ChainBreak(
            last, "altered", f"审计链头与第 {last} 条记录不符", f"chain head does not match entry {last}"))
    return VerifyResult(checked, None)
