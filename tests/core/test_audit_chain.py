"""The audit trail is hash-chained: any altered, inserted or deleted entry is found and named."""

from __future__ import annotations

import datetime as dt
import hmac
import io
import json
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from jianguan.core.audit import audit_record, audit_timeline, audit_verify, snapshot
from jianguan.core.domain.audit_chain import canonical_json, canonical_json_plain, entry_hash
from jianguan.core.models import AuditChainHead, AuditEntry, Unit
from tests.conftest import create_user


@pytest.fixture
def chain(org):
    """Ten entries about one unit by one user."""
    actor = create_user(unit=org.wendeng)
    for i in range(10):
        audit_record(org.station, "update", actor=actor, before={"n": i}, after={"n": i + 1}, reason=f"第{i}次")
    return org


def _raw(sql: str, params: list) -> None:
    with connection.cursor() as cur:
        cur.execute(sql, params)


def _seq_of_last() -> int:
    return AuditChainHead.objects.get(id=1).seq


def test_an_untouched_chain_verifies(chain):
    result = audit_verify()
    assert result.ok
    assert result.checked == _seq_of_last()


def test_altering_an_entrys_reason_is_found_at_that_entry(chain):
    target = _seq_of_last() - 4
    _raw("UPDATE core_auditentry SET reason = %s WHERE seq = %s", ["改过的理由", target])
    result = audit_verify()
    assert not result.ok
    assert result.first_break.seq == target
    assert result.first_break.kind == "altered"
    assert f"第 {target} 条" in result.first_break.message


def test_altering_the_after_values_is_found(chain):
    target = _seq_of_last() - 2
    _raw("UPDATE core_auditentry SET after = %s WHERE seq = %s", ['{"n":999}', target])
    assert audit_verify().first_break.seq == target


def test_deleting_an_entry_in_the_middle_is_found_as_deleted(chain):
    target = _seq_of_last() - 5
    _raw("DELETE FROM core_auditentry WHERE seq = %s", [target])
    brk = audit_verify().first_break
    assert (brk.seq, brk.kind) == (target, "deleted")


def test_deleting_the_last_entries_is_found_as_a_truncated_tail(chain):
    last = _seq_of_last()
    _raw("DELETE FROM core_auditentry WHERE seq >= %s", [last - 1])
    brk = audit_verify().first_break
    assert (brk.seq, brk.kind) == (last - 1, "truncated")


def test_inserting_a_forged_entry_with_renumbering_is_found(chain):
    # A forger shifts entries up by one and slips a new entry in; they cannot compute a valid HMAC without the key.
    target = _seq_of_last() - 3
    last = _seq_of_last()
    for seq in range(last, target - 1, -1):
        _raw("UPDATE core_auditentry SET seq = %s WHERE seq = %s", [seq + 1, seq])
    forged = AuditEntry.objects.get(seq=target + 1)
    forged.seq = target
    forged.reason = "伪造"
    forged.save(force_insert=True)
    AuditChainHead.objects.filter(id=1).update(seq=last + 1)
    brk = audit_verify().first_break
    assert brk.seq == target
    assert brk.kind in ("altered", "inserted")


def test_verify_command_exits_nonzero_and_names_the_entry(chain):
    target = _seq_of_last() - 1
    _raw("UPDATE core_auditentry SET actor_name = %s WHERE seq = %s", ["别人", target])
    err = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("audit", "verify", stdout=io.StringIO(), stderr=err)
    assert exc.value.code == 1
    assert f"第 {target} 条审计记录内容被篡改" in err.getvalue()


def test_verify_command_reports_ok_for_an_intact_chain(chain):
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert "审计链完整" in out.getvalue()


def test_timeline_lists_a_records_actions_oldest_first(chain):
    entries = list(audit_timeline("core.unit", chain.station.pk))
    reasons = [e.reason for e in entries if e.action == "update"]
    assert reasons == [f"第{i}次" for i in range(10)]


def test_snapshot_makes_dates_and_decimals_json_ready(org):
    data = snapshot(org.wendeng, ["code", "division_id"])
    assert data == {"code": "371003-samr", "division_id": "371003"}


def test_a_rolled_back_change_leaves_no_audit_entry(org):
    from django.db import transaction

    before = AuditEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(org.wendeng, "update", actor=None, after={"x": 1})
        raise RuntimeError("boom")
    assert AuditEntry.objects.count() == before
    assert audit_verify().ok
    assert Unit.objects.count() == 5


# --- the fast encoders write exactly what the standard ones write ------------------------------------------------

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))  # any character a string may hold
_plain = st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _text,
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
                      max_leaves=12)


@given(_plain)
def test_canonical_json_plain_equals_canonical_json_on_plain_values(value):
    assert canonical_json_plain(value) == canonical_json(value)


@pytest.mark.parametrize("value", [
    {"capital": 1.5, "big": 1e16, "small": 1e-7},  # floats: orjson writes 1e16, the standard encoder 1e+16
    {"when": dt.date(2026, 11, 22), "at": dt.datetime(2026, 11, 22, 8, 30)},  # dates: str() by the standard default
    {"amount": Decimal("12.50")}, {"huge": 2**80}, {"id": uuid.UUID(int=7)},
])
def test_canonical_json_plain_falls_back_or_is_told_apart(value):
    if any(isinstance(v, float) for v in value.values()):
        assert canonical_json(value) != canonical_json_plain(value)  # why imports only pass plain text
    else:
        assert canonical_json_plain(value) == canonical_json(value)


@given(st.lists(st.none() | st.integers(-(2**70), 2**70) | _text, min_size=14, max_size=14),
       st.binary(max_size=130))
def test_entry_hash_is_the_hmac_of_the_standard_encoding(row, key):
    standard = json.dumps(["v1", *row], separators=(",", ":"), ensure_ascii=False).encode()
    assert entry_hash(key, row) == hmac.digest(key, standard, "sha256").hex()


def test_entry_hash_of_a_row_with_a_float_uses_the_standard_encoding():
    row = [1, "2026-11-22T00:00:00.000000Z", None, "系统", None, "", "x", "t", "1", "", "", "", "", 1e16]
    standard = json.dumps(["v1", *row], separators=(",", ":"), ensure_ascii=False).encode()
    assert entry_hash(b"k", row) == hmac.digest(b"k", standard, "sha256").hex()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's row key (migration core 0003)")
def test_on_sqlite_the_sequence_number_is_the_row_key_and_stays_unique(chain):
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'core_auditentry' "
                    "AND sql IS NULL")  # SQLite's own indexes (for a primary key that is not the row key)
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*) FROM core_auditentry WHERE rowid <> seq")
        assert cur.fetchone()[0] == 0
    first = AuditEntry.objects.order_by("seq").first()
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEntry.objects.create(**{f.attname: getattr(first, f.attname) for f in AuditEntry._meta.fields})
    assert audit_verify().ok
