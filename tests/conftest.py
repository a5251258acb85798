"""Personas and real components shared by the test suite.

The suite runs on whatever the environment configures: the embedded default (SQLite, the
in-memory broker) or `DATABASE_URL` on PostgreSQL and `REDIS_URL` on Redis. Nothing is
mocked: workers are real dramatiq workers on the configured broker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import dramatiq
import pytest
from django.test import Client

from accounts.keys import health_center_create
from accounts.models import HealthCenter
from community_catalog.demo_data import demo_catalog_load
from community_catalog.services import organization_create
from core.caches import process_caches_clear
from referrals.models import Referral

# Real transports (an SMTP server, a stand-in for an SMS provider's API): fixtures `smtp`
# and `sms_api`.
pytest_plugins = ["tests.transports"]

# Tests that say the same on either backend run on one pass only: CI runs the embedded
# pass and the PostgreSQL pass side by side (.ci/run), and each minute run twice is a
# minute of CI. By path, from the repository's root: on the embedded pass (the default a
# newcomer runs), the browser tests and the web pages' forms, the cost reader and
# schedules (pure functions), the production kit's files and the embedded server's
# restart; on the PostgreSQL pass, with the production topology's faults
# (tests/faults/conftest.py: production_only), the fuzzing of the whole API against a
# real server, slip rendering, the settings, CLI and server start-up checks
# (subprocesses), the OpenAPI document, who may call what (keys, throttling) and the
# webhooks' HTTP transport; the two lists keep CI's lanes about even. Matching, search,
# the lifecycle, inbox, paging, idempotency, reports, imports and the services and API
# behind the pages run on both: what the pages' views add (forms, filters passed on to
# the same queries) is checked on SQLite only.
ONE_PASS = {
    "embedded": (
        "tests/web/test_browser_",
        "tests/web/test_accounts.py",
        "tests/web/test_center_pages.py",
        "tests/web/test_organization_pages.py",
        "tests/web/test_taxonomy_pages.py",
        "tests/web/test_wellbeing_pages.py",
        "tests/community_catalog/test_cost_corpus.py",
        "tests/community_catalog/test_cost_properties.py",
        "tests/community_catalog/test_schedules.py",
        "tests/community_catalog/test_offer_run.py",
        "tests/config/test_collection_paused.py",
        "tests/harvest/test_opening_hours.py",
        "tests/harvest/test_records.py",
        "tests/deploy/test_compose.py",
        "tests/deploy/test_caddyfile.py",
        "tests/deploy/test_image.py",
        "tests/deploy/test_release.py",
        "tests/faults/test_embedded_restart.py",
        # Slips in each language: what is printed, not where it is stored.
        "tests/slips/test_slip_languages.py",
        "tests/slips/test_slip_languages_review.py",
    ),
    "postgresql": (
        "tests/faults/test_fuzz.py",
        "tests/slips/test_slips.py",
        "tests/slips/test_slip_safety_and_batch.py",
        "tests/config/test_settings.py",
        "tests/config/test_cli.py",
        "tests/config/test_server.py",
        "tests/config/test_openapi.py",
        "tests/config/test_access_matrix.py",
        "tests/accounts/test_signin_throttle.py",
        "tests/events/test_webhook_transport.py",
        "tests/review/test_attack_23.py",
        "tests/harvest/test_federation.py",
        # Row locks: what PostgreSQL does while a person taps.
        "tests/review/test_attack_25_races.py",
    ),
}


def _backend() -> str:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    return "postgresql" if engine == "django.db.backends.postgresql" else "embedded"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = _backend()
    for other, prefixes in ONE_PASS.items():
        if other == backend:
            continue
        reason = f"the same on either backend: runs on the {other} pass (tests/conftest.py)"
        for item in items:
            path = item.path.relative_to(config.rootpath).as_posix()
            if path.startswith(prefixes):
                item.add_marker(pytest.mark.skip(reason=reason))


# Lyon, place Bellecour: a few hundred metres from several demo activities.
BELLECOUR = {"latitude": 45.7578, "longitude": 4.8320}


def referral_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient_ref": "pt-0001",
        "first_name": "Josiane",
        "year_of_birth": 1948,
        "preferred_language": "fr",
        "location": dict(BELLECOUR),
        "needs": ["isolation"],
        "max_distance_km": 4,
        "note_for_patient": "Allez-y une première fois, sans engagement.",
        "clinical_reason": "Humeur basse depuis le veuvage.",
        "consent": {"given": True, "method": "verbal", "at": datetime.now(UTC).isoformat()},
    }
    body.update(overrides)
    return body


class ApiClient:
    """A Django test client that sends a health centre's key."""

    def __init__(self, key: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.post(
            path, body, content_type="application/json", headers={**self.headers, **headers}
        )

    def get(self, path: str, **headers: str) -> Any:
        return self.client.get(path, headers={**self.headers, **headers})

    def patch(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.patch(
            path, body, content_type="application/json", headers={**self.headers, **headers}
        )

    def delete(self, path: str, **headers: str) -> Any:
        return self.client.delete(path, headers={**self.headers, **headers})


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """A password hash costs a few hundred milliseconds by design, and the suite creates
    and signs in hundreds of people; what it tests is not the hash. (Servers the browser
    and fault tests start use the real hasher.)"""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _process_caches_cleared() -> Iterator[None]:
    """Each test's database is new: what a process keeps for a while (keys, taxonomy,
    postcodes) must not come from another test's."""
    process_caches_clear()
    yield
    process_caches_clear()


@contextmanager
def module_transaction(django_db_blocker: Any) -> Iterator[None]:
    """For a module-scoped fixture: what it writes stays for the module's tests, in a
    transaction rolled back at the module's end. Each test runs in a savepoint inside
    it (pytest-django's `db`), so what a test changes, the next one does not see."""
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture
def catalog(db: None) -> int:
    return demo_catalog_load()


@pytest.fixture
def center(db: None) -> tuple[HealthCenter, str]:
    return health_center_create(name="Maison de santé Gerland")


@pytest.fixture
def api(center: tuple[HealthCenter, str]) -> ApiClient:
    return ApiClient(center[1])


@pytest.fixture
def outsider_api(db: None) -> ApiClient:
    """Another health centre, with a valid key of its own."""
    return ApiClient(health_center_create(name="Centre de santé Vaise")[1])


@pytest.fixture
def org_api(db: None) -> ApiClient:
    """A community organisation, with its key."""
    organization, key = organization_create(name="Centre social Bonnefoi")
    client = ApiClient(key)
    client.organization = organization  # type: ignore[attr-defined]
    return client


@pytest.fixture
def rival_api(db: None) -> ApiClient:
    """Another organisation, with a valid key of its own."""
    return ApiClient(organization_create(name="Association Rivale")[1])


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "files"
    return settings.MEDIA_ROOT


@pytest.fixture
def broker() -> Iterator[dramatiq.Broker]:
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def worker(
    broker: dramatiq.Broker, transactional_db: None, media: Any
) -> Iterator[dramatiq.Worker]:
    """A real dramatiq worker on the configured broker, on two threads of this process."""
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop(timeout=10_000)


def wait_for_stage(referral_id: str | uuid.UUID, stage: str, timeout: float = 60) -> Referral:
    deadline = time.monotonic() + timeout
    while True:
        referral = Referral.objects.get(id=referral_id)
        if referral.stage == stage:
            return referral
        if time.monotonic() > deadline:
            raise AssertionError(f"referral still at {referral.stage!r}, expected {stage!r}")
        time.sleep(0.05)


def referral_matched(api: ApiClient, **overrides: Any) -> Referral:
    """File a referral and match it in this thread, as the matching actor would: the
    plain-Python path, without waiting on a broker."""
    from events.models import Event
    from referrals.matching_jobs import referral_match

    response = api.post("/api/v1/referrals", referral_body(**overrides))
    assert response.status_code == 202, response.json()
    referral_id = response.json()["id"]
    event = Event.objects.get(aggregate_id=referral_id, type="referral.submitted")
    referral_match(referral_id=uuid.UUID(referral_id), event_id=event.id)
    return Referral.objects.get(id=referral_id)


def referral_slipped(api: ApiClient, **overrides: Any) -> Referral:
    """File a referral, match it and print its slip, in this thread, as the actors do."""
    from events.models import Event
    from slips.services import referral_render_slip

    referral = referral_matched(api, **overrides)
    event = (
        Event.objects.filter(
            aggregate_id=referral.id, type__in=["referral.matched", "referral.unmatched"]
        )
        .order_by("-id")
        .first()
    )
    assert event is not None
    referral_render_slip(referral_id=referral.id, event_id=event.id)
    return Referral.objects.select_related("health_center", "slip").get(id=referral.id)


def organization_key(organization: Any) -> ApiClient:
    """An API client with a fresh key of `organization`."""
    from accounts.keys import api_key_create

    client = ApiClient(api_key_create(organization=organization))
    client.organization = organization  # type: ignore[attr-defined]
    return client


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write what the fault and fuzz suites measured (see tests/figures.py)."""
    from tests import figures

    figures.write()
