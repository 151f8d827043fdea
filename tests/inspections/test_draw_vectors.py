"""Test vectors of jianguan-draw-v1: the worked example of docs/draw-protocol.md, value for value.

If one of these fails, the protocol changed: every published draw would stop verifying. Do not update the
numbers; fix the code (or define jianguan-draw-v2).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from jianguan.inspections.domain.assign import Inspector, Rejection, Visit, assign_inspectors, inspector_ticket
from jianguan.inspections.domain.draw import (
    build_manifest,
    candidates_csv,
    canonical_json,
    commitment_of,
    draw_all,
    draw_json,
    export_files,
    replace_deregistered,
    seed_of,
    sha256_hex,
    ticket,
)
from jianguan.inspections.domain.verify import verify_dir

DOC = Path(__file__).resolve().parents[2] / "docs" / "draw-protocol.md"

A, C, B = "T1:SCJG-001:A:371081", "T1:SCJG-001:C:371081", "T2:SCJG-012:B:371082"
STRATA = {
    A: [
        "91371081MA3C4N8X95",
        "91371081MA3D0K21X2",
        "91371081MA94T7QBXR",
        "91371081MA3F5R6H43",
        "91371081MA7L2P9D1N",
        "91371081MA3H8W4E96",
    ],
    C: ["92371081MA50Y1UC3Q", "92371081MA3JNB7K3T", "92371081MA6Q3M2T8C", "92371081MA3MX5GP2H", "92371081MA8R1E6WX3"],
    B: ["91371082MA3PC9LY7Y", "91371082MA4TH2N725", "91371082MA3UR8DB1Q", "91371082MA9W6K3F18"],
}
RATIOS = {A: Decimal("0.05"), C: Decimal("0.4"), B: Decimal("0.3333")}
RANDOMNESS = "福彩3D 2026054 417 / 见证人 3815"

CSV_SHA256 = "bc35c7eaefc22e164169a928b130d8720bdd124a84202b17c799dc044e7296f8"
MANIFEST = (
    '{"algorithm":"jianguan-draw-v1","candidates_sha256":"bc35c7eaefc22e164169a928b130d8720bdd124a84202b17c799dc044e'
    '7296f8","plan":"7","strata":[{"candidates":6,"ratio":"0.05","stratum":"T1:SCJG-001:A:371081"},{"candidates":5,'
    '"ratio":"0.4","stratum":"T1:SCJG-001:C:371081"},{"candidates":4,"ratio":"0.3333","stratum":"T2:SCJG-012:B:37108'
    '2"}]}'
)
COMMITMENT = "c1fecf2103c6e755e2ba098e7ea4978cfda935b88b8bee1352c58b003cbc66cd"
SEED = "0a54fbb0b503e1737a5ae4f1754c3774a39fa3ba21918f52bb3e1275d2582dfc"

# (uscc, ticket) in ticket order; the first `take` are selected.
ORDER = {
    A: [
        ("91371081MA3C4N8X95", "1c8b83e114f75f37f0f42a419b0a95b84d3563d3fd8b7234a38a7edcef0e860b"),
        ("91371081MA3F5R6H43", "4d60607e412ce820b51718a2c352eb5ee66eabb48452ce9c1f212359697fd6a5"),
        ("91371081MA94T7QBXR", "63b4016d3586637c4f3802807dcf851c3d45b63669b5c1ce7d90522ba96621cb"),
        ("91371081MA7L2P9D1N", "7cd3ddc3e76d8e6bd228050c537d08fe8a6b106e2a635e107e99fe9992d77c4c"),
        ("91371081MA3D0K21X2", "8790bd48cd8cfc643343eda88cc7983d190c41a42fcff59b87926b59d115d978"),
        ("91371081MA3H8W4E96", "eac47602e76254608a00c61b7d185ce51dda07dd11f6fb186f3be9823e5babbb"),
    ],
    C: [
        ("92371081MA50Y1UC3Q", "112896ff0306bae0fbdae42b9aaf740e70f40ceaca1c34af1d98b60151a4d017"),
        ("92371081MA3MX5GP2H", "51aced4998be981df030a3432342ab8aec37ed19e0a02608c287256367416d71"),
        ("92371081MA6Q3M2T8C", "99c51494c38ef18620683327d000bc1df1eb070f3cb441ce2607a8899192f6fd"),
        ("92371081MA3JNB7K3T", "c6920b7205506a45a374649034bdb4bea3a3381d924c9e7725a935d553d52d83"),
        ("92371081MA8R1E6WX3", "d22ca0d010c0d8cf002da49c69019afa6efd32c31d16cd4d466af15fbab7c6e9"),
    ],
    B: [
        ("91371082MA3PC9LY7Y", "3f3e39ca595ac39b4ba76ef1aa44fdee6fe8494453c936202f95d466108c5a18"),
        ("91371082MA3UR8DB1Q", "6a9a93a3a1b8a355ac159b1ffe4b8f959a2a5e9718a173d381074508d88c61a2"),
        ("91371082MA4TH2N725", "7cd60ed1a08549f092d9e7ed9e315d2fde5d4c1f85b16bd8ef6d8c88ef88c502"),
        ("91371082MA9W6K3F18", "9114808863904510b60805cd4116706f466502edb1d289ee59c6d2ca6253b2bd"),
    ],
}
TAKES = {A: 1, C: 2, B: 2}


def example_csv() -> bytes:
    return candidates_csv(STRATA)


def example_manifest() -> dict:
    return build_manifest("7", example_csv(), RATIOS, {k: len(v) for k, v in STRATA.items()})


def test_candidates_csv_bytes():
    data = example_csv()
    assert len(data) == 613 and data.count(b"\n") == 16
    assert data.startswith(b"stratum,uscc\nT1:SCJG-001:A:371081,91371081MA3C4N8X95\n")
    assert data.endswith(b"\nT2:SCJG-012:B:371082,91371082MA9W6K3F18\n")
    assert sha256_hex(data) == CSV_SHA256


def test_manifest_bytes_and_commitment():
    manifest = example_manifest()
    assert canonical_json(manifest) == MANIFEST.encode()
    assert commitment_of(manifest) == COMMITMENT == sha256_hex(MANIFEST)


def test_seed():
    assert seed_of(COMMITMENT, RANDOMNESS) == SEED
    assert sha256_hex((COMMITMENT + ":" + RANDOMNESS).encode("utf-8")) == SEED


@pytest.mark.parametrize("stratum", [A, C, B])
def test_tickets_order_and_selection(stratum):
    assert [(u, ticket(SEED, u)) for u, _ in ORDER[stratum]] == ORDER[stratum]
    [result] = draw_all(SEED, {stratum: (STRATA[stratum], RATIOS[stratum])}, alternates=None)
    assert result.take == TAKES[stratum]
    assert list(result.selected) == ORDER[stratum][: TAKES[stratum]]
    assert list(result.alternates) == ORDER[stratum][TAKES[stratum] :]


def test_replacement_of_the_deregistered_entity():
    draws = draw_all(SEED, {k: (v, RATIOS[k]) for k, v in STRATA.items()})
    effective, used = replace_deregistered(draws, {"92371081MA3MX5GP2H"})
    assert used == [{"stratum": C, "replaced": "92371081MA3MX5GP2H", "by": "92371081MA6Q3M2T8C", "reason": "已注销"}]
    assert [e["uscc"] for e in effective] == [
        "91371081MA3C4N8X95",
        "92371081MA50Y1UC3Q",
        "92371081MA6Q3M2T8C",
        "91371082MA3PC9LY7Y",
        "91371082MA3UR8DB1Q",
    ]


def test_the_example_export_verifies(tmp_path):
    draws = draw_all(SEED, {k: (v, RATIOS[k]) for k, v in STRATA.items()})
    _, used = replace_deregistered(draws, {"92371081MA3MX5GP2H"})
    document = draw_json(COMMITMENT, RANDOMNESS, SEED, draws, used)
    for name, content in export_files(example_csv(), example_manifest(), document).items():
        (tmp_path / name).write_bytes(content)
    assert verify_dir(tmp_path) == (True, "MATCH")


def test_inspector_tickets_and_team():
    entity = "92371081MA50Y1UC3Q"
    inspectors = [
        Inspector("101", "samr", frozenset({"食品安全", "登记注册"})),
        Inspector("102", "samr", frozenset({"登记注册"})),
        Inspector("103", "samr", frozenset({"食品安全"}), conflicts=frozenset({entity})),
        Inspector("104", "samr", frozenset({"食品安全", "计量"})),
        Inspector("201", "tax", frozenset({"税务检查"})),
        Inspector("202", "tax", frozenset({"税务检查"}), active=False),
    ]
    assert inspector_ticket(SEED, "7-0002", "103") == (
        "3b8433dc47903f31fb1f7c7d599edc4e74d0fdbe0d030d57381fc12d7309e015"
    )
    assert inspector_ticket(SEED, "7-0002", "101") == (
        "e2249562443c4a47e8472bd0e60872a236205f1c3151aa7ee4e5e48b34ecd24a"
    )
    assert inspector_ticket(SEED, "7-0002", "201") == (
        "ac109f588167dca5ad0cc71bd717ea1d003c2029dd1024511a4c0d4874f8fef9"
    )
    joint = Visit("7-0002", entity, {"samr": frozenset({"食品安全"}), "tax": frozenset({"税务检查"})})
    result = assign_inspectors(
        SEED,
        [joint],
        inspectors,
        recent={("104", entity): date(2025, 9, 1)},
        interval_days=365,
        today=date(2026, 3, 2),
        cap=20,
    )
    assert result.teams == {"7-0002": ("101", "201")}
    assert result.rejections == [
        Rejection("7-0002", "103", "recusal"),
        Rejection("7-0002", "102", "qualification"),
        Rejection("7-0002", "104", "interval"),
        Rejection("7-0002", "202", "inactive"),
    ]


def test_the_document_shows_these_values():
    text = DOC.read_text("utf-8")
    for value in (CSV_SHA256, COMMITMENT, SEED, MANIFEST, RANDOMNESS):
        assert value in text
    for pairs in ORDER.values():
        for uscc, tick in pairs:
            assert re.search(rf"`{tick}` \| {uscc} \|", text), uscc
    assert example_csv().decode() in text
