"""In Chromium against `tisser serve`: the public page a slip's QR code opens, read by
someone who is not signed in, and the reports page a clinician reads. axe-core finds
nothing serious; nothing is wider than a phone's screen; screenshots to look at."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from tests.faults.conftest import wait_until
from tests.outreach.test_personal_page import pdf_links
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

    _personal_page_on_a_phone(api, base, browser, screenshot)

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


CLINICAL = "Suivi pour dépression depuis mars."
NOTE = "Votre médecin vous encourage à essayer."


def _personal_page_on_a_phone(api: httpx.Client, base: str, browser: Any, screenshot: Any) -> None:
    """The person's own page, opened from the second QR code of their slip (its link read
    from the PDF, as a phone's camera reads the code): they choose a day, say they went,
    and see nothing clinical."""
    filed = api.post(
        "/api/v1/referrals",
        json={
            "patient_ref": "web-p-1",
            "first_name": "Nadia",
            "year_of_birth": 1979,
            "postcode": "69002",
            "preferred_language": "fr",
            "needs": ["walking-group"],
            "max_distance_km": 10,
            "clinical_reason": CLINICAL,
            "note_for_patient": NOTE,
            "consent": {"given": True, "method": "verbal", "at": datetime.now(UTC).isoformat()},
            "contact": {
                "email": "nadia@example.org",
                "messages_consent": {
                    "given": True,
                    "method": "verbal",
                    "at": datetime.now(UTC).isoformat(),
                },
            },
        },
    )
    assert filed.status_code == 202, filed.text
    url = f"/api/v1/referrals/{filed.json()['id']}"
    wait_until(lambda: api.get(url).json()["stage"] == "slip_ready", timeout=90, what="the slip")
    pdf = PdfReader(io.BytesIO(api.get(f"{url}/slip.pdf").content))
    (personal,) = {link for link in pdf_links(pdf) if "/p/" in link}
    path = personal.split("/p/", 1)[1]
    context = browser.new_context(viewport=PHONE, locale="fr-FR")
    page = context.new_page()
    answer = page.goto(f"{base}/p/{path}")
    assert answer is not None
    assert answer.status == 200
    assert answer.headers["cache-control"] == "no-store"
    content = page.content()
    for secret in (CLINICAL, NOTE, "Centre de test", "web-p-1", "1979"):
        assert secret not in content, secret
    assert "Bonjour Nadia" in page.get_by_role("heading", level=1).inner_text()
    looked_at(page, screenshot, "personal-page-phone")
    # Choosing a day: the first session of the first activity, one tap on the button.
    first = page.locator("section.card").first
    first.get_by_role("radio").first.check()
    first.get_by_role("button", name="Je viendrai ce jour-là").click()
    page.get_by_role("status").wait_for()
    assert (
        "l\N{RIGHT SINGLE QUOTATION MARK}association saura quel jour vous venez"
        in page.get_by_role("status").inner_text()
    )
    assert "Vous avez dit que vous viendrez le" in page.locator("section.card").first.inner_text()
    looked_at(page, screenshot, "personal-page-chosen-phone")
    page.locator("section.card").first.get_by_role(
        "button", name="J\N{RIGHT SINGLE QUOTATION MARK}ai pu y aller"
    ).click()
    page.get_by_role("status").wait_for()
    assert "Vous nous avez dit que vous avez pu y aller." in page.get_by_role("main").inner_text()
    # The organisation sees the day chosen, the centre what the person said.
    placement = api.get(url).json()["placements"][0]
    assert placement["patient_report"] == "went"
    assert placement["chosen_session"] is not None
    # In Arabic: right to left, on a phone.
    page.goto(f"{base}/p/{path}?lang=ar")
    assert page.locator("html").get_attribute("dir") == "rtl"
    looked_at(page, screenshot, "personal-page-ar-phone")
    # A wrong token: the same page as any closed one, nothing about anyone.
    gone = page.goto(f"{base}/p/{path[:-2]}xx")
    assert gone is not None
    assert gone.status == 404
    looked_at(page, screenshot, "personal-page-gone-phone")
    context.close()
