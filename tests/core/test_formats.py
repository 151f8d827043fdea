"""Counts read the same on every page and in both languages: grouped by three with a comma."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.utils import translation


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_intcomma_groups_counts_by_three_with_a_comma(language):
    template = Template("{% load humanize %}{{ a|intcomma }} / {{ b|intcomma }} / {{ c|intcomma }}")
    with translation.override(language):
        assert template.render(Context({"a": 100000, "b": 1234567, "c": 999})) == "100,000 / 1,234,567 / 999"


def test_plain_numbers_are_not_grouped():
    """Only intcomma groups: a number printed as it is (an id, a year, a form's value) stays as it is."""
    with translation.override("zh-hans"):
        assert Template("{{ n }}").render(Context({"n": 2026123})) == "2026123"
