"""Bad input on the personal page (review of issue 25): never a 500, never elsewhere."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import ApiClient
from tests.review.test_attack_25 import slipped

pytestmark = pytest.mark.django_db


def test_bad_inputs(api: ApiClient, catalog: int, client: Any) -> None:
    client.raise_request_exception = False
    _r, token, placement = slipped(api)
    long = "A" * 10_000
    out = {}
    for path, data in [
        (f"/p/{long}", None),
        (f"/p/{long}/choose", {"activity": str(placement.id), "session": ""}),
        (f"/p/{long}/answer", {"activity": str(placement.id), "answer": "went"}),
        (f"/p/{long}/other", {}),
        (f"/p/{long}/stop", {}),
        (f"/p/{token}/choose", {"activity": "not-a-uuid", "session": ""}),
        (f"/p/{token}/choose", {"activity": str(uuid.uuid4()), "session": ""}),
        (f"/p/{token}/choose", {"activity": str(placement.id), "session": "2026-12-09T14:00:00"}),
        (
            f"/p/{token}/choose",
            {"activity": str(placement.id), "session": "2026-12-09T14:00:00+25:00"},
        ),
        (
            f"/p/{token}/choose",
            {"activity": str(placement.id), "session": "2026-02-30T14:00:00+01:00"},
        ),
        (f"/p/{token}/answer", {"activity": str(placement.id), "answer": "maybe"}),
        (f"/p/{token}?lang=//evil.example", None),
    ]:
        resp = client.get(path) if data is None else client.post(path, data)
        out[(path[:40], str(data)[:90])] = (resp.status_code, resp.get("Location", ""))
    assert all(code < 500 for code, _ in out.values()), out
    # Every answer stays on the person's page: no redirect elsewhere.
    assert all(not where or where.startswith("/p/") for _, where in out.values()), out
