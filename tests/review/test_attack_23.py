"""An attacker's review of the move to one app per concern (issue 23): registration in
every process, admin redirects, paging headers, stored reasons, moved content types.
Each test states the outcome a safe product gives; those marked "(finding)" failed on
the first version of the change and were fixed after the review."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from tests.conftest import ApiClient

ROOT = Path(__file__).resolve().parents[2]


# --- Registration: every process that sets Django up has every hook ------------------

_REGISTRIES = r"""
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if sys.argv[1] == "worker":
    import workers.entry  # what `tisser worker` (dramatiq's CLI) imports
else:
    import django
    django.setup()
from accounts import audit
from community_catalog import changes
from events import outbox
from referrals import retention
print(json.dumps({
    "handlers": sorted(outbox.EVENT_HANDLERS),
    "recorded": sorted(h.__qualname__ for h in outbox._recorded_hooks),
    "audiences": sorted(outbox._audiences),
    "erasure": sorted(h.__qualname__ for h in retention._erasure_hooks),
    "services_changed": sorted(h.__qualname__ for h in changes._hooks),
    "admin_finders": sorted(audit._by_admin_model),
    "kwarg_finders": sorted(audit._by_kwarg),
}))
"""


@pytest.mark.parametrize("process", ["setup", "worker"])
def test_every_process_registers_every_hook(process: str, tmp_path: Path) -> None:
    """Expected: PASS (web, relay, commands and the render child all call django.setup()
    with config.settings; the dramatiq worker imports workers.entry)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["TISSER_DATA_DIR"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", _REGISTRIES, process],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["handlers"] == sorted(
        [
            "capacity.changed",
            "placement.expired",
            "placement.rejected",
            "referral.matched",
            "referral.other_wanted",
            "referral.submitted",
            "referral.unmatched",
        ]
    )
    assert found["recorded"] == [
        "events_schedule",
        "match_index_follow",
        "staff_events_notice",
        "webhook_deliveries_create",
    ]
    assert found["audiences"] == ["service"]
    assert found["erasure"] == ["messages_erase", "slips_erase"]
    assert found["services_changed"] == ["match_points_refresh"]
    assert found["admin_finders"] == [
        "events_event",
        "referrals_placement",
        "referrals_referral",
        "slips_slip",
    ]
    assert found["kwarg_finders"] == ["placement_id"]


