"""Plain-language names, in the reader's language, for the catalogue's codes the pages show."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from community_catalog.models import Service, ServiceAtLocation

CAPACITY: dict[str, Any] = {
    ServiceAtLocation.CapacityStatus.HAS_CAPACITY: _("Places available"),
    ServiceAtLocation.CapacityStatus.NO_CAPACITY: _("Full"),
    ServiceAtLocation.CapacityStatus.WAITLIST: _("Waiting list"),
    ServiceAtLocation.CapacityStatus.ASSESSMENT_REQUIRED: _("Meeting first"),
}

SERVICE_STATUSES: dict[str, Any] = {
    Service.Status.ACTIVE: _("Running"),
    Service.Status.TEMPORARILY_CLOSED: _("Closed for now"),
    Service.Status.INACTIVE: _("Stopped"),
    Service.Status.DEFUNCT: _("Ended"),
}

ACCESSIBILITY: dict[str, Any] = {
    "wheelchair": _("Wheelchair access"),
    "step-free": _("No steps"),
    "hearing-loop": _("Hearing loop"),
    "sight-loss": _("Suited to sight loss"),
    "quiet-space": _("A quiet space"),
    "accessible-toilet": _("Accessible toilet"),
}

WEEKDAYS = (
    ("MO", _("Monday")),
    ("TU", _("Tuesday")),
    ("WE", _("Wednesday")),
    ("TH", _("Thursday")),
    ("FR", _("Friday")),
    ("SA", _("Saturday")),
    ("SU", _("Sunday")),
)

# What an activity costs, as matching, slips and reports read it.
COST_STATES: dict[str, Any] = {
    Service.Cost.FREE: _("Free"),
    Service.Cost.PAID: _("Paid"),
    Service.Cost.NOT_STATED: _("Cost not stated"),
}
