"""The bureau tree is built from the GB/T 2260 table."""

from __future__ import annotations

from jianguan.core.models import Division, Unit
from jianguan.core.services import org_bootstrap


def test_reference_divisions_are_loaded_after_migrate(db):
    wendeng = Division.objects.get(code="371003")
    assert wendeng.name == "文登区" and wendeng.parent_id == "371000"
    assert wendeng.full_name == "山东省威海市文登区"
    assert Division.objects.filter(level="city", parent_id="370000", current=True).count() == 16
    assert not Division.objects.get(code="371081").current  # 文登市, before it became a district in 2014


def test_bootstrap_creates_a_bureau_for_every_shandong_county_with_stations_and_partners(db):
    summary = org_bootstrap("370000", partner_counties=["371003"])
    counties = Division.objects.filter(level="county", current=True, code__startswith="37").count()
    assert summary.bureaus == 1 + 16 + counties
    assert Unit.objects.get(code="371003-samr").name == "威海市文登区市场监督管理局"
    assert Unit.objects.get(code="371082-samr").name == "荣成市市场监督管理局"
    assert Unit.objects.filter(code__startswith="371003-station-").count() == 5
    assert Unit.objects.get(code="371003-fire").name == "威海市文登区消防救援大队"
    station = Unit.objects.filter(code__startswith="371003-station-").first()
    assert station.path.startswith(Unit.objects.get(code="371003-samr").path)


def test_bootstrap_twice_changes_nothing(db):
    org_bootstrap("370000")
    again = org_bootstrap("370000")
    assert (again.bureaus, again.stations) == (0, 0)
