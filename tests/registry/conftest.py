"""Fixtures shared by the registry's import tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def media(tmp_path, settings):
    """Uploaded files, spools and reports under the test's own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path
