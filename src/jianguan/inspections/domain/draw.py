"""The publicly verifiable draw, protocol `jianguan-draw-v1` (docs/draw-protocol.md).

Pure Python (standard library only). Every step can be recomputed by anyone from the published files
`candidates.csv`, `manifest.json` and `draw.json`; `jianguan/inspections/verifier/verify_draw.py` is an
independent implementation of the same steps used for that check.

1. candidates.csv: UTF-8, header `stratum,uscc`, rows sorted by stratum then uscc, `\\n` line ends.
2. commitment = sha256_hex(canonical_json(manifest)).
3. randomness: public string, entered by two officers, surrounding whitespace removed.
4. seed = sha256_hex(commitment + ":" + randomness).
5. ticket(uscc) = sha256_hex(seed + ":" + uscc); per stratum ascending; the first ceil(ratio * n) are
   selected, the following ones are the alternates, used in order.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

ALGORITHM = "jianguan-draw-v1"

# Alternates kept in memory per stratum when the caller does not ask for a number: at least this many and at
# least as many as are selected. The protocol's alternates are *all* following tickets; keeping a prefix only
# bounds memory on province-scale draws (15 million candidates). `alternates=None` keeps all of them.
DEFAULT_MIN_ALTERNATES = 50

DEREGISTERED_REASON = "已注销"

# `alternates=DEFAULT_ALTERNATES`: keep max(take, DEFAULT_MIN_ALTERNATES) alternates per stratum.
DEFAULT_ALTERNATES = -1

_FORBIDDEN_IN_KEYS = (",", "\n", "\r", '"')


class DrawInputError(ValueError):
    """Bad input to a draw: the message is in Chinese, followed by English in parentheses."""


def sha256_hex(data: str | bytes) -> str:
    """Lower-case hexadecimal SHA-256 of `data` (a str is hashed as its UTF-8 bytes)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys, no spaces, non-ASCII kept, as UTF-8 bytes (no trailing newline)."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise DrawInputError(f"无法写成规范 JSON（cannot be written as canonical JSON）：{error}") from error
    return text.encode("utf-8")


def validate_ratio(ratio: Decimal | str) -> Decimal:
    """The ratio as an exact Decimal in [0, 1]; a float is refused because it is not exact."""
    if isinstance(ratio, bool) or not isinstance(ratio, (Decimal, str, int)):
        raise DrawInputError(
            f'抽查比例必须是十进制数，如 "0.05"（ratio must be a decimal string or Decimal）：{ratio!r}'
        )
    try:
        value = Decimal(ratio.strip() if isinstance(ratio, str) else ratio)
    except (InvalidOperation, ValueError):
        raise DrawInputError(f"抽查比例不是有效的十进制数（ratio is not a decimal number）：{ratio!r}") from None
    if not value.is_finite():
        raise DrawInputError(f"抽查比例不是有效的十进制数（ratio is not a decimal number）：{ratio!r}")
    if value < 0 or value > 1:
        raise DrawInputError(f"抽查比例必须在 0 到 1 之间（ratio must be between 0 and 1）：{ratio}")
    if value == 0:
        value = Decimal(0)  # no "-0" in a published manifest
    return value


def ratio_text(ratio: Decimal | str) -> str:
    """The ratio as written in the manifest: plain decimal notation, never an exponent ("0.05", "1")."""
    return format(validate_ratio(ratio), "f")


