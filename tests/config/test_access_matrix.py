"""Who may call what: every endpoint of the API, called by every kind of caller.

The endpoints come from the API itself (its routers), not from a list kept by hand: an
endpoint added without a rule in `RULES` fails `test_every_endpoint_has_a_rule`. For each
endpoint, the test calls it with no key, a wrong key, and each role's key; where the path
names an object, with the owner's key and with another tenant's key of the same role.

- no key, an unknown key or a revoked key → 401;
- a valid key of a role the endpoint is not for → 401 (the endpoint does not exist for
  that caller; see `accounts.auth`);
- another tenant's key, on an object of someone else → 404 (whether it exists is not
  theirs to know);
- the owner's key → anything but 401, 403 and 404.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from accounts.keys import api_key_create
from accounts.models import ApiKey, HealthCenter
from community_catalog.models import ServiceAtLocation
from config.api import api
from events.models import Event, WebhookDelivery, WebhookSubscription
from harvest.sources import source_add
from referrals.models import WELLBEING_QUESTIONS, Placement
from tests.conftest import ApiClient, organization_key, referral_matched

pytestmark = pytest.mark.django_db

CENTER, ORGANIZATION, OPERATOR = "center", "organization", "operator"
ROLES = (CENTER, ORGANIZATION, OPERATOR)


@dataclass(frozen=True)
class Rule:
    """The roles an endpoint is for, and whether its path names a tenant's object."""

    roles: frozenset[str]
    owned: bool = True
    # A body that passes validation, where `{}` would not: so that a refusal is about who
    # calls, not about what they sent. Values "{name}" are taken from the world's ids.
    body: tuple[tuple[str, Any], ...] = ()
    # A 404 with this code is a real answer to the owner (nothing to give), not a refusal.
    empty_code: str = ""


def _for(
    *roles: str, owned: bool = True, body: dict[str, Any] | None = None, empty_code: str = ""
) -> Rule:
    return Rule(frozenset(roles), owned, tuple((body or {}).items()), empty_code)


CENTER_OWN, ORG_OWN = _for(CENTER), _for(ORGANIZATION)
PARTY_OWN = _for(CENTER, ORGANIZATION)

