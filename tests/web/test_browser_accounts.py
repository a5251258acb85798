"""In Chromium, against `tisser serve`: a person signs in with the login an operator
created, using the keyboard alone; the pages pass axe-core with no serious or critical
violation, in French and in English, on a desktop and on a phone-sized screen."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.subprocess

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}


def serious_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_a_clinician_signs_in_with_the_keyboard_alone(tisser, browser, screenshot) -> None:
    instance, _ = tisser
    password = instance.run("create-user", "c.martin", "--center", "Centre de test")
    password = password.strip().splitlines()[-1]
    _, base = instance.serve()

    for viewport, suffix in ((DESKTOP, "desktop"), (PHONE, "phone")):
        context = browser.new_context(viewport=viewport, locale="fr-FR")
        page = context.new_page()
        page.goto(f"{base}/app/")
        assert page.url.endswith("/accounts/login/?next=/app/")
        assert page.locator("html").get_attribute("lang") == "fr"
        assert serious_violations(page) == []
        screenshot(page, f"login-fr-{suffix}")

        # Keyboard only: the username field has the focus; type, Tab, type, Enter.
        page.keyboard.type("c.martin")
        page.keyboard.press("Tab")
        page.keyboard.type(password)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/app/")
        assert page.get_by_role("heading", level=1).inner_text() == "Bienvenue, c.martin"
        assert serious_violations(page) == []
        screenshot(page, f"home-fr-{suffix}")

        page.get_by_role("link", name="Changer de mot de passe").click()
        assert serious_violations(page) == []
        screenshot(page, f"password-fr-{suffix}")

        # The language menu: English.
        page.get_by_label("Langue").select_option("en")
        page.get_by_role("button", name="Changer", exact=True).click()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_role("heading", level=1).inner_text() == "Change password"
        assert serious_violations(page) == []
        screenshot(page, f"password-en-{suffix}")

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{base}/accounts/login/")
        assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
        assert serious_violations(page) == []
        screenshot(page, f"login-en-{suffix}")

        # A wrong password: told so, in a way a screen reader announces.
        page.get_by_label("Username").fill("c.martin")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        assert "not right" in page.get_by_role("alert").inner_text()
        assert serious_violations(page) == []
        screenshot(page, f"login-error-en-{suffix}")
        context.close()
