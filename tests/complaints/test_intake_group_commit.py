"""Group commit at intake: several submissions in one transaction, each acknowledged only once committed."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, connections

from jianguan.complaints import services as svc
from jianguan.complaints.models import Case, Flag, IdempotencyKey
from jianguan.core.audit import audit_verify
from jianguan.core.models import AuditEntry
from tests.complaints.conftest import at, create_entity, intake_data


def prepared(staff, now, **kw) -> svc.PreparedIntake:
    """A validated submission with its unsaved cases, exactly as `case_register` builds it."""
    data = intake_data(**kw)
    errors, entity = svc.validate_intake(data, now=now)
    assert not errors
    unit = svc._intake_unit_for(staff.clerk, entity)
    cases = [svc._build_case(data, data.kind, data.facts, entity, unit, staff.clerk)]
    if data.report_facts:
        cases.append(svc._build_case(data, "report", data.report_facts, entity, unit, staff.clerk))
    return svc.PreparedIntake(data, cases, staff.clerk)


def test_a_group_is_written_in_one_transaction_with_one_audit_entry_per_case(staff, now):
    entity = create_entity()
    group = [prepared(staff, now, respondent_uscc=entity.uscc, complainant_phone=f"1391234560{i}",
                      complainant_address=f"威海市文登区天福路{i}号") for i in range(4)]
    group.append(prepared(staff, now, respondent_uscc=entity.uscc, complainant_phone="13912345609",
                          complainant_address="威海市文登区天福路9号", report_facts="该店销售过期食品"))
    entries_before = AuditEntry.objects.count()

    svc._write_batch(group)

    cases = [c for item in group for c in item.cases]
    assert all(item.done and item.error is None for item in group)
    assert Case.objects.filter(pk__in=[c.pk for c in cases]).count() == 6
    assert len({c.tracking_number for c in cases}) == 6
    assert AuditEntry.objects.count() == entries_before + 6
    assert set(AuditEntry.objects.filter(action="register").values_list("object_id", flat=True)) >= {
        str(c.pk) for c in cases}
    complaint, report = group[-1].cases
    complaint.refresh_from_db()
    report.refresh_from_db()
    assert (complaint.related_id, report.related_id, report.kind) == (report.pk, complaint.pk, "report")
    assert audit_verify().ok


def test_flags_within_a_group_are_what_one_by_one_registration_finds(staff, now):
    entity = create_entity()
    first = svc.case_register(intake_data(respondent_uscc=entity.uscc, received_at=at("2026-09-01T10:00:00+08:00")),
                              actor=staff.clerk, now=now)[0]
    # Two more complaints by the same person against the same operator arrive together: the second of them is the
    # third in 30 days (art. 17 (2)); a different person sharing the phone is flagged as a shared contact.
    group = [prepared(staff, now, respondent_uscc=entity.uscc, received_at=at("2026-09-10T10:00:00+08:00")),
             prepared(staff, now, respondent_uscc=entity.uscc),
             prepared(staff, now, respondent_name="乙店", respondent_address="文登区某路", complainant_name="王五")]

    svc._write_batch(group)

    second, third, other = (item.cases[0] for item in group)
    assert [f.code for f in second.intake_flags] == []
    assert [f.code for f in third.flags.all()] == ["same_person_same_operator"]
    assert set(third.flags.get().evidence) == {first.tracking_number, second.tracking_number}
    assert [f.code for f in other.flags.all()] == ["shared_contact"]
    assert Case.objects.get(pk=third.pk).flag_count == 1 and Case.objects.get(pk=second.pk).flag_count == 0


def test_one_faulty_submission_fails_alone_and_the_rest_of_its_group_is_written(staff, now):
    entity = create_entity()
    first = svc.case_register(intake_data(respondent_uscc=entity.uscc), actor=staff.clerk, now=now)[0]
    IdempotencyKey.objects.create(owner="key:1", key="taken", case=first, response={})

    def remember(key):
        return lambda cases: [IdempotencyKey(owner="key:1", key=key, case=cases[0], response={})]

    group = [prepared(staff, now, respondent_uscc=entity.uscc, complainant_phone=f"1381234500{i}") for i in range(3)]
    group[0].also, group[1].also, group[2].also = remember("a"), remember("taken"), remember("b")

    svc.IntakeGroupCommit()._write(group)

    assert group[0].error is None and group[2].error is None
    assert isinstance(group[1].error, IntegrityError)
    assert all(item.done for item in group)
    assert Case.objects.filter(pk__in=[group[0].cases[0].pk, group[2].cases[0].pk]).count() == 2
    assert not Case.objects.filter(tracking_number=group[1].cases[0].tracking_number).exists()
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"taken", "a", "b"}
    assert audit_verify().ok


def test_inside_a_transaction_group_commit_is_not_used(staff, now):
    # An import registers its rows inside its own transaction: nobody else's submission may join it.
    groups = svc.INTAKE_GROUP.groups
    assert connection.in_atomic_block  # the test's transaction
    [case] = svc.case_register(intake_data(respondent_name="甲店", respondent_address="文登区某路"), actor=staff.clerk,
                               now=now, group_commit=True)
    assert Case.objects.filter(pk=case.pk).exists() and svc.INTAKE_GROUP.groups == groups


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_are_all_committed_and_audited(staff, now):
    entity = create_entity()
    group_commit = svc.IntakeGroupCommit()
    results: dict[int, list[Case] | BaseException] = {}
    start = threading.Barrier(8)

    def submit(i: int) -> None:
        try:
            start.wait()
            data = intake_data(respondent_uscc=entity.uscc, complainant_phone=f"137{i:08d}",
                               complainant_address=f"威海市文登区昆嵛路{i}号")
            errors, found = svc.validate_intake(data, now=now)
            assert not errors
            unit = svc._intake_unit_for(staff.clerk, found)
            item = svc.PreparedIntake(data, [svc._build_case(data, "complaint", data.facts, found, unit, staff.clerk)],
                                      staff.clerk)
            group_commit.submit(item)
            results[i] = item.error or item.cases
        except BaseException as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(r, list) for r in results.values()), results
    numbers = [r[0].tracking_number for r in results.values()]
    assert len(numbers) == 8 and Case.objects.filter(tracking_number__in=numbers).count() == 8
    assert group_commit.items == 8 and 1 <= group_commit.groups <= 8
    ids = {str(r[0].pk) for r in results.values()}
    assert AuditEntry.objects.filter(action="register", object_id__in=ids).count() == 8
    assert audit_verify().ok
    assert not Flag.objects.exists()