RULES: dict[tuple[str, str], Rule] = {
    ("POST", "/referrals"): _for(CENTER, owned=False),
    ("GET", "/referrals"): _for(CENTER, owned=False),
    ("GET", "/referrals/{referral_id}"): CENTER_OWN,
    ("GET", "/referrals/{referral_id}/slip.pdf"): CENTER_OWN,
    ("GET", "/referrals/{referral_id}/slip.html"): CENTER_OWN,
    ("POST", "/referrals/{referral_id}/cancel"): CENTER_OWN,
    ("POST", "/referrals/{referral_id}/consent/withdraw"): CENTER_OWN,
    ("POST", "/referrals/{referral_id}/contact/withdraw"): CENTER_OWN,
    ("POST", "/referrals/{referral_id}/placements/{placement_id}/cancel"): CENTER_OWN,
    ("GET", "/referrals/{referral_id}/events"): CENTER_OWN,
    ("GET", "/referrals/{referral_id}/fhir"): CENTER_OWN,
    ("GET", "/referrals/{referral_id}/matches"): CENTER_OWN,
    ("GET", "/referrals/{referral_id}/wellbeing"): CENTER_OWN,
    ("POST", "/referrals/{referral_id}/wellbeing"): _for(
        CENTER,
        body={"timepoint": "baseline", **dict.fromkeys(WELLBEING_QUESTIONS, 5)},
    ),
    # Aggregates of the caller's own scope, for every role.
    ("GET", "/reports"): _for(*ROLES, owned=False),
    ("GET", "/reports/{table}.csv"): _for(*ROLES, owned=False),
    ("GET", "/slips.pdf"): _for(CENTER, owned=False, empty_code="no_slips"),
    ("GET", "/audit"): _for(OPERATOR, owned=False),
    # The taxonomy is public: the vocabulary of needs, nothing about anyone. Operators
    # keep it, and the crosswalks that read other directories' terms.
    ("GET", "/catalog/taxonomy"): _for(owned=False),
    ("POST", "/catalog/taxonomy"): _for(OPERATOR, owned=False),
    ("PATCH", "/catalog/taxonomy/{code}"): _for(OPERATOR, owned=False),
    ("DELETE", "/catalog/taxonomy/{code}"): _for(OPERATOR, owned=False),
    ("GET", "/catalog/crosswalks"): _for(OPERATOR, owned=False),
    ("POST", "/catalog/crosswalks"): _for(OPERATOR, owned=False),
    ("DELETE", "/catalog/crosswalks/{crosswalk_id}"): _for(OPERATOR, owned=False),
    ("GET", "/catalog/crosswalks/unmapped"): _for(OPERATOR, owned=False),
    ("GET", "/catalog/services"): _for(*ROLES, owned=False),
    ("POST", "/catalog/import"): _for(ORGANIZATION, owned=False),
    ("GET", "/catalog/export"): _for(ORGANIZATION, owned=False),
    ("GET", "/organization/services"): _for(ORGANIZATION, owned=False),
    ("POST", "/organization/services"): _for(ORGANIZATION, owned=False),
    ("GET", "/organization/services/{service_id}"): ORG_OWN,
    ("PATCH", "/organization/services/{service_id}"): ORG_OWN,
    ("DELETE", "/organization/services/{service_id}"): ORG_OWN,
    ("POST", "/organization/services/{service_id}/close"): ORG_OWN,
    ("POST", "/organization/services/{service_id}/reopen"): ORG_OWN,
    ("POST", "/organization/services/{service_id}/confirm"): ORG_OWN,
    ("POST", "/organization/services/{service_id}/service-at-locations"): _for(
        ORGANIZATION, body={"location_id": "{location_id}"}
    ),
    ("GET", "/organization/service-at-locations/{sal_id}"): ORG_OWN,
    ("PATCH", "/organization/service-at-locations/{sal_id}"): ORG_OWN,
    ("DELETE", "/organization/service-at-locations/{sal_id}"): ORG_OWN,
    ("PATCH", "/organization/service-at-locations/{sal_id}/capacity"): ORG_OWN,
    ("GET", "/organization/service-at-locations/{sal_id}/schedules"): ORG_OWN,
    ("POST", "/organization/service-at-locations/{sal_id}/schedules"): ORG_OWN,
    ("GET", "/organization/service-at-locations/{sal_id}/schedules/{schedule_id}"): ORG_OWN,
    ("PATCH", "/organization/service-at-locations/{sal_id}/schedules/{schedule_id}"): ORG_OWN,
    ("DELETE", "/organization/service-at-locations/{sal_id}/schedules/{schedule_id}"): ORG_OWN,
    ("GET", "/organization/locations"): _for(ORGANIZATION, owned=False),
    ("POST", "/organization/locations"): _for(ORGANIZATION, owned=False),
    ("GET", "/organization/locations/{location_id}"): ORG_OWN,
    ("PATCH", "/organization/locations/{location_id}"): ORG_OWN,
    ("DELETE", "/organization/locations/{location_id}"): ORG_OWN,
    ("GET", "/inbox/placements"): _for(ORGANIZATION, owned=False),
    ("GET", "/inbox/placements/{placement_id}"): ORG_OWN,
    ("POST", "/inbox/placements/{placement_id}/accept"): ORG_OWN,
    # No body: another organisation's rejection without a reason is a 404, not a 422.
    ("POST", "/inbox/placements/{placement_id}/reject"): ORG_OWN,
    ("POST", "/inbox/placements/{placement_id}/start"): ORG_OWN,
    ("POST", "/inbox/placements/{placement_id}/hold"): ORG_OWN,
    ("POST", "/inbox/placements/{placement_id}/complete"): ORG_OWN,
    ("POST", "/inbox/placements/{placement_id}/fail"): ORG_OWN,
    ("GET", "/events"): _for(CENTER, ORGANIZATION, owned=False),
    ("POST", "/webhooks"): _for(CENTER, ORGANIZATION, owned=False),
    ("GET", "/webhooks"): _for(CENTER, ORGANIZATION, owned=False),
    ("GET", "/webhooks/deliveries"): _for(CENTER, ORGANIZATION, owned=False),
    ("POST", "/webhooks/deliveries/{delivery_id}/redeliver"): PARTY_OWN,
    ("GET", "/webhooks/{subscription_id}"): PARTY_OWN,
    ("PATCH", "/webhooks/{subscription_id}"): PARTY_OWN,
    ("DELETE", "/webhooks/{subscription_id}"): PARTY_OWN,
    ("POST", "/webhooks/{subscription_id}/rotate-secret"): PARTY_OWN,
    # The directories the territory's catalogue is harvested from: operators keep them.
    ("GET", "/harvest/sources"): _for(OPERATOR, owned=False),
    ("POST", "/harvest/sources"): _for(OPERATOR, owned=False),
    ("GET", "/harvest/sources/{name}"): _for(OPERATOR, owned=False),
    ("DELETE", "/harvest/sources/{name}"): _for(OPERATOR, owned=False),
    ("POST", "/harvest/sources/{name}/run"): _for(OPERATOR, owned=False),
    ("GET", "/harvest/sources/{name}/runs"): _for(OPERATOR, owned=False),
}


def endpoints() -> list[tuple[str, str]]:
    """Every (method, path) the API serves, read from its routers."""
    found = []
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in operation.methods:
                    found.append((method, f"{prefix}{path}".rstrip("/") or "/"))
    return sorted(set(found))


def test_every_endpoint_has_a_rule() -> None:
    served = set(endpoints())
    assert len(served) > 40
    assert served - RULES.keys() == set(), "an endpoint without an access rule"
    assert RULES.keys() - served == set(), "a rule for an endpoint that no longer exists"


# --- The callers and the objects they own -------------------------------------------------


@dataclass
class World:
    callers: dict[str, ApiClient]  # a key of each role, owning the objects below
    others: dict[str, ApiClient]  # another tenant of the same role
    ids: dict[str, str]
    center: HealthCenter


