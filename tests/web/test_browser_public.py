"""In Chromium against `tisser serve`: the public page a slip's QR code opens, read by
someone who is not signed in, and the reports page a clinician reads. axe-core finds
nothing serious; nothing is wider than a phone's screen; screenshots to look at."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.faults.conftest import wait_until
from tests.web.test_browser_accounts import DESKTOP, PHONE, first_password_replaced
from tests.web.test_browser_journeys import looked_at, sign_in

pytestmark = pytest.mark.subprocess


def test_the_qr_page_and_the_reports_page(tisser: Any, browser: Any, screenshot: Any) -> None:
    instance, key = tisser
    _, base = instance.serve()
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    filed = api.post(
        "/api/v1/referrals",
        json={
            "patient_ref": "web-qr-1",
            "first_name": "Odette",
            "year_of_birth": 1950,
            "postcode": "69002",
            "needs": ["walking-group"],
            "max_distance_km": 10,
            "consent": {"given": True, "method": "verbal", "at": datetime.now(UTC).isoformat()},
        },
    )
    assert filed.status_code == 202, filed.text
    url = f"/api/v1/referrals/{filed.json()['id']}"
    wait_until(lambda: api.get(url).json()["stage"] == "slip_ready", timeout=90, what="the slip")
    match = api.get(url).json()["matches"][0]

    # Whoever scans the code: no sign-in, on a phone first.
    for viewport, size in ((PHONE, "phone"), (DESKTOP, "desktop")):
        context = browser.new_context(viewport=viewport, locale="fr-FR")
        page = context.new_page()
        answer = page.goto(f"{base}/a/{match['service_at_location_id']}")
        assert answer is not None
        assert answer.status == 200
        main = page.get_by_role("main").inner_text()
        assert match["activity"] in main
        assert "Prochaines séances" in main
        assert "Odette" not in page.content()
        looked_at(page, screenshot, f"public-activity-{size}")
        page.get_by_role("link", name="English").click()
        page.get_by_text("Next sessions").wait_for()
        looked_at(page, screenshot, f"public-activity-en-{size}")
        # In Arabic, as the code of an Arabic slip opens it: right to left.
        page.goto(f"{base}/a/{match['service_at_location_id']}?lang=ar")
        assert page.locator("html").get_attribute("dir") == "rtl"
        assert "المواعيد القادمة" in page.get_by_role("main").inner_text()
        looked_at(page, screenshot, f"public-activity-ar-{size}")
        gone = page.goto(f"{base}/a/{uuid.uuid4()}")
        assert gone is not None
        assert gone.status == 404
        looked_at(page, screenshot, f"public-activity-gone-{size}")
        context.close()

    printed = instance.run("create-user", "c.durand", "--center", "Centre de test")
    password = first_password_replaced(browser, base, "c.durand", printed.strip().splitlines()[-1])
    for viewport, size in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = sign_in(browser, base, "c.durand", password, viewport)
        page.get_by_role("link", name="Rapports").first.click()
        page.wait_for_url(f"{base}/app/reports/")
        assert "Du dépôt à la participation" in page.get_by_role("main").inner_text()
        looked_at(page, screenshot, f"reports-{size}")
        with page.expect_download() as download:
            name = "Télécharger « Du dépôt à la participation » en CSV"
            page.get_by_role("link", name=name).click()
        assert download.value.suggested_filename.startswith("tisser-funnel-")
