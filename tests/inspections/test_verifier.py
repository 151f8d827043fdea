"""The standalone verifier: MATCH on an honest export, and the first difference named on a tampered one."""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from jianguan.inspections.domain.draw import (
    build_manifest,
    candidates_csv,
    commitment_of,
    draw_all,
    draw_json,
    export_files,
    replace_deregistered,
    seed_of,
    sha256_hex,
)
from jianguan.inspections.domain.verify import VERIFIER_PATH, verifier_source, verify_command, verify_dir

RANDOMNESS = "2026-03-01 福彩3D 第2026054期 4 1 7"
STRATA = {
    "SJ01|A|371081": [f"91371081MA{i:08d}" for i in range(40)],
    "SJ01|C|371081": [f"92371081MA{i:08d}" for i in range(12)],
    "SJ02|食品|371082": [f"91371082MA{i:08d}" for i in range(25)],
}
RATIOS = {"SJ01|A|371081": Decimal("0.05"), "SJ01|C|371081": Decimal("0.3333"), "SJ02|食品|371082": Decimal("0.2")}


def write_export(directory: Path, deregistered: set[str] | Callable[[list], set[str]] | None = None) -> dict:
    data = candidates_csv(STRATA)
    manifest = build_manifest("2026-0007", data, RATIOS, {k: len(v) for k, v in STRATA.items()})
    commitment = commitment_of(manifest)
    seed = seed_of(commitment, RANDOMNESS)
    draws = draw_all(seed, {k: (v, RATIOS[k]) for k, v in STRATA.items()})
    gone = deregistered(draws) if callable(deregistered) else (deregistered or set())
    _, used = replace_deregistered(draws, gone)
    document = draw_json(commitment, RANDOMNESS, seed, draws, used)
    for name, content in export_files(data, manifest, document).items():
        (directory / name).write_bytes(content)
    return {"draws": draws, "seed": seed, "commitment": commitment, "draw": document}


def rewrite_draw(directory: Path, change) -> None:
    document = json.loads((directory / "draw.json").read_text("utf-8"))
    change(document)
    (directory / "draw.json").write_text(json.dumps(document, ensure_ascii=False, indent=1), "utf-8")


def first_two_selected_deregistered(draws):
    return {draws[0].selected[0][0], draws[0].alternates[0][0], draws[2].selected[1][0]}


@pytest.fixture
def export(tmp_path):
    return tmp_path, write_export(tmp_path, first_two_selected_deregistered)


def test_an_honest_export_matches(export):
    directory, facts = export
    assert len(facts["draw"]["alternates_used"]) == 3
    assert verify_dir(directory) == (True, "MATCH")


def test_manifest_json_sha256sum_is_the_commitment(export):
    directory, facts = export
    assert sha256_hex((directory / "manifest.json").read_bytes()) == facts["commitment"]


def test_the_standalone_script_runs_with_the_system_python_and_prints_match(export):
    directory, _ = export
    script = directory / "verify_draw.py"
    script.write_bytes(verifier_source())
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(script), str(directory)], capture_output=True, text=True, check=False, cwd="/"
    )
    assert (done.returncode, done.stdout) == (0, "MATCH\n")


def test_the_standalone_script_exits_1_with_the_difference(export):
    directory, _ = export
    rewrite_draw(directory, lambda d: d.update(randomness="418"))
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(VERIFIER_PATH), str(directory)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and done.stdout.startswith("MISMATCH: draw.json: seed is ")


