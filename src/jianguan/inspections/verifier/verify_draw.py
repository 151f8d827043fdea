#!/usr/bin/env python3
"""Verify a Jianguan random-inspection draw (protocol jianguan-draw-v1) from its published files.

Usage:  python3 verify_draw.py DIR

DIR holds candidates.csv, manifest.json and draw.json as published on the portal. This script uses the
Python standard library only (Python 3.8 or later) and does not need Jianguan. It recomputes everything
from the files and prints MATCH (exit status 0) or "MISMATCH: <first difference>" (exit status 1).

The protocol (docs/draw-protocol.md in the Jianguan source):
  1. candidates.csv: UTF-8, header "stratum,uscc", rows sorted by stratum then uscc, "\\n" line ends.
  2. commitment = sha256_hex(canonical_json(manifest)); canonical_json = JSON with sorted keys, separators
     (",", ":"), non-ASCII kept, UTF-8. manifest = {"algorithm": "jianguan-draw-v1", "plan": ...,
     "candidates_sha256": sha256 of candidates.csv, "strata": [{"stratum", "candidates", "ratio"}, ...]}.
     manifest.json holds exactly those canonical bytes, so `sha256sum manifest.json` is the commitment.
  3. randomness: the public random string (no surrounding whitespace).
  4. seed = sha256_hex(commitment + ":" + randomness).
  5. per stratum: ticket(uscc) = sha256_hex(seed + ":" + uscc); ascending tickets; the first
     take = ceil(ratio * candidates) are selected; the following ones are alternates, used in order.
     draw.json "selected" lists the selection before any replacement, by stratum then ticket;
     "alternates_used" lists the replacements in the order made: each replaces an entity currently selected
     in its stratum by the next unused alternate (null when none is left).
"""

import codecs
import contextlib
import hashlib
import json
import os
import sys
from decimal import Decimal, InvalidOperation

ALGORITHM = "jianguan-draw-v1"
HEADER = "stratum,uscc"
MANIFEST_KEYS = {"algorithm", "plan", "candidates_sha256", "strata"}
DRAW_KEYS = {"commitment", "randomness", "seed", "strata", "selected", "alternates_used"}


class Mismatch(Exception):
    """The first difference found; its text follows "MISMATCH: "."""


