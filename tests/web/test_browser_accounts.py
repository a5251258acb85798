"""In Chromium, against `tisser serve`: a person signs in with the login an operator
created, using the keyboard alone; the pages pass axe-core with no serious or critical
violation, in French and in English, on a desktop and on a phone-sized screen."""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults.conftest import wait_until

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


def first_password_replaced(
    browser: Any, base: str, username: str, printed: str, screenshot: Any = None
) -> str:
    """Signs in with the password `tisser create-user` printed: every page sends the
    person to choose their own, which they do. Returns it."""
    own = f"une phrase de passe à {username} 42"
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(printed)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{base}/accounts/password/")
    if screenshot is not None:
        assert serious_violations(page) == []
        screenshot(page, "first-password-fr-desktop")
    page.get_by_label("Ancien mot de passe").fill(printed)
    page.get_by_label("Nouveau mot de passe", exact=True).fill(own)
    page.get_by_label("Confirmation du nouveau mot de passe").fill(own)
    page.get_by_role("button", name="Changer de mot de passe").click()
    page.wait_for_url(f"{base}/accounts/password/done/")
    context.close()
    return own


def test_a_clinician_signs_in_with_the_keyboard_alone(tisser, browser, screenshot) -> None:
    instance, _ = tisser
    printed = instance.run("create-user", "c.martin", "--center", "Centre de test")
    _, base = instance.serve()
    password = first_password_replaced(
        browser, base, "c.martin", printed.strip().splitlines()[-1], screenshot
    )

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


def test_an_invitation_and_a_forgotten_password_by_email(tisser, browser, screenshot) -> None:
    """Issue 26: `tisser create-user --email` sends a link to choose a password (no
    password printed); the sign-in page's "Forgotten password?" sends another. Through
    a real SMTP server (aiosmtpd), in Chromium, axe clean."""
    import re
    import socket

    from aiosmtpd.controller import Controller

    from tests.transports import Inbox
    from tests.web.test_browser_journeys import looked_at

    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    mail = {
        "TISSER_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "TISSER_MAIL_FROM": "Tisser <no-reply@tisser.example.org>",
    }
    try:
        instance, _ = tisser
        _, base = instance.serve(**mail)
        printed = instance.run(
            "create-user",
            "b.leroy",
            "--center",
            "Centre de test",
            "--email",
            "b.leroy@example.org",
            TISSER_PUBLIC_URL=base,
            **mail,
        )
        assert "Invitation sent to b.leroy@example.org" in printed
        (invitation,) = inbox.messages
        link = re.search(r"http://\S+/accounts/password/reset/\S+/", invitation.get_content())
        assert link, invitation.get_content()
        context = browser.new_context(viewport=PHONE, locale="fr-FR")
        page = context.new_page()
        page.goto(link.group(0))
        page.get_by_role("heading", name="Choisissez votre mot de passe").wait_for()
        looked_at(page, screenshot, "invitation-password-phone")
        own = "une phrase de passe choisie 42"
        page.get_by_label("Nouveau mot de passe", exact=True).fill(own)
        page.get_by_label("Confirmation du nouveau mot de passe").fill(own)
        page.get_by_role("button", name="Enregistrer le mot de passe").click()
        page.get_by_role("heading", name="Mot de passe enregistré").wait_for()
        # Forgotten later: from the sign-in page.
        page.goto(f"{base}/accounts/login/")
        page.get_by_role("link", name="Mot de passe oublié ?").click()
        page.get_by_label("Adresse e-mail").fill("b.leroy@example.org")
        looked_at(page, screenshot, "password-reset-phone")
        page.get_by_role("button", name="Envoyer le lien").click()
        page.get_by_role("heading", name="Regardez vos e-mails").wait_for()
        looked_at(page, screenshot, "password-reset-sent-phone")
        wait_until(lambda: len(inbox.messages) == 2, timeout=30, what="the reset e-mail")
        reset = re.search(r"/accounts/password/reset/\S+/", inbox.messages[1].get_content())
        assert reset
        page.goto(f"{base}{reset.group(0)}")
        page.get_by_label("Nouveau mot de passe", exact=True).fill(own + " bis")
        page.get_by_label("Confirmation du nouveau mot de passe").fill(own + " bis")
        page.get_by_role("button", name="Enregistrer le mot de passe").click()
        page.get_by_role("heading", name="Mot de passe enregistré").wait_for()
        page.goto(f"{base}/accounts/login/")
        page.get_by_label("Identifiant").fill("b.leroy")
        page.get_by_label("Mot de passe", exact=True).fill(own + " bis")
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(f"{base}/app/")
        context.close()
    finally:
        controller.stop()