def test_the_standalone_script_imports_only_the_standard_library():
    tree = ast.parse(VERIFIER_PATH.read_text("utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    } | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) and "jianguan" not in imported


def test_verify_command_prints_and_returns_the_exit_status(export):
    directory, _ = export
    out = io.StringIO()
    assert verify_command(directory, out) == 0 and out.getvalue() == "MATCH\n"
    (directory / "candidates.csv").write_bytes(b"")
    out = io.StringIO()
    assert verify_command(str(directory), out) == 1 and out.getvalue().startswith("MISMATCH: candidates.csv")


# --- tampering: each names the first difference ---------------------------------------------------------------


def test_one_uscc_changed_in_candidates_csv_is_named(export):
    directory, _ = export
    path = directory / "candidates.csv"
    path.write_bytes(path.read_bytes().replace(b"91371081MA00000039", b"91371081MA00000099"))
    ok, message = verify_dir(directory)
    assert not ok
    assert message.startswith("MISMATCH: candidates.csv: sha256 is ")
    assert "but manifest.json candidates_sha256 is" in message


def test_a_changed_ticket_is_named_with_stratum_and_uscc(export):
    directory, facts = export
    uscc = facts["draw"]["selected"][1]["uscc"]
    rewrite_draw(directory, lambda d: d["selected"][1].update(ticket="0" * 64))
    ok, message = verify_dir(directory)
    assert not ok
    expected = facts["draw"]["selected"][1]["ticket"]
    assert message == (
        f"MISMATCH: draw.json: selected[1]: stratum SJ01|A|371081 uscc {uscc}: ticket is {'0' * 64}, "
        f"expected {expected}"
    )


def test_a_removed_selected_entry_is_named(export):
    directory, facts = export
    removed = facts["draw"]["selected"][2]  # the first of SJ01|C|371081 (take 4)
    rewrite_draw(directory, lambda d: d["selected"].pop(2))
    ok, message = verify_dir(directory)
    assert not ok
    assert message.startswith(
        f"MISMATCH: draw.json: selected is missing stratum {removed['stratum']} uscc {removed['uscc']} (rank 1 of 4, "
    )


def test_changed_randomness_is_named(export):
    directory, facts = export
    rewrite_draw(directory, lambda d: d.update(randomness=RANDOMNESS.replace("4 1 7", "4 1 8")))
    ok, message = verify_dir(directory)
    assert not ok
    assert message.startswith(f'MISMATCH: draw.json: seed is {facts["seed"]} but sha256(commitment + ":" + ')


def test_changed_randomness_with_a_recomputed_seed_is_caught_by_the_selection(export):
    directory, facts = export
    forged = seed_of(facts["commitment"], "999")
    rewrite_draw(directory, lambda d: d.update(randomness="999", seed=forged))
    ok, message = verify_dir(directory)
    assert not ok and message.startswith("MISMATCH: draw.json: selected")


def test_an_alternate_used_out_of_order_is_named(export):
    directory, facts = export
    draws = facts["draws"]
    skipped_to = draws[2].alternates[1][0]
    rewrite_draw(directory, lambda d: d["alternates_used"][2].update(by=skipped_to))
    ok, message = verify_dir(directory)
    assert not ok
    assert message.startswith(
        f"MISMATCH: draw.json: alternates_used[2] (stratum SJ02|食品|371082): by is '{skipped_to}' but the next "
        f"unused alternate is {draws[2].alternates[0][0]} (alternate 1, ticket "
    )


def test_replacing_an_entity_that_was_not_selected_is_named(export):
    directory, facts = export
    outsider = facts["draws"][1].alternates[5][0]
    rewrite_draw(
        directory,
        lambda d: d["alternates_used"].append(
            {"stratum": "SJ01|C|371081", "replaced": outsider, "by": "x", "reason": "已注销"}
        ),
    )
    _ok, message = verify_dir(directory)
    assert message == (
        f"MISMATCH: draw.json: alternates_used[3] (stratum SJ01|C|371081): replaced '{outsider}' is not currently "
        "selected in the stratum"
    )


def test_a_changed_ratio_in_the_manifest_breaks_the_commitment(export):
    directory, facts = export
    path = directory / "manifest.json"
    path.write_bytes(path.read_bytes().replace(b'"ratio":"0.2"', b'"ratio":"0.1"'))
    _ok, message = verify_dir(directory)
    assert message == (
        f"MISMATCH: draw.json: commitment is {facts['commitment']} but sha256 of manifest.json is "
        f"{sha256_hex(path.read_bytes())}"
    )


def test_a_pretty_printed_manifest_is_not_canonical(export):
    directory, _ = export
    path = directory / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_bytes()), indent=2, ensure_ascii=False), "utf-8")
    _ok, message = verify_dir(directory)
    assert message.startswith("MISMATCH: manifest.json: not written as canonical JSON")


def test_a_changed_take_is_named(export):
    directory, _ = export
    rewrite_draw(directory, lambda d: d["strata"][0].update(take=3))
    assert verify_dir(directory) == (
        False,
        "MISMATCH: draw.json: strata[0] (stratum SJ01|A|371081): take is 3, expected 2",
    )


def test_an_extra_selected_entity_is_named(export):
    directory, facts = export
    extra = {"stratum": "SJ02|食品|371082", "uscc": "91371082MA99999999", "ticket": "f" * 64}
    rewrite_draw(directory, lambda d: d["selected"].append(extra))
    _ok, message = verify_dir(directory)
    assert message.startswith(f"MISMATCH: draw.json: selected[{len(facts['draw']['selected'])}]: ")
    assert message.endswith("was not selected by the draw")