@pytest.mark.django_db(transaction=True)
def test_work_is_not_silently_dropped_when_no_handler_is_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Expected: the outbox refuses (or at least leaves pending) a work-triggering event
    when the process never registered its actor. Before the refactor the table lived in
    events' own module; now a process whose settings lack `workers` (or that records an
    event before `workers.apps.ready`) stores `referral.submitted` as processed, and no
    sweep ever publishes it: the referral is never matched. (finding, fixed)."""
    from events import outbox
    from events.models import Event

    monkeypatch.setattr(outbox, "EVENT_HANDLERS", {})
    with transaction.atomic():
        try:
            event = outbox.event_record(
                type="referral.submitted", aggregate_type="referral", aggregate_id=uuid.uuid4()
            )
        except Exception:  # a loud refusal is the safe outcome
            return
    stored = Event.objects.get(id=event.id)
    assert stored.processed_at is None, "work-triggering event stored as processed: lost"


# --- Stored reasons: a row the code did not expect must not be a 500 -----------------


@pytest.mark.parametrize(
    "reason",
    [
        {"code": "language", "params": {"language": 5}},  # AttributeError in language_name
        "Gratuit",  # a row that is not a mapping: AttributeError on .get
        {"code": "accessibility", "params": {"need": ["x"]}},  # TypeError: caught today
    ],
    ids=["int-language", "not-a-mapping", "unhashable-need"],
)
def test_reason_text_never_raises(reason: Any) -> None:
    """Expected: "" (and a log line), as `_text` promises for rows it cannot read.
    int-language and not-a-mapping were findings, fixed."""
    from matching.reasons import reason_text

    assert reason_text(reason, "fr") == ""


@pytest.mark.parametrize(
    "explanation",
    [
        {"code": "distance", "alternatives": 1, "params": {"km": 10**400, "wider": 1, "count": 1}},
        {"code": "capacity", "alternatives": 1, "params": {"km": "%(x)s", "count": 2}},
        {"code": "unmapped", "alternatives": 1, "params": {"km": 3, "count": "many"}},
        {"code": "schedule", "alternatives": 0, "params": {"km": 3, "weeks": 4, "date": 7}},
    ],
    ids=["huge-int", "format-string-in-number", "str-count", "int-date"],
)
def test_explanation_text_never_raises(explanation: dict[str, Any]) -> None:
    """Expected: text or "", never an exception. huge-int was a finding (an
    OverflowError was not among the caught errors), fixed."""
    from matching.reasons import explanation_text

    said = explanation_text(explanation, "fr")
    assert isinstance(said, str)
    assert "%(" not in said  # a parameter is never read as a format


def test_a_reason_without_code_is_skipped_not_a_500() -> None:
    """Before the refactor the matches endpoint kept only reasons with code, fr and en;
    `ReasonOut.of` now indexes `reason["code"]`. Expected: no exception. (A finding, fixed: an
    old or corrupt row turned GET /referrals/{id}/matches into a 500.)"""
    from referrals.schemas import ReasonOut

    ReasonOut.of({"fr": "Gratuit", "en": "Free"})


# --- Paging headers ---------------------------------------------------------------------


@pytest.mark.django_db
def test_link_header_does_not_reflect_unknown_query_parameters(
    catalog: int, api: ApiClient
) -> None:
    """Expected: Link carries only the list's own parameters. It copies request.GET
    whole, so any junk (a token someone put in the URL, 8 KB of padding) is echoed twice
    in a response header. (finding, low, fixed)."""
    junk = "A" * 6000
    response = api.get(f"/api/v1/catalog/services?limit=1&access_token=secret&pad={junk}")
    assert response.status_code == 200
    link = response["Link"]
    assert "access_token" not in link
    assert len(link) < 1024


@pytest.mark.django_db
def test_link_header_cannot_be_split(catalog: int, api: ApiClient) -> None:
    """Expected: PASS (the query is url-encoded; the paged paths have no free text). An
    unknown parameter is used so the search still finds more than one page."""
    response = api.get("/api/v1/catalog/services?limit=1&pad=a%0d%0aSet-Cookie:%20x=1")
    assert response.status_code == 200
    assert "\r" not in response["Link"]
    assert "\n" not in response["Link"]
    assert "Set-Cookie" not in response.headers or "x=1" not in response.headers["Set-Cookie"]


# --- Admin redirects of moved models ---------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/admin/referrals/event//evil.example",
        "/admin/referrals/event/%2F%2Fevil.example",
        "/admin/referrals/slip/%0d%0aSet-Cookie:%20x=1",
        "/admin/referrals/event/%5C%5Cevil.example",
    ],
)
def test_moved_admin_redirects_stay_on_site(client: Any, path: str) -> None:
    """Expected: PASS: a site-relative Location under /admin/<new app>/, no CR/LF. (A
    decoded CR/LF is not matched by `(?P<rest>.*)`: that path is an admin 404, also safe.)"""
    response = client.get(path + "?next=//evil.example")
    if "%0d%0a" in path:
        assert response.status_code == 404
        return
    assert response.status_code == 301
    location = response["Location"]
    assert location.startswith("/admin/")
    assert not location.startswith("//")
    assert "\r" not in location
    assert "\n" not in location
    assert "Set-Cookie" not in response.headers


# --- JSON 404 ---------------------------------------------------------------------------


def test_api_404_is_json_and_not_a_page(client: Any) -> None:
    """Expected: PASS."""
    response = client.get("/api/v1/nope%3Cscript%3E")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"


# --- Moved content types ----------------------------------------------------------------


@pytest.mark.django_db
def test_content_types_follow_survives_a_rollback_and_a_second_upgrade() -> None:
    """After `migrate referrals 0020` (reverse is a no-op), post_migrate recreates the
    referrals.* content types while events.* still exist; migrating forward again runs
    content_types_follow, whose UPDATE then collides with the unique (app_label, model).
    Expected: the forward step succeeds. (finding, low: rollback path, fixed)."""
    from django.apps import apps as global_apps
    from django.contrib.contenttypes.models import ContentType
    from django.utils.module_loading import import_string

    follow = import_string("events.migrations.0001_initial.content_types_follow")
    ContentType.objects.get_for_model(global_apps.get_model("events", "Event"))
    ContentType.objects.create(app_label="referrals", model="event")  # made by the rollback

    class Editor:
        connection = connection

    try:
        with transaction.atomic():
            follow(global_apps, Editor())
    except IntegrityError:
        pytest.fail("migrating forward again after a rollback fails on content types")
