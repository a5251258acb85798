"""In Chromium against `tisser serve`: a territory coordinator (a staff account) reads the
directory sources after a harvest of data·inclusion's export, and whoever scans a slip
sees where a harvested activity comes from. axe-core finds nothing serious; nothing is
wider than a phone's screen; screenshots to look at."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.harvest.test_data_inclusion import D1, FIXTURE
from tests.web.test_browser_accounts import DESKTOP, PHONE
from tests.web.test_browser_journeys import looked_at, sign_in

pytestmark = pytest.mark.subprocess

PASSWORD = "une phrase de passe pour la coordination 42"


def test_a_coordinator_reads_the_sources_and_the_public_sees_the_provenance(
    tisser: Any, browser: Any, screenshot: Any
) -> None:
    instance, _key = tisser
    instance.run(
        "harvest",
        "add",
        "lyon",
        str(FIXTURE),
        "--kind",
        "data-inclusion",
        "--every",
        "0",
        "--label",
        "data·inclusion, Lyon",
    )
    instance.run("harvest", "run", "lyon")
    instance.run(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user('coordination', password={PASSWORD!r}, is_staff=True)",
    )
    _, base = instance.serve()

    for viewport, size in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = sign_in(browser, base, "coordination", PASSWORD, viewport)
        page.goto(f"{base}/app/harvest/")
        main = page.get_by_role("main").inner_text()
        assert "lyon" in main
        assert "9 nouvelles" in main, main
        looked_at(page, screenshot, f"harvest-sources-{size}")
        page.get_by_role("link", name="lyon").click()
        page.wait_for_url(f"{base}/app/harvest/lyon/")
        source = page.get_by_role("main").inner_text()
        assert "dora--yoga-du-rire" in source
        assert "structure.siret" in source
        looked_at(page, screenshot, f"harvest-source-{size}")
        page.context.close()

    # The public page of a harvested activity, found through the public HSDS API.
    services = httpx.get(f"{base}/hsds/services", params={"search": D1, "full": "true"}).json()
    [service] = [s for s in services["contents"] if s["name"] == D1]
    place = service["service_at_locations"][0]["id"]
    for viewport, size in ((PHONE, "phone"), (DESKTOP, "desktop")):
        context = browser.new_context(viewport=viewport, locale="fr-FR")
        page = context.new_page()
        page.goto(f"{base}/a/{place}")
        main = page.get_by_role("main").inner_text()
        assert "data·inclusion, Lyon" in main, main
        looked_at(page, screenshot, f"public-activity-harvested-{size}")
        context.close()