def test_two_selected_entries_swapped_are_named_as_out_of_ticket_order(export):
    directory, facts = export
    first, second = facts["draw"]["selected"][0], facts["draw"]["selected"][1]

    def swap(d):
        d["selected"][0], d["selected"][1] = d["selected"][1], d["selected"][0]

    rewrite_draw(directory, swap)
    assert verify_dir(directory) == (
        False,
        f"MISMATCH: draw.json: selected[0]: stratum SJ01|A|371081: not in ticket order: expected uscc "
        f"{first['uscc']} (ticket {first['ticket']}), found uscc {second['uscc']}",
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"stratum,uscc\r\nA,1\r\n", "candidates.csv: line 1 contains a carriage return", id="CRLF"),
        pytest.param(b"stratum;uscc\nA;1\n", "candidates.csv: the first line must be 'stratum,uscc'", id="header"),
        pytest.param(
            b"stratum,uscc\nA,1", "candidates.csv: the last line does not end with \\n", id="no final newline"
        ),
        pytest.param(
            b"stratum,uscc\nA,2\nA,1\n", "candidates.csv: line 3: stratum A: uscc 1 comes after 2", id="order"
        ),
        pytest.param(b"stratum,uscc\nB,1\nA,1\n", "candidates.csv: line 3: stratum A comes after B", id="strata order"),
        pytest.param(b"stratum,uscc\nA,1\nA,1\n", "candidates.csv: line 3: stratum A: uscc 1 appears twice", id="dup"),
        pytest.param(b"stratum,uscc\nA,1,x\n", "candidates.csv: line 2 is not 'stratum,uscc'", id="3 fields"),
        pytest.param(b"stratum,uscc\n\xff,1\n", "candidates.csv: not valid UTF-8 at byte 13", id="utf-8"),
    ],
)
def test_a_malformed_candidates_csv_is_named_with_its_line(tmp_path, content, message):
    write_export(tmp_path)
    (tmp_path / "candidates.csv").write_bytes(content)
    ok, found = verify_dir(tmp_path)
    assert not ok and found.startswith("MISMATCH: " + message)


def test_a_missing_file_is_named(tmp_path):
    write_export(tmp_path)
    (tmp_path / "draw.json").unlink()
    ok, message = verify_dir(tmp_path)
    assert not ok and message.startswith("MISMATCH: draw.json: cannot be read")


def test_an_exhausted_stratum_may_record_no_replacement_but_only_when_nothing_is_left(tmp_path):
    strata = {"S": ["U1", "U2", "U3"]}
    data = candidates_csv(strata)
    manifest = build_manifest("P", data, {"S": Decimal("0.5")}, {"S": 3})
    commitment = commitment_of(manifest)
    seed = seed_of(commitment, "7")
    draws = draw_all(seed, {"S": (strata["S"], Decimal("0.5"))}, alternates=None)
    order = [u for u, _ in draws[0].selected + draws[0].alternates]
    _, used = replace_deregistered(draws, {order[0], order[2]})
    assert [(u["replaced"], u["by"]) for u in used] == [(order[0], order[2]), (order[2], None)]
    for name, content in export_files(data, manifest, draw_json(commitment, "7", seed, draws, used)).items():
        (tmp_path / name).write_bytes(content)
    assert verify_dir(tmp_path) == (True, "MATCH")
    rewrite_draw(tmp_path, lambda d: d["alternates_used"][1].update(by=order[1]))
    _ok, message = verify_dir(tmp_path)
    assert message == (
        f"MISMATCH: draw.json: alternates_used[1] (stratum S): by is '{order[1]}' but no unused alternate is left "
        "(by must be null)"
    )


@pytest.mark.parametrize("block", [1, 5, 13, 64])
def test_the_verifier_streams_candidates_csv_in_blocks_with_the_same_findings(tmp_path, monkeypatch, block):
    """candidates.csv is read in blocks (a province's is gigabytes): tiny blocks split lines, multi-byte characters
    and the byte-order mark, and the verdicts and the bytes and lines they name stay those of the whole file."""
    from jianguan.inspections.verifier import verify_draw

    monkeypatch.setattr(verify_draw, "BLOCK", block)
    write_export(tmp_path, first_two_selected_deregistered)
    assert verify_dir(tmp_path) == (True, "MATCH")
    cases = [
        (b"stratum,uscc\nA,1\nA,2\r\n", "candidates.csv: line 3 contains a carriage return"),
        (b"\xef\xbb\xbfstratum,uscc\nA,1\n", "candidates.csv: starts with a byte-order mark"),
        (b"stratum,uscc\nA,1\n\xe9\xa3\x9f,1\n\xe9\xa3,2\n", "candidates.csv: not valid UTF-8 at byte 23"),
        (b"stratum,uscc\nA,1\nA,2", "candidates.csv: the last line does not end with \\n"),
        (b"stratum,uscc\n", "candidates.csv: has no candidate rows"),
    ]
    for content, message in cases:
        (tmp_path / "candidates.csv").write_bytes(content)
        ok, found = verify_dir(tmp_path)
        assert not ok and found.startswith("MISMATCH: " + message), (content, found)
