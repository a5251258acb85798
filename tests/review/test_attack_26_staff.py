"""Review 39 (issue 26 part 1): reproductions for staff notices. Each test asserts what
a member would expect; a failure is the defect."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.mail import BadHeaderError
from django.test import Client
from django.utils import timezone

from accounts.models import Membership
from community_catalog.models import Organization
from outreach.models import StaffNotice
from outreach.staff import digest_due, staff_notices_send, staff_notices_sweep
from referrals.models import Placement
from referrals.placement_checks import placements_check
from tests.conftest import ApiClient, organization_key, referral_matched
from tests.transports import Inbox

pytestmark = pytest.mark.django_db

PUBLIC = "https://tisser.example.org"


@pytest.fixture
def mail(smtp: Inbox, settings: Any) -> Inbox:
    settings.TISSER_PUBLIC_URL = PUBLIC
    return smtp


def member(username: str, notify: str = "immediate", **party: Any) -> User:
    user = User.objects.create_user(username, email=f"{username}@example.org")
    Membership.objects.create(user=user, notify=notify, **party)
    return user


def sweep(at: Any = None) -> int:
    return staff_notices_sweep(lambda uid, lease: staff_notices_send(uid, lease), now=at)


def first_offer(referral: Any) -> Placement:
    placement = referral.placements.order_by("match__rank").first()
    assert placement is not None
    return placement


def test_the_digest_does_not_say_no_answer_once_the_organisation_answered(
    api: ApiClient, catalog: int, mail: Inbox
) -> None:
    """F4: a notice is written when the event happens and sent as written: a 'once a
    day' volunteer answers the reminder's referral during the day and still reads
    'Still no answer' next morning."""
    referral = referral_matched(api)
    offer = first_offer(referral)
    member("o.jour", "daily", organization=offer.organization)
    placements_check(now=timezone.now() + timedelta(days=10, minutes=1))  # the reminder
    assert StaffNotice.objects.filter(kind="answer_due").exists()
    accepted = organization_key(offer.organization).post(
        f"/api/v1/inbox/placements/{offer.id}/accept", {}
    )
    assert accepted.status_code == 200
    sweep(digest_due(timezone.now()))
    texts = mail.texts()
    assert not any("Toujours pas de réponse" in t for t in texts), texts


def test_no_arrival_is_announced_for_a_referral_withdrawn_before_the_digest(
    api: ApiClient, catalog: int, mail: Inbox
) -> None:
    """F4 (same cause): the person withdrew consent (referral cancelled and erased,
    offers cancelled) at 10:00; the 08:00 digest still says 'a new referral for you:
    answer by …', and its link opens a cancelled card."""
    referral = referral_matched(api)
    offer = first_offer(referral)
    # The member exists before the referral is filed: file a second one for them.
    member("o.jour", "daily", organization=offer.organization)
    second = referral_matched(api, patient_ref="pt-0002")
    offered = second.placements.filter(organization=offer.organization).first()
    assert offered is not None
    withdrawn = api.post(f"/api/v1/referrals/{second.id}/consent/withdraw", {})
    assert withdrawn.status_code == 200, withdrawn.json()
    offered.refresh_from_db()
    assert offered.status == "cancelled"
    sweep(digest_due(timezone.now()))
    texts = mail.texts()
    assert not any(second.code in t for t in texts), texts


def test_never_means_no_more_e_mails(api: ApiClient, catalog: int, mail: Inbox) -> None:
    """F5: a 'once a day' member chooses 'Never' in the afternoon; the next morning's
    digest (written under the old choice) is still sent."""
    referral = referral_matched(api)
    offer = first_offer(referral)
    user = member("o.jour", "daily", organization=offer.organization)
    referral_matched(api, patient_ref="pt-0002")
    assert StaffNotice.objects.filter(user=user).exists()
    Membership.objects.filter(user=user).update(notify="none")  # what the page's Save does
    sweep(digest_due(timezone.now()))
    assert mail.messages == [], [m["Subject"] for m in mail.messages]


def test_a_member_moved_to_another_organisation_is_not_told_of_the_first_ones_referrals(
    api: ApiClient, catalog: int, mail: Inbox
) -> None:
    """F5 (same cause): the coordinator moves a volunteer to another organisation (or
    removes them); the old organisation's pending notices still go to them."""
    referral = referral_matched(api)
    offer = first_offer(referral)
    user = member("o.jour", "daily", organization=offer.organization)
    referral_matched(api, patient_ref="pt-0002")
    other = Organization.objects.exclude(id=offer.organization_id).first()
    assert other is not None
    Membership.objects.filter(user=user).update(organization=other)
    sweep(digest_due(timezone.now()))
    assert mail.messages == [], [m.get_content() for m in mail.messages]


def test_a_notice_that_fails_otherwise_than_by_oserror_ends(
    api: ApiClient, catalog: int, mail: Inbox, monkeypatch: Any
) -> None:
    """F6: only OSError counts as a failed attempt. Any other exception (dramatiq's
    TimeLimitExceeded after 60 s with a slow relay, BadHeaderError, a template error)
    leaves the row pending under its lease: it is leased again 5 minutes later, for
    ever, and `attempts` never moves, so MAX_ATTEMPTS never stops it."""
    referral = referral_matched(api)
    offer = first_offer(referral)
    member("o.vite", organization=offer.organization)
    referral_matched(api, patient_ref="pt-0002")
    tries = []

    def broken(*args: Any, **kwargs: Any) -> None:
        tries.append(1)
        raise BadHeaderError("header with a newline")

    monkeypatch.setattr("outreach.staff.send_mail", broken)

    def hand(uid: int, lease: Any) -> None:
        # dramatiq: max_retries=0, the exception ends the message
        with contextlib.suppress(Exception):
            staff_notices_send(uid, lease)

    for hour in range(1, 13):
        staff_notices_sweep(hand, now=timezone.now() + timedelta(hours=hour))
    notice = StaffNotice.objects.get(user__username="o.vite")
    assert notice.status == "failed" or notice.attempts > 0


def test_without_email_no_notice_is_written(api: ApiClient, catalog: int, settings: Any) -> None:
    """F7: without TISSER_SMTP_URL the hook still writes a row per member and event, the
    relay hands each to a worker that marks it failed; nothing ever deletes them."""
    assert not settings.TISSER_SMTP_URL
    referral = referral_matched(api)
    member("o.vite", organization=first_offer(referral).organization)
    referral_matched(api, patient_ref="pt-0002")
    sweep()
    rows = list(StaffNotice.objects.values_list("status", flat=True))
    assert rows == []


def test_an_operator_has_no_broken_e_mails_link(catalog: int) -> None:
    """F9: every signed-in person's menu showed 'E-mails'; an operator (staff account,
    no membership) got a 403 'no party' page from it. Members only see it now."""
    User.objects.create_superuser("root", "root@example.org", "pw-root-123")
    client = Client()
    client.force_login(User.objects.get(username="root"))
    page = client.get("/app/reports/")
    assert page.status_code == 200
    assert "/app/notifications/" not in page.content.decode()
