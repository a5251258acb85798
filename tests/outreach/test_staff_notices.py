"""Staff are told (issue 26, part 1): organisation members when a referral arrives and
when its answer is due; a centre's members when an offer is declined or expires with
nothing accepted, and when nothing was found. At once or once a day, as each chose;
through a real SMTP server; never anything about the person.

Expected before running: one e-mail per arrival for an "at once" member, linking to the
inbox on TISSER_PUBLIC_URL; nothing before 08:00 for a "once a day" member, then one
e-mail with every line; nothing for "never" or without an address; a declined offer
tells the centre only when nothing is accepted."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.models import HealthCenter, Membership
from outreach.models import StaffNotice
from outreach.staff import digest_due, staff_notices_send, staff_notices_sweep
from referrals.models import Placement, Referral
from tests.conftest import ApiClient, organization_key, referral_matched
from tests.transports import Inbox

pytestmark = pytest.mark.django_db

PUBLIC = "https://tisser.example.org"
SECRETS = ("Josiane", "Humeur basse", "Allez-y une première fois", "pt-0001", "isolation")


@pytest.fixture
def mail(smtp: Inbox, settings: Any) -> Inbox:
    settings.TISSER_PUBLIC_URL = PUBLIC
    return smtp


def member(username: str, notify: str = "immediate", email: str = "", **party: Any) -> User:
    user = User.objects.create_user(username, email=email or f"{username}@example.org")
    Membership.objects.create(user=user, notify=notify, **party)
    return user


def sweep(at: datetime | None = None) -> int:
    return staff_notices_sweep(lambda uid, lease: staff_notices_send(uid, lease), now=at)


def test_an_organisation_is_told_a_referral_arrived(
    api: ApiClient, catalog: int, mail: Inbox, center: Any
) -> None:
    first = referral_matched(api)
    placement = first.placements.order_by("match__rank").first()
    assert placement is not None
    # Members of the organisation: at once, once a day, never, and one with no address.
    at_once = member("o.vite", organization=placement.organization)
    daily = member("o.jour", "daily", organization=placement.organization)
    member("o.jamais", "none", organization=placement.organization)
    nobody = member("o.sans", organization=placement.organization)
    User.objects.filter(id=nobody.id).update(email="")
    referral = referral_matched(api, patient_ref="pt-0002")
    offered = referral.placements.filter(organization=placement.organization).first()
    if offered is None:
        pytest.fail("the second referral was not offered to the same organisation")
    assert sweep() == 1
    (sent,) = mail.messages
    assert sent["To"] == "o.vite@example.org"
    assert sent["Subject"] == f"Tisser : une nouvelle orientation, {referral.code}"
    text = sent.get_content()
    assert f"{PUBLIC}/app/inbox/#placement-{offered.id}" in text
    assert "répondre avant le" in text
    for secret in SECRETS:
        assert secret not in text
    # Once a day: nothing before 08:00, then one e-mail with every line.
    assert StaffNotice.objects.filter(user=daily).count() == 1
    # The next 08:00: this morning's when this runs before 8, else tomorrow's.
    morning = digest_due(timezone.now())
    assert timezone.localtime(morning).time() == time(8)
    assert timedelta(0) < morning - timezone.now() <= timedelta(days=1)
    assert sweep(morning - timedelta(minutes=1)) == 0
    assert sweep(morning) == 1
    assert mail.messages[-1]["To"] == "o.jour@example.org"
    assert len(mail.messages) == 2
    assert not StaffNotice.objects.filter(user__username__in=["o.jamais", "o.sans"]).exists()
    assert at_once.staff_notices.get().status == "sent"
    # Each once.
    assert sweep(morning + timedelta(hours=1)) == 0


def test_a_centre_is_told_of_a_decline_only_when_nothing_is_accepted(
    api: ApiClient, catalog: int, mail: Inbox, center: tuple[HealthCenter, str]
) -> None:
    clinician = member("c.martin", health_center=center[0])
    referral = referral_matched(api)
    first, second, _third = referral.placements.order_by("match__rank")
    org = organization_key(first.organization)
    assert (
        org.post(
            f"/api/v1/inbox/placements/{first.id}/reject", {"reason": "no-capacity"}
        ).status_code
        == 200
    )
    sweep()
    (declined,) = mail.messages
    assert declined["To"] == "c.martin@example.org"
    assert f"{PUBLIC}/app/referrals/{referral.id}/" in declined.get_content()
    assert (
        "aucune proposition n\N{RIGHT SINGLE QUOTATION MARK}est acceptée" in declined.get_content()
    )
    # Once another offer is accepted, a decline is no news for the clinician.
    assert (
        organization_key(second.organization)
        .post(f"/api/v1/inbox/placements/{second.id}/accept", {})
        .status_code
        == 200
    )
    third = Placement.objects.filter(referral=referral, status="requested").first()
    assert third is not None
    organization_key(third.organization).post(
        f"/api/v1/inbox/placements/{third.id}/reject", {"reason": "not-eligible"}
    )
    sweep()
    assert len(mail.messages) == 1
    assert clinician.staff_notices.count() == 1


def test_a_centre_is_told_when_nothing_was_found(
    api: ApiClient, catalog: int, mail: Inbox, center: tuple[HealthCenter, str]
) -> None:
    member("c.durand", health_center=center[0])
    referral = referral_matched(api, location={"latitude": 48.0, "longitude": -4.5})
    assert Referral.objects.get(id=referral.id).stage == "unmatched"
    sweep()
    (told,) = mail.messages
    assert (
        told["Subject"]
        == f"Tisser : du nouveau pour l\N{RIGHT SINGLE QUOTATION MARK}orientation {referral.code}"
    )
    assert "Aucune activité n'a été trouvée pour l'instant." in told.get_content()


def test_each_member_chooses_when(catalog: int, center: tuple[HealthCenter, str]) -> None:
    from tests.web.test_accounts import create_user, signed_in

    client: Client = signed_in("c.leroy", create_user("c.leroy", "--center", center[0].name))
    page = client.get("/app/notifications/")
    assert page.status_code == 200
    assert 'value="immediate" checked' in page.content.decode()
    assert client.post("/app/notifications/", {"notify": "daily"}).status_code == 302
    assert Membership.objects.get(user__username="c.leroy").notify == "daily"
    assert client.post("/app/notifications/", {"notify": "hourly"}).status_code == 302
    assert Membership.objects.get(user__username="c.leroy").notify == "daily"