def take_count(ratio: Decimal, candidates: int) -> int:
    """ceil(ratio * candidates), computed exactly on integers (no decimal context rounding)."""
    value = validate_ratio(ratio)
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 0:
        raise DrawInputError(f"候选数必须是非负整数（candidate count must be a non-negative integer）：{candidates!r}")
    numerator, denominator = value.as_integer_ratio()
    return -(-numerator * candidates // denominator)


def _bad_key(key: object) -> bool:
    return not isinstance(key, str) or not key or any(char in key for char in _FORBIDDEN_IN_KEYS)


def _check_key(key: str, stratum: str | None = None) -> None:
    """A stratum name (stratum=None) or a uscc must be non-empty and free of CSV separators."""
    if not _bad_key(key):
        return
    if stratum is None:
        raise DrawInputError(
            f"分层名称不能为空，也不能含逗号、引号或换行（stratum must be non-empty, without commas, quotes or "
            f"newlines）：{key!r}"
        )
    raise DrawInputError(
        f"分层 {stratum} 的统一社会信用代码不能为空，也不能含逗号、引号或换行（uscc in stratum {stratum} must be "
        f"non-empty, without commas, quotes or newlines）：{key!r}"
    )


def _check_usccs(stratum: str, usccs: list[str]) -> None:
    """Every uscc valid and none repeated; `usccs` is sorted. One pass over the joined text when all is well."""
    try:
        block = "\n".join(usccs)
    except TypeError:
        block = ","  # not all strings: find the culprit below
    if any(char in block for char in (",", "\r", '"')) or block.count("\n") != len(usccs) - 1 or usccs[0] == "":
        for uscc in usccs:
            _check_key(uscc, stratum)
    if not _strictly_increasing(usccs):  # sorted: a repeat is next to its twin
        for previous, uscc in itertools.pairwise(usccs):
            if uscc == previous:
                raise DrawInputError(
                    f"分层 {stratum} 中统一社会信用代码 {uscc} 重复（duplicate uscc {uscc} in stratum {stratum}）"
                )


def candidates_csv(strata: Mapping[str, Iterable[str]]) -> bytes:
    """candidates.csv: header `stratum,uscc`, one row per candidate sorted by stratum then uscc, `\\n` ends.

    Sorting is by Unicode code point, which is the same as sorting the UTF-8 bytes.
    """
    parts = ["stratum,uscc\n"]
    for stratum in sorted(strata):
        _check_key(stratum)
        usccs = sorted(strata[stratum])
        if not usccs:
            raise DrawInputError(f"分层 {stratum} 没有候选对象（stratum {stratum} has no candidates）")
        _check_usccs(stratum, usccs)
        prefix = stratum + ","
        parts.append(prefix + ("\n" + prefix).join(usccs) + "\n")
    return "".join(parts).encode("utf-8")


def build_manifest(
    plan_id: str, csv_bytes: bytes, ratios: Mapping[str, Decimal], counts: Mapping[str, int]
) -> dict[str, Any]:
    """The manifest committed to before the randomness is known; strata sorted by stratum."""
    if not csv_bytes.startswith(b"stratum,uscc\n"):
        raise DrawInputError("candidates.csv 的表头必须是 stratum,uscc（candidates.csv must start with the header）")
    return manifest_of(plan_id, sha256_hex(csv_bytes), csv_bytes.count(b"\n") - 1, ratios, counts)


def manifest_of(
    plan_id: str, candidates_sha256: str, rows: int, ratios: Mapping[str, Decimal], counts: Mapping[str, int]
) -> dict[str, Any]:
    """The manifest of a candidates.csv known by its SHA-256 and its number of rows (without the header): for a
    file written and hashed in pieces, too large to hold in memory at once."""
    if set(ratios) != set(counts):
        missing = sorted(set(ratios) ^ set(counts))
        raise DrawInputError(f"比例与候选数的分层不一致（strata of ratios and counts differ）：{', '.join(missing)}")
    if not ratios:
        raise DrawInputError("抽查计划没有任何分层（the plan has no strata）")
    _check_hex("candidates_sha256", candidates_sha256)
    strata = []
    for stratum in sorted(ratios):
        count = counts[stratum]
        if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            raise DrawInputError(f"分层 {stratum} 没有候选对象（stratum {stratum} has no candidates）")
        strata.append({"stratum": stratum, "candidates": count, "ratio": ratio_text(ratios[stratum])})
    if rows != sum(counts.values()):
        raise DrawInputError(
            f"candidates.csv 有 {rows} 行，各分层候选数合计 {sum(counts.values())}"
            f"（candidates.csv has {rows} rows but the counts add up to {sum(counts.values())}）"
        )
    return {
        "algorithm": ALGORITHM,
        "plan": plan_id,
        "candidates_sha256": candidates_sha256,
        "strata": strata,
    }


def commitment_of(manifest: dict[str, Any]) -> str:
    """sha256_hex(canonical_json(manifest)): equal to `sha256sum manifest.json` when written canonically."""
    return sha256_hex(canonical_json(manifest))


def _check_hex(name: str, value: str) -> None:
    if not isinstance(value, str) or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise DrawInputError(f"{name} 必须是 64 位小写十六进制（{name} must be 64 lower-case hex digits）：{value!r}")


def normalise_randomness(randomness: str) -> str:
    """The public randomness with surrounding whitespace removed; empty or control characters refused."""
    if not isinstance(randomness, str) or not randomness.strip():
        raise DrawInputError("公开随机数不能为空（the public randomness must not be empty）")
    value = randomness.strip()
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise DrawInputError("公开随机数不能含换行或控制字符（the randomness must not contain control characters）")
    return value


def seed_of(commitment: str, randomness: str) -> str:
    """seed = sha256_hex(commitment + ":" + randomness), randomness stripped of surrounding whitespace."""
    _check_hex("commitment", commitment)
    return sha256_hex(commitment + ":" + normalise_randomness(randomness))


def ticket(seed: str, uscc: str) -> str:
    """The entity's ticket in this draw: sha256_hex(seed + ":" + uscc)."""
    return sha256_hex(seed + ":" + uscc)


def _digests(prefix: str, usccs: Sequence[str]) -> list[bytes]:
    """[sha256(prefix + uscc) for uscc in usccs] as raw digests: the hot loop of a draw (15 million calls for a
    province).

    The prefix (seed + ":", 65 bytes) fills SHA-256's first 64-byte block, which is compressed once here; each
    candidate then costs a copy of that state and one compression. The raw digests order exactly as their hex
    spelling (the ticket) and are cheaper to make and to order; only the kept ones are spelt in hex."""
    copy = hashlib.sha256(prefix.encode("utf-8")).copy
    out: list[bytes] = []
    append = out.append
    for uscc in usccs:
        state = copy()
        state.update(uscc.encode("utf-8"))
        append(state.digest())
    return out


def _strictly_increasing(values: Sequence[str]) -> bool:
    """True when sorted without repeats (as candidates.csv is): then there is no duplicate, without a set."""
    return all(itertools.starmap(operator.lt, itertools.pairwise(values)))


@dataclass(frozen=True)
class StratumDraw:
    """The outcome of one stratum: selected and alternate (uscc, ticket) pairs, in ticket order."""

    stratum: str
    candidates: int
    ratio: Decimal
    take: int
    selected: tuple[tuple[str, str], ...]
    alternates: tuple[tuple[str, str], ...]

    @property
    def alternates_complete(self) -> bool:
        """True when every non-selected candidate is in `alternates` (none cut off to save memory)."""
        return len(self.alternates) == self.candidates - self.take


def draw_stratum(
    seed: str, stratum: str, usccs: Iterable[str], ratio: Decimal, *, alternates: int | None = DEFAULT_ALTERNATES
) -> StratumDraw:
    """Draw one stratum: the `take` lowest tickets are selected; the next ones are alternates.

    `alternates`: how many alternates to keep (None = all; default max(take, DEFAULT_MIN_ALTERNATES)).
    The result never depends on the order of `usccs`.
    """
    _check_hex("seed", seed)
    value = validate_ratio(ratio)
    pool = usccs if isinstance(usccs, (list, tuple)) else list(usccs)
    if not pool:
        raise DrawInputError(f"分层 {stratum} 没有候选对象（stratum {stratum} has no candidates）")
    digests = _digests(seed + ":", pool)
    uscc_of = dict(zip(digests, pool, strict=True))  # built in C; equal digests only for a repeated uscc
    count = len(pool)
    if len(uscc_of) != count:
        seen: set[str] = set()
        for uscc in pool:
            if uscc in seen:
                raise DrawInputError(
                    f"分层 {stratum} 中统一社会信用代码 {uscc} 重复（duplicate uscc {uscc} in stratum {stratum}）"
                )
            seen.add(uscc)
    take = take_count(value, count)
    if alternates is None:
        keep = count
    elif alternates == DEFAULT_ALTERNATES:
        keep = min(count, take + max(take, DEFAULT_MIN_ALTERNATES))
    else:
        keep = min(count, take + max(0, alternates))
    # Only the kept prefix is ranked (a partial selection when it is small against the stratum).
    ordered = heapq.nsmallest(keep, digests) if keep * 8 < count else sorted(digests)[:keep]
    pairs = tuple(zip(map(uscc_of.__getitem__, ordered), map(bytes.hex, ordered), strict=True))
    return StratumDraw(
        stratum=stratum, candidates=count, ratio=value, take=take, selected=pairs[:take], alternates=pairs[take:]
    )


def draw_all(
    seed: str, strata: Mapping[str, tuple[Iterable[str], Decimal]], *, alternates: int | None = DEFAULT_ALTERNATES
) -> list[StratumDraw]:
    """Draw every stratum of a plan; the list is sorted by stratum."""
    if not strata:
        raise DrawInputError("抽查计划没有任何分层（the plan has no strata）")
    return [
        draw_stratum(seed, stratum, strata[stratum][0], strata[stratum][1], alternates=alternates)
        for stratum in sorted(strata)
    ]


def replace_deregistered(
    draws: Sequence[StratumDraw], deregistered: set[str], *, reason: str = DEREGISTERED_REASON
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Replace selected entities found deregistered by the next unused alternates, in ticket order.

    Returns (selected after replacement [{stratum, uscc, ticket}] sorted by stratum then ticket,
    alternates_used [{stratum, replaced, by, reason}] in the order applied). Per stratum the selected
    entities are examined in ticket order; when an alternate brought in is itself deregistered it is replaced
    in turn (an entry replacing the alternate). When every alternate of the stratum is used up, the entry
    has `by: None` and the stratum keeps fewer entities.
    """
    effective: list[dict[str, Any]] = []
    used: list[dict[str, Any]] = []
    for draw in sorted(draws, key=lambda d: d.stratum):
        queue = list(draw.alternates)
        position = 0
        kept: list[tuple[str, str]] = []
        pending = list(draw.selected)
        index = 0
        while index < len(pending):
            uscc, tick = pending[index]
            index += 1
            if uscc not in deregistered:
                kept.append((uscc, tick))
                continue
            if position < len(queue):
                replacement = queue[position]
                position += 1
                used.append({"stratum": draw.stratum, "replaced": uscc, "by": replacement[0], "reason": reason})
                pending.insert(index, replacement)  # examined next: it may be deregistered too
            elif draw.alternates_complete:
                used.append({"stratum": draw.stratum, "replaced": uscc, "by": None, "reason": reason})
            else:
                raise DrawInputError(
                    f"分层 {draw.stratum} 保留的候补已用完，请以 alternates=None 重新计算该分层"
                    f"（stratum {draw.stratum}: kept alternates exhausted; recompute with alternates=None）"
                )
        kept.sort(key=lambda pair: pair[1])
        effective.extend({"stratum": draw.stratum, "uscc": u, "ticket": t} for u, t in kept)
    return effective, used


def draw_json(
    commitment: str,
    randomness: str,
    seed: str,
    draws: Sequence[StratumDraw],
    alternates_used: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The content of draw.json: the original selection (before replacement) and the replacements made."""
    _check_hex("commitment", commitment)
    value = normalise_randomness(randomness)
    if seed != seed_of(commitment, value):
        raise DrawInputError("种子与承诺值、随机数不符（seed does not match commitment and randomness）")
    ordered = sorted(draws, key=lambda d: d.stratum)
    return {
        "commitment": commitment,
        "randomness": value,
        "seed": seed,
        "strata": [
            {"stratum": d.stratum, "candidates": d.candidates, "ratio": format(d.ratio, "f"), "take": d.take}
            for d in ordered
        ],
        "selected": [{"stratum": d.stratum, "uscc": u, "ticket": t} for d in ordered for u, t in d.selected],
        "alternates_used": [
            {"stratum": e["stratum"], "replaced": e["replaced"], "by": e["by"], "reason": e["reason"]}
            for e in alternates_used
        ],
    }


def export_files(csv_bytes: bytes, manifest: dict[str, Any], draw: dict[str, Any] | None) -> dict[str, bytes]:
    """File name -> bytes of a draw export: manifest.json is canonical (its sha256sum is the commitment)."""
    files = {"candidates.csv": csv_bytes, "manifest.json": canonical_json(manifest)}
    if draw is not None:
        files["draw.json"] = (json.dumps(draw, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")
    return files
