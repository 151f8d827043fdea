from __future__ import annotations

import pytest

from tests.conftest import create_user


@pytest.fixture
def wendeng_section_head(org):
    return create_user(unit=org.wendeng, roles=(("section_head", "subtree"),))


@pytest.fixture
def wendeng_handler(org):
    return create_user(unit=org.wendeng, roles=(("handler", "subtree"),))


@pytest.fixture
def rongcheng_section_head(org):
    return create_user(unit=org.rongcheng, roles=(("section_head", "subtree"),))
