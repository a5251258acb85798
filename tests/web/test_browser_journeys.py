"""The two journeys the web pages are for, in Chromium against `tisser serve`:

- a clinician files a referral with the form, watches it progress without reloading,
  and downloads its slip;
- an organisation accepts the placement in its inbox and marks the activity full.

Every page on the way passes axe-core with no serious or critical violation, on a
desktop and on a phone-sized screen, and is saved as a screenshot to look at.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.faults.conftest import wait_until
from tests.web.test_browser_accounts import (
    DESKTOP,
    PHONE,
    first_password_replaced,
    serious_violations,
)

pytestmark = pytest.mark.subprocess


def sign_in(browser: Any, base: str, username: str, password: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{base}/app/")
    return page


def looked_at(page: Any, screenshot: Any, name: str) -> None:
    """axe-core finds nothing serious, and the page is kept as a picture."""
    screenshot(page, name)
    assert serious_violations(page) == [], name
    # Nothing wider than the screen: no sideways scrolling on a phone.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{name}: {width}px wide"


def test_a_clinician_files_a_referral_and_downloads_its_slip(
    tisser: Any, browser: Any, screenshot: Any, tmp_path: Any
) -> None:
    instance, _key = tisser
    password = instance.run("create-user", "c.martin", "--center", "Centre de test")
    _, base = instance.serve()
    password = first_password_replaced(browser, base, "c.martin", password.strip().splitlines()[-1])

    page = sign_in(browser, base, "c.martin", password, DESKTOP)
    looked_at(page, screenshot, "center-home-desktop")
    page.get_by_role("link", name="Déposer une orientation").first.click()
    page.wait_for_url(f"{base}/app/referrals/new/")
    looked_at(page, screenshot, "referral-form-desktop")

    # Sent empty: every problem is listed, linked to its field, and announced.
    page.get_by_role("button", name="Déposer l'orientation").click()
    assert "Certaines réponses sont à revoir" in page.get_by_role("alert").inner_text()
    looked_at(page, screenshot, "referral-form-errors-desktop")

    page.get_by_label("Prénom", exact=True).fill("Josiane")
    page.get_by_label("Année de naissance").fill("1948")
    page.get_by_label("Langue que la personne lit le mieux").select_option("fr")
    page.get_by_label("Code postal où vit la personne").fill("69002")
    page.get_by_label("Isolement").check()
    page.get_by_label("Groupe de marche").check()
    page.get_by_label("Mardi, Après-midi").check()
    page.get_by_label("Distance possible pour se déplacer").select_option("10")
    page.get_by_label("Imprimer le bon en gros caractères").check()
    page.get_by_label("Un mot pour la personne, imprimé sur le bon (facultatif)").fill(
        "Allez-y une première fois, sans engagement."
    )
    page.get_by_label("La personne accepte d'être orientée", exact=False).check()
    page.get_by_role("button", name="Déposer l'orientation").click()
    page.wait_for_url(f"{base}/app/referrals/*/")
    assert "Orientation déposée" in page.get_by_role("status").first.inner_text()

    # The page follows the pipeline by itself (htmx), until the slip is ready.
    page.get_by_text("Le bon est prêt.").wait_for(timeout=90_000)
    looked_at(page, screenshot, "referral-ready-desktop")
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger le bon").click()
    slip = download.value
    assert slip.suggested_filename.startswith("tisser-")
    assert slip.suggested_filename.endswith(".pdf")
    saved = tmp_path / slip.suggested_filename
    slip.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")

    page.get_by_role("link", name="Orientations", exact=True).click()
    assert "Josiane" in page.get_by_role("main").inner_text()
    looked_at(page, screenshot, "referral-list-desktop")
    today = page.request.get(f"{base}/app/slips/today.pdf")
    assert today.headers["content-type"] == "application/pdf"
    assert today.body().startswith(b"%PDF")
    detail = page.url

    # The same pages on a phone.
    phone = sign_in(browser, base, "c.martin", password, PHONE)
    for path, name in (
        ("/app/", "center-home-phone"),
        ("/app/referrals/new/", "referral-form-phone"),
        ("/app/referrals/", "referral-list-phone"),
    ):
        phone.goto(f"{base}{path}")
        looked_at(phone, screenshot, name)
    phone.goto(detail)
    phone.get_by_role("link", name="Josiane", exact=False).first.click()
    phone.get_by_text("Le bon est prêt.").wait_for()
    looked_at(phone, screenshot, "referral-ready-phone")


def test_an_organisation_accepts_a_placement_and_marks_an_activity_full(
    tisser: Any, browser: Any, screenshot: Any
) -> None:
    instance, key = tisser
    _, base = instance.serve()
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    filed = api.post(
        "/api/v1/referrals",
        json={
            "patient_ref": "web-001",
            "first_name": "Marcel",
            "year_of_birth": 1952,
            "postcode": "69002",
            "needs": ["walking-group"],
            "max_distance_km": 10,
            "note_for_organization": "Marche lentement.",
            "consent": {"given": True, "method": "verbal", "at": datetime.now(UTC).isoformat()},
        },
    )
    assert filed.status_code == 202, filed.text
    url = f"/api/v1/referrals/{filed.json()['id']}"
    wait_until(lambda: api.get(url).json()["stage"] == "slip_ready", timeout=90, what="the slip")
    placement = api.get(url).json()["placements"][0]
    password = instance.run("create-user", "o.petit", "--org", placement["organization"])
    password = first_password_replaced(browser, base, "o.petit", password.strip().splitlines()[-1])

    page = sign_in(browser, base, "o.petit", password, DESKTOP)
    looked_at(page, screenshot, "organization-home-desktop")
    page.get_by_role("link", name="Demandes reçues").first.click()
    card = page.locator(f"#placement-{placement['id']}")
    assert "Marcel" in card.inner_text()
    assert "Marche lentement." in card.inner_text()
    looked_at(page, screenshot, "inbox-desktop")

    # Accept: the card changes in place, without reloading the page.
    card.get_by_role("button", name="Accepter").click()
    card.get_by_text("Acceptée").wait_for()
    assert card.get_by_role("button", name="A commencé").is_visible()
    looked_at(page, screenshot, "inbox-accepted-desktop")
    assert api.get(url).json()["placements"][0]["status"] == "accepted"

    # The activity is full: one click on the activities page.
    page.get_by_role("link", name="Activités", exact=True).click()
    looked_at(page, screenshot, "activities-desktop")
    sal_id = placement_sal(api, url)
    group = page.locator(f"#capacity-{sal_id}")
    group.get_by_role("button", name="Marquer complet").click()
    group.get_by_text("Complet", exact=True).wait_for()
    assert group.get_by_role("button", name="Places disponibles").is_visible()
    looked_at(page, screenshot, "activities-full-desktop")
    page.reload()
    assert "Complet" in page.locator(f"#capacity-{sal_id}").inner_text()

    # Every other page of the organisation, on a desktop and on a phone.
    page.get_by_role("link", name=placement["activity"]).first.click()
    looked_at(page, screenshot, "activity-edit-desktop")
    page.get_by_text("Ajouter une séance").first.click()  # opens the form
    looked_at(page, screenshot, "activity-session-form-desktop")
    phone = sign_in(browser, base, "o.petit", password, PHONE)
    for path, name in (
        ("/app/places/", "places"),
        ("/app/places/new/", "place-new"),
        ("/app/activities/new/", "activity-new"),
        ("/app/import/", "import"),
        ("/app/referrals/", "wrong-party"),
    ):
        page.goto(f"{base}{path}")
        looked_at(page, screenshot, f"{name}-desktop")
        phone.goto(f"{base}{path}")
        looked_at(phone, screenshot, f"{name}-phone")
    for path, name in (
        ("/app/inbox/?show=all", "inbox-phone"),
        ("/app/activities/", "activities-phone"),
    ):
        phone.goto(f"{base}{path}")
        looked_at(phone, screenshot, name)

    # An HSDS file: first what it would change, then applied.
    page.goto(f"{base}/app/import/")
    new_service = {
        "id": str(uuid.uuid4()),
        "name": "Atelier d'écriture",
        "description": "On écrit ensemble, sans se juger.",
        "status": "active",
    }
    page.get_by_label("Fichier HSDS (JSON)").set_input_files(
        files=[
            {
                "name": "annuaire.json",
                "mimeType": "application/json",
                "buffer": json.dumps([new_service]).encode(),
            }
        ]
    )
    page.get_by_role("button", name="Voir les changements").click()
    assert "Atelier d'écriture" in page.get_by_role("main").inner_text()
    looked_at(page, screenshot, "import-preview-desktop")
    page.get_by_role("button", name="Appliquer ces changements").click()
    page.wait_for_url(f"{base}/app/activities/")
    assert "Import terminé. Nouvelles : 1 ;" in page.get_by_role("status").inner_text()
    assert page.get_by_role("link", name="Atelier d'écriture").is_visible()


def placement_sal(api: httpx.Client, url: str) -> str:
    """The service_at_location the referral's first placement is for."""
    referral = api.get(url).json()
    first = referral["placements"][0]
    return next(
        m["service_at_location_id"]
        for m in referral["matches"]
        if m["service_id"] == first["service_id"] and m["rank"] == first["rank"]
    )
