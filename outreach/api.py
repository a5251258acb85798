"""The health centre's side of reaching the person: withdrawing their consent to
messages (the person said so at the practice, or on the phone)."""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from ninja import Router

from accounts.auth import HealthCenterKey, request_center
from core.schemas import ErrorOut, openapi_refusals, refusal
from outreach.services import contact_withdraw
from referrals import examples, selectors
from referrals.api import referral_out
from referrals.schemas import ReferralOut

router = Router(auth=HealthCenterKey(), tags=["referrals"])

NO_MESSAGES_CONSENT = refusal(
    "The person gave no consent to messages (or it was already withdrawn).",
    "no_messages_consent",
    "The person gave no consent to messages.",
)


@router.post(
    "/{referral_id}/contact/withdraw",
    response={200: ReferralOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Record that the person withdrew their consent to messages",
    operation_id="referral_contact_withdraw",
    description=(
        "No more messages, the personal page closed, and the person's e-mail address and "
        "phone number erased, at once. The referral itself goes on (to withdraw the "
        "consent to the referral, use `consent/withdraw`)."
    ),
    openapi_extra=openapi_refusals({404: examples.REFERRAL_NOT_FOUND, 409: NO_MESSAGES_CONSENT}),
)
def referral_contact_withdraw(request: HttpRequest, referral_id: uuid.UUID) -> ReferralOut:
    center = request_center(request)
    contact_withdraw(health_center=center, referral_id=referral_id)
    return referral_out(
        request, selectors.referral_get(health_center=center, referral_id=referral_id)
    )