def sha256_hex(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def take_count(ratio, candidates):
    """ceil(ratio * candidates) on exact integers."""
    numerator, denominator = ratio.as_integer_ratio()
    return -(-numerator * candidates // denominator)


def parse_ratio(text, where):
    if not isinstance(text, str):
        raise Mismatch(f"{where}: ratio must be a decimal string, found {text!r}")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Mismatch(f"{where}: ratio {text!r} is not a decimal number") from None
    if not value.is_finite() or value < 0 or value > 1 or text != text.strip():
        raise Mismatch(f"{where}: ratio {text!r} is not a decimal number between 0 and 1")
    return value


BLOCK = 1 << 24  # bytes read at once: memory stays bounded whatever the size of candidates.csv


def scan_candidates(path):
    """Byte-level checks of candidates.csv in one streamed pass; returns its sha256.

    Checked in this order, as if on the whole file: no byte-order mark, no carriage return (naming its line), a
    final "\\n", valid UTF-8 (naming the byte)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = newlines = 0
    carriage = bad_byte = None
    last = b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(BLOCK if offset else max(BLOCK, 3))  # the first block holds a whole BOM
            if not block:
                break
            if offset == 0 and block.startswith(b"\xef\xbb\xbf"):
                raise Mismatch("candidates.csv: starts with a byte-order mark; the file must be plain UTF-8")
            digest.update(block)
            if carriage is None and b"\r" in block:
                carriage = newlines + block.count(b"\n", 0, block.index(b"\r")) + 1
            if bad_byte is None:
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as error:
                    bad_byte = offset - pending + error.start
            newlines += block.count(b"\n")
            offset += len(block)
            last = block[-1:]
    if carriage is not None:
        raise Mismatch(f"candidates.csv: line {carriage} contains a carriage return; lines must end with \\n only")
    if last != b"\n":
        raise Mismatch("candidates.csv: the last line does not end with \\n")
    if bad_byte is None:
        try:
            decoder.decode(b"", True)
        except UnicodeDecodeError as error:
            bad_byte = offset - len(decoder.getstate()[0]) + error.start
    if bad_byte is not None:
        raise Mismatch(f"candidates.csv: not valid UTF-8 at byte {bad_byte}")
    return digest.hexdigest()


def read_candidates(path, finish):
    """Read candidates.csv line by line (after `scan_candidates`), checking format and order, and call
    finish(stratum, usccs) once per stratum in file order. Only one stratum is held in memory at a time."""
    current = None
    usccs = []  # type: list[str]
    previous = ""
    with open(path, encoding="utf-8", newline="\n") as handle:
        header = handle.readline()[:-1]
        if header != HEADER:
            raise Mismatch(f"candidates.csv: the first line must be {HEADER!r}, found {header!r}")
        for number, line in enumerate(handle, start=2):
            line = line[:-1]
            stratum, _, uscc = line.partition(",")
            if not uscc or "," in uscc or '"' in uscc:
                raise Mismatch(f"candidates.csv: line {number} is not 'stratum,uscc': {line!r}")
            if stratum != current:
                if not stratum or '"' in stratum:
                    raise Mismatch(f"candidates.csv: line {number} is not 'stratum,uscc': {line!r}")
                if current is not None and stratum < current:
                    raise Mismatch(
                        f"candidates.csv: line {number}: stratum {stratum} comes after {current}; "
                        "rows must be sorted by stratum then uscc"
                    )
                if current is not None:
                    finish(current, usccs)
                current = stratum
                usccs = []
            elif uscc <= previous:
                if uscc == previous:
                    raise Mismatch(f"candidates.csv: line {number}: stratum {stratum}: uscc {uscc} appears twice")
                raise Mismatch(
                    f"candidates.csv: line {number}: stratum {stratum}: uscc {uscc} comes after {previous}; "
                    "rows must be sorted by stratum then uscc"
                )
            usccs.append(uscc)
            previous = uscc
    if current is None:
        raise Mismatch("candidates.csv: has no candidate rows")
    finish(current, usccs)


def ranked(seed, usccs):
    """[(ticket, uscc), ...] of one stratum in ticket order."""
    copy = hashlib.sha256((seed + ":").encode("utf-8")).copy  # the seed block is hashed once
    pairs = []  # type: list[tuple[str, str]]
    append = pairs.append
    for uscc in usccs:
        state = copy()
        state.update(uscc.encode("utf-8"))
        append((state.hexdigest(), uscc))
    pairs.sort()
    return pairs


def read_bytes(directory, name):
    try:
        with open(os.path.join(directory, name), "rb") as handle:
            return handle.read()
    except OSError as error:
        raise Mismatch(f"{name}: cannot be read ({error.strerror or error})") from None


def parse_json(name, data):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise Mismatch(f"{name}: not valid UTF-8 JSON ({error})") from None


def describe(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def check_manifest(manifest, manifest_bytes, csv_sha256, strata_rows):
    """The manifest against candidates.csv; returns {stratum: (count, ratio Decimal, ratio string, take)}."""
    if not isinstance(manifest, dict) or set(manifest) != MANIFEST_KEYS:
        keys = sorted(manifest) if isinstance(manifest, dict) else type(manifest).__name__
        raise Mismatch(f"manifest.json: keys must be exactly {sorted(MANIFEST_KEYS)}, found {keys}")
    if manifest["algorithm"] != ALGORITHM:
        raise Mismatch(f"manifest.json: algorithm is {manifest['algorithm']!r}; this verifier checks {ALGORITHM!r}")
    plan = manifest["plan"]
    if not isinstance(plan, (str, int)) or isinstance(plan, bool):
        raise Mismatch(f"manifest.json: plan must be a string or an integer, found {plan!r}")
    try:
        canonical = canonical_json(manifest)
    except (TypeError, ValueError):
        canonical = None
    if manifest_bytes != canonical:
        raise Mismatch(
            "manifest.json: not written as canonical JSON (sorted keys, no spaces, UTF-8, no final newline), "
            "so its sha256sum would not be the commitment"
        )
    actual = csv_sha256
    if manifest["candidates_sha256"] != actual:
        raise Mismatch(
            f"candidates.csv: sha256 is {actual} but manifest.json candidates_sha256 is "
            f"{manifest['candidates_sha256']} (the candidate list is not the committed one)"
        )
    listed = manifest["strata"]
    if not isinstance(listed, list) or not listed:
        raise Mismatch("manifest.json: strata must be a non-empty list")
    in_csv = dict(strata_rows)
    strata = {}
    previous = None
    for index, entry in enumerate(listed):
        where = f"manifest.json: strata[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"stratum", "candidates", "ratio"}:
            raise Mismatch(f"{where}: keys must be exactly ['candidates', 'ratio', 'stratum']: {describe(entry)}")
        stratum = entry["stratum"]
        if not isinstance(stratum, str):
            raise Mismatch(f"{where}: stratum must be a string, found {stratum!r}")
        if previous is not None and stratum <= previous:
            raise Mismatch(f"{where}: stratum {stratum} is repeated or out of order (strata must be sorted)")
        previous = stratum
        where = f"{where} (stratum {stratum})"
        ratio = parse_ratio(entry["ratio"], where)
        count = entry["candidates"]
        if stratum not in in_csv:
            raise Mismatch(f"{where}: the stratum has no rows in candidates.csv")
        if type(count) is not int or count != in_csv[stratum]:
            raise Mismatch(f"{where}: candidates is {count!r} but candidates.csv has {in_csv[stratum]} rows")
        strata[stratum] = (count, ratio, entry["ratio"], take_count(ratio, count))
    for stratum in in_csv:
        if stratum not in strata:
            raise Mismatch(f"candidates.csv: stratum {stratum} is not listed in manifest.json strata")
    return strata


def check_strata(listed, strata):
    if not isinstance(listed, list):
        raise Mismatch("draw.json: strata must be a list")
    for index, stratum in enumerate(sorted(strata)):
        count, _, ratio_string, take = strata[stratum]
        expected = {"stratum": stratum, "candidates": count, "ratio": ratio_string, "take": take}
        if index >= len(listed):
            raise Mismatch(f"draw.json: strata is missing stratum {stratum} (strata[{index}])")
        found = listed[index]
        if not isinstance(found, dict) or set(found) != set(expected):
            raise Mismatch(f"draw.json: strata[{index}]: keys must be exactly {sorted(expected)}: {describe(found)}")
        for key in ("stratum", "candidates", "ratio", "take"):
            if found[key] != expected[key] or type(found[key]) is not type(expected[key]):
                raise Mismatch(
                    f"draw.json: strata[{index}] (stratum {stratum}): {key} is {found[key]!r}, "
                    f"expected {expected[key]!r}"
                )
    if len(listed) > len(strata):
        raise Mismatch(f"draw.json: strata[{len(strata)}]: {describe(listed[len(strata)])} is not in manifest.json")


def check_selected(selected, strata, orders):
    """draw.json selected == the take lowest tickets of each stratum, by stratum then ticket."""
    if not isinstance(selected, list):
        raise Mismatch("draw.json: selected must be a list")
    position = 0
    for stratum in sorted(strata):
        take = strata[stratum][3]
        order = orders[stratum]
        block = selected[position : position + take]
        for rank in range(take):
            ticket, uscc = order[rank]
            index = position + rank
            missing = f"draw.json: selected is missing stratum {stratum} uscc {uscc} (rank {rank + 1} of {take}, "
            if index >= len(selected):
                raise Mismatch(f"{missing}ticket {ticket}); selected has only {len(selected)} entries")
            entry = selected[index]
            if not isinstance(entry, dict) or set(entry) != {"stratum", "uscc", "ticket"}:
                raise Mismatch(
                    f"draw.json: selected[{index}]: keys must be exactly stratum, uscc, ticket: {describe(entry)}"
                )
            if entry["stratum"] != stratum or entry["uscc"] != uscc:
                listed_here = {(e.get("stratum"), e.get("uscc")) for e in block if isinstance(e, dict)}
                if (stratum, uscc) not in listed_here:
                    raise Mismatch(f"{missing}ticket {ticket}); selected[{index}] is {describe(entry)}")
                if entry["stratum"] != stratum or entry["uscc"] not in {u for _, u in order[:take]}:
                    raise Mismatch(
                        f"draw.json: selected[{index}]: {describe(entry)} was not selected by the draw "
                        f"(expected stratum {stratum} uscc {uscc}, ticket {ticket})"
                    )
                raise Mismatch(
                    f"draw.json: selected[{index}]: stratum {stratum}: not in ticket order: expected "
                    f"uscc {uscc} (ticket {ticket}), found uscc {entry['uscc']}"
                )
            if entry["ticket"] != ticket:
                raise Mismatch(
                    f"draw.json: selected[{index}]: stratum {stratum} uscc {uscc}: ticket is "
                    f"{entry['ticket']}, expected {ticket}"
                )
        position += take
    if len(selected) > position:
        raise Mismatch(f"draw.json: selected[{position}]: {describe(selected[position])} was not selected by the draw")


def check_alternates(used, strata, orders):
    """Each entry replaces an entity currently selected in its stratum by the next unused alternate."""
    if not isinstance(used, list):
        raise Mismatch("draw.json: alternates_used must be a list")
    current = {stratum: {uscc for _, uscc in orders[stratum][: strata[stratum][3]]} for stratum in strata}
    next_rank = {stratum: strata[stratum][3] for stratum in strata}
    for index, entry in enumerate(used):
        where = f"draw.json: alternates_used[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"stratum", "replaced", "by", "reason"}:
            raise Mismatch(f"{where}: keys must be exactly by, reason, replaced, stratum: {describe(entry)}")
        stratum = entry["stratum"]
        if stratum not in strata:
            raise Mismatch(f"{where}: stratum {stratum!r} is not in manifest.json")
        where = f"{where} (stratum {stratum})"
        if not isinstance(entry["reason"], str) or not entry["reason"].strip():
            raise Mismatch(f"{where}: reason is missing")
        replaced = entry["replaced"]
        if replaced not in current[stratum]:
            raise Mismatch(f"{where}: replaced {replaced!r} is not currently selected in the stratum")
        order = orders[stratum]
        rank = next_rank[stratum]
        if rank >= strata[stratum][0]:  # every candidate of the stratum has been used
            if entry["by"] is not None:
                raise Mismatch(f"{where}: by is {entry['by']!r} but no unused alternate is left (by must be null)")
        else:
            ticket, expected = order[rank]
            if entry["by"] != expected:
                number = rank - strata[stratum][3] + 1
                raise Mismatch(
                    f"{where}: by is {entry['by']!r} but the next unused alternate is {expected} "
                    f"(alternate {number}, ticket {ticket})"
                )
            next_rank[stratum] = rank + 1
            current[stratum].add(expected)
        current[stratum].discard(replaced)


def _ranking_plan(manifest_bytes, draw_bytes):
    """(seed, {stratum: (ratio, replacements)}) as far as manifest.json and draw.json allow, for ranking each stratum
    while candidates.csv is read; the files are checked properly afterwards, in order, and any malformation named
    there. (None, {}) when no seed can be computed."""
    try:
        manifest, draw = json.loads(manifest_bytes.decode("utf-8")), json.loads(draw_bytes.decode("utf-8"))
    except ValueError:
        return None, {}
    if not isinstance(manifest, dict) or not isinstance(draw, dict) or not isinstance(draw.get("randomness"), str):
        return None, {}
    seed = sha256_hex(sha256_hex(manifest_bytes) + ":" + draw["randomness"])
    used = draw.get("alternates_used")
    extra = {}  # type: dict[str, int]
    for entry in used if isinstance(used, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("stratum"), str):
            extra[entry["stratum"]] = extra.get(entry["stratum"], 0) + 1
    plan = {}
    listed = manifest.get("strata")
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("stratum"), str) and isinstance(entry.get("ratio"), str):
            with contextlib.suppress(InvalidOperation):  # a bad ratio: check_manifest names it
                plan[entry["stratum"]] = (Decimal(entry["ratio"]), extra.get(entry["stratum"], 0))
    return seed, plan


def verify_dir(directory):
    """(True, "MATCH") or (False, "MISMATCH: <first difference>") for the export in `directory`.

    candidates.csv is streamed (a province draw's is several gigabytes): checked and hashed in one pass, then read
    stratum by stratum, each stratum ranked as it ends and only its first tickets kept."""
    try:
        csv_path = os.path.join(directory, "candidates.csv")
        try:
            with open(csv_path, "rb"):
                pass
        except OSError as error:
            raise Mismatch(f"candidates.csv: cannot be read ({error.strerror or error})") from None
        manifest_bytes = read_bytes(directory, "manifest.json")
        draw_bytes = read_bytes(directory, "draw.json")
        csv_sha256 = scan_candidates(csv_path)
        ranking_seed, plan = _ranking_plan(manifest_bytes, draw_bytes)
        strata_rows = []  # (stratum, candidates) in file order
        orders = {}

        def finish(stratum, usccs):
            strata_rows.append((stratum, len(usccs)))
            if ranking_seed is not None and stratum in plan:
                ratio, replacements = plan[stratum]
                try:
                    keep = take_count(ratio, len(usccs)) + replacements + 1
                except (ArithmeticError, ValueError, TypeError):
                    return  # a bad ratio: check_manifest names it
                order = ranked(ranking_seed, usccs)
                # Only the first take + (replacements in the stratum) + 1 tickets are ever looked at.
                orders[stratum] = order if keep >= len(order) else order[:keep]

        read_candidates(csv_path, finish)
        strata = check_manifest(parse_json("manifest.json", manifest_bytes), manifest_bytes, csv_sha256, strata_rows)
        commitment = sha256_hex(manifest_bytes)
        draw = parse_json("draw.json", draw_bytes)
        if not isinstance(draw, dict) or set(draw) != DRAW_KEYS:
            keys = sorted(draw) if isinstance(draw, dict) else type(draw).__name__
            raise Mismatch(f"draw.json: keys must be exactly {sorted(DRAW_KEYS)}, found {keys}")
        if draw["commitment"] != commitment:
            raise Mismatch(f"draw.json: commitment is {draw['commitment']} but sha256 of manifest.json is {commitment}")
        randomness = draw["randomness"]
        if not isinstance(randomness, str) or not randomness or randomness != randomness.strip():
            raise Mismatch(
                f"draw.json: randomness must be a non-empty string without surrounding spaces, found {randomness!r}"
            )
        seed = sha256_hex(commitment + ":" + randomness)
        if draw["seed"] != seed:
            raise Mismatch(
                f'draw.json: seed is {draw["seed"]} but sha256(commitment + ":" + randomness) is {seed} '
                f"(randomness {randomness!r})"
            )
        check_strata(draw["strata"], strata)
        if seed != ranking_seed or any(stratum not in orders for stratum in strata):
            raise Mismatch("internal: the strata were not ranked while candidates.csv was read")
        check_selected(draw["selected"], strata, orders)
        check_alternates(draw["alternates_used"], strata, orders)
    except Mismatch as difference:
        return False, f"MISMATCH: {difference}"
    return True, "MATCH"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python3 verify_draw.py DIR\n")
        return 2
    ok, message = verify_dir(argv[0])
    sys.stdout.write(message + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
