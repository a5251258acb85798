from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def fast_hashing(settings: Any) -> None:
    """A password hash costs a few hundred milliseconds by design, and these tests type
    dozens of passwords; what they test is not the hash."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
