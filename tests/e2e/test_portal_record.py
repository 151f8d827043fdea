"""A citizen finds an enterprise on the portal and reads its public record — never the operator's phone."""

from __future__ import annotations

import pytest

from tests.registry.factories import create_entity


@pytest.mark.django_db(transaction=True)
def test_citizen_searches_by_name_and_sees_the_public_record_without_the_phone(page, live_server):
    entity = create_entity(name="文登区鑫源日用品店", kind="individual", phone="13906310001",
                           legal_representative="王建国")
    page.goto(f"{live_server.url}/enterprises/")
    page.fill("input[name=q]", "鑫源日用")
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    page.get_by_role("link", name="文登区鑫源日用品店").click()
    page.wait_for_load_state("networkidle")
    body = page.locator("body").inner_text()
    assert entity.uscc in body
    assert "13906310001" not in body
    assert "王建国" not in body  # an individual operator's name is masked on the portal
    assert page.console_errors == []