@pytest.fixture
def world(api: ApiClient, outsider_api: ApiClient, rival_api: ApiClient, catalog: int) -> World:
    referral = referral_matched(api)
    placement = Placement.objects.filter(referral=referral).select_related("match").first()
    assert placement is not None
    organization = organization_key(placement.organization)
    # A place of the organisation's with sessions of its own.
    sal = ServiceAtLocation.objects.filter(
        service__organization=placement.organization, schedules__isnull=False
    ).first()
    assert sal is not None
    schedule = sal.schedules.first()
    assert schedule is not None
    subscriptions = {}
    for role, caller in ((CENTER, api), (ORGANIZATION, organization)):
        created = caller.post("/api/v1/webhooks", {"url": "https://hooks.example.org/tisser"})
        assert created.status_code == 201, created.json()
        subscriptions[role] = created.json()["id"]
    event = Event.objects.filter(aggregate_id=referral.id).first()
    assert event is not None
    delivery = WebhookDelivery.objects.create(
        subscription=WebhookSubscription.objects.get(id=subscriptions[CENTER]),
        event=event,
        status=WebhookDelivery.Status.FAILED,
    )
    operator = ApiClient(api_key_create(name="operator"))
    source_add(name="territory", url="https://directory.example.org/hsds", kind="hsds-api")
    return World(
        callers={CENTER: api, ORGANIZATION: organization, OPERATOR: operator},
        others={CENTER: outsider_api, ORGANIZATION: rival_api},
        center=referral.health_center,
        ids={
            "referral_id": str(referral.id),
            "placement_id": str(placement.id),
            "service_id": str(sal.service_id),
            "sal_id": str(sal.id),
            "schedule_id": str(schedule.hsds_id),  # schedules are addressed by HSDS id
            "location_id": str(sal.location_id),
            "delivery_id": str(delivery.id),
            "table": "funnel",
            "name": "territory",
            "subscription_id:center": subscriptions[CENTER],
            "subscription_id:organization": subscriptions[ORGANIZATION],
        },
    )


def _url(path: str, ids: dict[str, str], role: str) -> str:
    def fill(found: re.Match[str]) -> str:
        name = found.group(1)
        return ids.get(f"{name}:{role}") or ids.get(name) or str(uuid.uuid4())

    return "/api/v1" + re.sub(r"{(\w+)}", fill, path)


def _call(client: ApiClient, method: str, path: str, ids: dict[str, str], role: str) -> Any:
    url = _url(path, ids, role)
    rule = RULES[(method, path)]
    body = {
        name: ids[value[1:-1]] if isinstance(value, str) and value.startswith("{") else value
        for name, value in rule.body
    }
    if method == "GET":
        return client.get(url)
    if method == "DELETE":
        return client.delete(url)
    if method == "PATCH":
        return client.patch(url, body)
    return client.post(url, body)


def _status(response: Any) -> int:
    status: int = response.status_code
    return status


# --- The matrix ---------------------------------------------------------------------------


def test_no_key_and_bad_keys_are_refused(world: World) -> None:
    # A key of the owner's, revoked: refused like any wrong key.
    revoked = api_key_create(health_center=world.center)
    ApiKey.objects.filter(health_center=world.center, name="").update(revoked_at=timezone.now())
    callers = {
        "none": ApiClient(None),
        "unknown": ApiClient(revoked[:-4] + "AAAA"),
        "malformed": ApiClient("not a key"),
        "revoked": ApiClient(revoked),
    }
    problems = []
    for (method, path), rule in sorted(RULES.items()):
        for name, client in callers.items():
            response = _call(client, method, path, world.ids, CENTER)
            status = _status(response)
            if not rule.roles:
                if status == 401:
                    problems.append((method, path, name, status))
            elif status != 401 or response.json()["error"]["code"] != "unauthorized":
                problems.append((method, path, name, status))
    assert problems == []


def test_each_role_reaches_only_its_endpoints(world: World) -> None:
    problems = []
    for (method, path), rule in sorted(RULES.items()):
        for role in ROLES:
            allowed = not rule.roles or role in rule.roles
            if allowed and method != "GET":
                # Writes by the owner are left to their own tests: they would change the
                # world the other calls rely on.
                continue
            response = _call(world.callers[role], method, path, world.ids, role)
            status = _status(response)
            if rule.roles and role not in rule.roles:
                if status != 401:
                    problems.append((method, path, role, status))
            else:
                # The owner is let in.
                empty = (
                    rule.empty_code
                    and status == 404
                    and response.json()["error"]["code"] == rule.empty_code
                )
                if status in (401, 403, 404) and not empty:
                    problems.append((method, path, role, status))
    assert problems == []


def test_another_tenant_gets_404_on_what_is_not_theirs(world: World) -> None:
    problems = []
    for (method, path), rule in sorted(RULES.items()):
        if not rule.owned:
            continue
        for role in sorted(rule.roles & {CENTER, ORGANIZATION}):
            response = _call(world.others[role], method, path, world.ids, role)
            status = _status(response)
            if status != 404 or response.json()["error"]["code"] != "not_found":
                problems.append((method, path, role, status, response.content[:200]))
    assert problems == []
