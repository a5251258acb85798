"""Plain-language names, in the person's language, for the codes the web pages show.
The API keeps the codes; people read these."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from referrals.models import Placement, Referral

STAGES: dict[str, Any] = {
    Referral.Stage.SUBMITTED: _("Filed"),
    Referral.Stage.MATCHING: _("Looking for activities"),
    Referral.Stage.MATCHED: _("Activities found, slip being printed"),
    Referral.Stage.UNMATCHED: _("No activity found"),
    Referral.Stage.SLIP_READY: _("Slip ready"),
}
# The steps a referral goes through, in order, for the progress list.
STEPS = (
    (Referral.Stage.SUBMITTED, _("Filed")),
    (Referral.Stage.MATCHING, _("Looking for activities")),
    (Referral.Stage.MATCHED, _("Activities found")),
    (Referral.Stage.SLIP_READY, _("Slip ready to print")),
)
REFERRAL_STATUSES: dict[str, Any] = {
    Referral.Status.ACTIVE: pgettext_lazy("referral", "Open"),
    Referral.Status.REVOKED: pgettext_lazy("referral", "Cancelled"),
    Referral.Status.COMPLETED: pgettext_lazy("referral", "Closed"),
}
PLACEMENT_STATUSES: dict[str, Any] = {
    Placement.Status.REQUESTED: _("Waiting for an answer"),
    Placement.Status.ACCEPTED: _("Accepted"),
    Placement.Status.REJECTED: _("Declined"),
    Placement.Status.CANCELLED: _("Cancelled"),
    Placement.Status.IN_PROGRESS: _("Taking part"),
    Placement.Status.ON_HOLD: _("On hold"),
    Placement.Status.COMPLETED: _("Completed"),
    Placement.Status.FAILED: _("Did not work out"),
}
PLACEMENT_REASONS: dict[str, Any] = {
    Placement.Reason.NO_CAPACITY: _("No places left"),
    Placement.Reason.NOT_ELIGIBLE: _("Not suited to this person"),
    Placement.Reason.COULD_NOT_CONTACT: _("Could not reach the person"),
    Placement.Reason.NO_LONGER_INTERESTED: _("The person is no longer interested"),
    Placement.Reason.REFERRED_ELSEWHERE: _("Sent somewhere better suited"),
    Placement.Reason.EXPIRED: _("No answer in time"),
    Placement.Reason.CANCELLED_BY_CENTER: _("Cancelled by the health centre"),
    Placement.Reason.PATIENT_ASKED_OTHER: _("The person asked for something else"),
}
# What an organisation's buttons say, by action.
ACTIONS: dict[str, Any] = {
    "accept": _("Accept"),
    "reject": _("Decline"),
    "start": _("Has started"),
    "hold": _("Put on hold"),
    "complete": _("Has completed"),
    "fail": _("Stopped, or never came"),
}

# Why a referral found nothing: the first filter that left nothing (matching's
# unmatched explanation).
UNMATCHED_REASONS: dict[str, Any] = {
    "needs": _("Needs no longer in use"),
    "distance": _("Nothing near enough"),
    "unmapped": _("Activities nearby in a directory's terms not mapped yet"),
    "schedule": _("Nothing meeting soon (ended, or a later season)"),
    "language": _("Not in their language"),
    "age": _("Not open to their age"),
    "cost": _("Nothing free"),
    "capacity": _("Everything full"),
    "offered": _("Everything suitable already offered"),
}
