"""Data scope follows the unit tree and the jurisdiction; out of scope looks exactly like missing."""

from __future__ import annotations

import pytest
from django.http import Http404

from jianguan.core.access import access_unit_list, data_scope, get_in_scope_or_404, has_role
from jianguan.core.models import Job, Unit
from tests.conftest import create_user


def test_county_leader_sees_own_bureau_and_stations_but_not_the_neighbouring_county(org):
    leader = create_user(unit=org.wendeng, roles=[("leader", "subtree")])
    visible = set(access_unit_list(leader).values_list("code", flat=True))
    assert {"371003-samr", "371003-station-龙山", "371003-tax"} <= visible
    assert "371082-samr" not in visible
    assert "371000-samr" not in visible


def test_city_leader_sees_every_county_below(org):
    leader = create_user(unit=org.weihai, roles=[("leader", "subtree")])
    visible = set(access_unit_list(leader).values_list("code", flat=True))
    assert {"371000-samr", "371003-samr", "371082-samr"} <= visible


def test_unit_scope_covers_only_the_unit_itself(org):
    user = create_user(unit=org.station, roles=[("handler", "unit")])
    scope = data_scope(user)
    assert Unit.objects.filter(scope.units_q(unit_field="")).get() == org.station


def test_jurisdiction_prefix_of_a_city_covers_its_counties(org):
    scope = data_scope(create_user(unit=org.weihai, roles=[("leader", "subtree")]))
    assert scope.covers_division("371003") and scope.covers_division("371082")
    assert not scope.covers_division("370102")


def test_scope_all_sees_everything(org):
    scope = data_scope(create_user(unit=org.weihai, roles=[("auditor", "all")]))
    assert scope.everything and scope.covers_division("110101")


def test_a_record_outside_scope_raises_404_like_a_missing_one(org):
    other = create_user(unit=org.rongcheng, roles=[("handler", "subtree")])
    job = Job.objects.create(kind="x", title="文登任务", unit=org.wendeng)
    scope = data_scope(other)
    with pytest.raises(Http404):
        get_in_scope_or_404(Job.objects.all(), scope.units_q("unit"), pk=job.pk)
    with pytest.raises(Http404):
        get_in_scope_or_404(Job.objects.all(), scope.units_q("unit"), pk=999999)


def test_user_without_roles_sees_nothing(org):
    user = create_user(unit=org.wendeng, roles=[])
    assert data_scope(user).empty
    assert not has_role(user, "handler")


def test_other_countys_job_page_is_404(client, org):
    wendeng_job = Job.objects.create(kind="x", title="文登任务", unit=org.wendeng)
    rongcheng = create_user(unit=org.rongcheng, roles=[("handler", "subtree")])
    client.force_login(rongcheng)
    assert client.get(f"/staff/jobs/{wendeng_job.pk}/").status_code == 404
    assert client.get("/staff/jobs/987654/").status_code == 404


def test_audit_page_is_hidden_from_handlers(client, org):
    client.force_login(create_user(unit=org.wendeng, roles=[("handler", "subtree")]))
    assert client.get("/staff/audit/").status_code == 404


def test_scope_all_lists_every_unit_including_bureaus(org):
    admin = create_user(unit=org.weihai, roles=[("admin", "all")])
    assert access_unit_list(admin).count() == Unit.objects.count()
