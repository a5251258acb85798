"""Reports: what a territory, a health centre or an organisation learns from the
referrals — volumes, the funnel, delays, why placements end, where needs find nothing.

Every figure is an aggregate over a period (referrals filed from `start` to `end`,
inclusive). Any count of people between 1 and 4, and anything computed from fewer than
five people (a median, a mean change, a share), is shown as "< 5" (`SUPPRESSED`), so that
no one can be picked out of a table. Where a suppressed count could be worked back by
subtraction (a table's rows add up to a total shown elsewhere; two steps of the funnel
differ by fewer than five), more counts are hidden as "*" (`HIDDEN`) until it cannot.

Who sees what (`Scope`):
- an operator: the whole territory, or one health centre;
- a health centre: its own referrals;
- an organisation: only its own placements (what it was offered, what it answered, how
  its activities went), never other organisations' nor the unmatched needs, and no
  wellbeing table: with periods of its choosing, two means a day apart would give away
  one person's answers.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import HealthCenter
from community_catalog.models import Organization
from events.models import Event
from outreach.models import PatientMessage
from referrals.models import Placement, Referral, WellbeingMeasure
from reports.report_model import (
    DEFAULT_WEEKS,
    Report,
    Scope,
    Table,
)
from reports.tables import (
    delays,
    funnel,
    per_center,
    per_need,
    reached,
    reasons_table,
    top_activities,
    unmet,
    unmet_reasons,
    weekly,
    wellbeing,
)
from slips.models import Slip


def default_period(today: date | None = None) -> tuple[date, date]:
    today = today or timezone.localdate()
    return today - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1), today


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def report_build(scope: Scope, start: date, end: date) -> Report:
    """The whole report for `scope`, over the referrals filed from `start` to `end`."""
    since, _ = day_bounds(start)
    _, until = day_bounds(end)
    referrals = Referral.objects.filter(created_at__gte=since, created_at__lt=until)
    if scope.health_center_id:
        referrals = referrals.filter(health_center_id=scope.health_center_id)
    if scope.organization_id is not None:
        # The placements of the referrals filed in the period, as for everyone.
        placements = Placement.objects.filter(
            organization_id=scope.organization_id,
            referral__created_at__gte=since,
            referral__created_at__lt=until,
        )
        tables = _organization_tables(placements, start, end)
    else:
        tables = _referral_tables(scope, referrals, start, end)
    return Report(scope, _scope_name(scope), start, end, {t.name: t for t in tables})


def _scope_name(scope: Scope) -> str:
    if scope.health_center_id:
        return str(HealthCenter.objects.get(id=scope.health_center_id).name)
    if scope.organization_id:
        return str(Organization.objects.get(id=scope.organization_id).name)
    return str(_("The whole territory"))


# --- Health centres and the territory ---------------------------------------------------


def _referral_tables(scope: Scope, referrals: Any, start: date, end: date) -> list[Table]:
    rows = list(referrals.values_list("id", "created_at", "health_center_id", "stage", "postcode"))
    ids = [row[0] for row in rows]
    filed_at = {row[0]: row[1] for row in rows}
    placements = list(
        Placement.objects.filter(referral__in=referrals).values_list(
            "id", "referral_id", "match__service_at_location_id", "status", "status_reason"
        )
    )
    referral_of = {p[0]: p[1] for p in placements}
    placement_ids = Placement.objects.filter(referral__in=referrals).values("id")
    reached = _placement_steps(placement_ids)
    matched = set(referrals.filter(matches__isnull=False).values_list("id", flat=True).distinct())
    slipped = dict(
        Slip.objects.filter(referral__in=referrals).values_list("referral_id", "created_at")
    )
    needs = _needs_of(referrals.values("id"))

    tables = [
        weekly(start, end, [row[1] for row in rows], _("Referrals filed per week"), _("Referrals")),
        per_need(needs, _("Referrals per need")),
    ]
    if scope.is_territory:
        tables.append(per_center(rows, slipped))
    engaged = {step: {referral_of[p] for p in members} for step, members in reached.items()}
    tables.append(
        funnel(
            [
                (_("Referrals filed"), set(ids)),
                (_("Activities found"), matched),
                (_("Slip ready"), matched & slipped.keys()),
                (_("Accepted by an organisation"), engaged["accepted"]),
                (_("Started an activity"), engaged["in-progress"]),
                (_("Completed an activity"), engaged["completed"]),
            ],
            _("People"),
        )
    )
    first_answers = _first_answers(placement_ids)
    answer_delays: dict[uuid.UUID, float] = {}
    for placement_id, answered_at in first_answers.items():
        referral_id = referral_of[placement_id]
        delay = (answered_at - filed_at[referral_id]).total_seconds()
        answer_delays[referral_id] = min(delay, answer_delays.get(referral_id, delay))
    tables.append(
        delays(
            [
                (
                    _("From filing to the slip"),
                    [(slipped[r] - filed_at[r]).total_seconds() for r in matched & slipped.keys()],
                ),
                (_("From filing to an organisation's first answer"), list(answer_delays.values())),
            ]
        )
    )
    tables.append(reasons_table([(p[3], p[4]) for p in placements]))
    tables.append(top_activities(Counter(p[2] for p in placements)))
    # Nothing found: looked (an unmatched referral's slip says so, hence slip_ready)
    # and holds no match.
    looked = (Referral.Stage.UNMATCHED, Referral.Stage.SLIP_READY)
    unmatched = [row for row in rows if row[3] in looked and row[0] not in matched]
    tables.append(unmet(unmatched, needs))
    tables.append(
        unmet_reasons(
            referrals.filter(id__in=[row[0] for row in unmatched]).values_list(
                "unmatched_explanation", flat=True
            )
        )
    )
    tables.append(wellbeing(WellbeingMeasure.objects.filter(referral__in=referrals)))
    tables.append(_reached_table(referrals, set(slipped), referral_of, engaged))
    return tables


def _reached_table(
    referrals: Any,
    slipped: set[uuid.UUID],
    referral_of: dict[uuid.UUID, uuid.UUID],
    engaged: dict[str, set[uuid.UUID]],
) -> Table:
    """Uptake by channel: the page's link sent by e-mail, by SMS, or no message at all."""
    channel_of = dict(
        PatientMessage.objects.filter(
            referral__in=referrals,
            kind=PatientMessage.Kind.PAGE_LINK,
            status=PatientMessage.Status.SENT,
        ).values_list("referral_id", "channel")
    )
    said: dict[str, set[uuid.UUID]] = defaultdict(set)
    for placement_id, report in (
        Placement.objects.filter(referral__in=referrals)
        .exclude(patient_report="")
        .values_list("id", "patient_report")
    ):
        said[report].add(referral_of[placement_id])
    by_mail = {r for r in slipped if channel_of.get(r) == "email"}
    by_sms = {r for r in slipped if channel_of.get(r) == "sms"}
    return reached(
        [
            (_("Page link sent by e-mail"), by_mail),
            (_("Page link sent by SMS"), by_sms),
            (_("No message"), slipped - by_mail - by_sms),
        ],
        said["went"],
        said["not-for-me"],
        engaged["in-progress"],
    )


def _needs_of(referral_ids: Any) -> dict[uuid.UUID, list[str]]:
    """Each referral's need codes; `referral_ids` is a subquery (a period holds more ids
    than a statement can bind)."""
    through = Referral.needs.through
    found: dict[uuid.UUID, list[str]] = defaultdict(list)
    for referral_id, label in through.objects.filter(referral_id__in=referral_ids).values_list(
        "referral_id", "taxonomyterm__code"
    ):
        found[referral_id].append(label)
    return found


def _placement_steps(placement_ids: Any) -> dict[str, set[uuid.UUID]]:
    """The placements that ever reached each step, from their events: a placement that
    went on to complete was also accepted, whatever its status now."""
    seen: dict[str, set[uuid.UUID]] = defaultdict(set)
    for aggregate_id, type in Event.objects.filter(
        aggregate_type="placement",
        aggregate_id__in=placement_ids,
        type__in=["placement.accepted", "placement.in-progress", "placement.completed"],
    ).values_list("aggregate_id", "type"):
        seen[type.removeprefix("placement.")].add(aggregate_id)
    completed = seen["completed"]
    in_progress = seen["in-progress"] | completed
    return {
        "accepted": seen["accepted"] | in_progress,
        "in-progress": in_progress,
        "completed": completed,
    }


def _first_answers(placement_ids: Any) -> dict[uuid.UUID, datetime]:
    """When each placement was first answered by its organisation: accepted or
    declined (an expiry is `placement.expired`, not an answer)."""
    first: dict[uuid.UUID, datetime] = {}
    for aggregate_id, created_at in Event.objects.filter(
        aggregate_type="placement",
        aggregate_id__in=placement_ids,
        type__in=["placement.accepted", "placement.rejected"],
    ).values_list("aggregate_id", "created_at"):
        if aggregate_id not in first or created_at < first[aggregate_id]:
            first[aggregate_id] = created_at
    return first


# --- An organisation's own placements ---------------------------------------------------


def _organization_tables(placements: Any, start: date, end: date) -> list[Table]:
    rows = list(
        placements.values_list(
            "id",
            "referral_id",
            "referral__created_at",
            "match__service_at_location_id",
            "status",
            "status_reason",
            "requested_at",
        )
    )
    ids = [row[0] for row in rows]
    requested_at = {row[0]: row[6] for row in rows}
    reached = _placement_steps(placements.values("id"))
    needs = _needs_of(placements.values("referral_id"))
    per_placement_needs = {row[0]: needs.get(row[1], []) for row in rows}
    answers = _first_answers(placements.values("id"))
    tables = [
        weekly(
            start,
            end,
            [row[2] for row in rows],
            _("Placements offered to you per week"),
            _("Placements"),
        ),
        per_need(per_placement_needs, _("Placements offered to you, per need")),
        funnel(
            [
                (_("Offered to you"), set(ids)),
                (_("Accepted"), reached["accepted"]),
                (_("Started an activity"), reached["in-progress"]),
                (_("Completed an activity"), reached["completed"]),
            ],
            _("Placements"),
        ),
        delays(
            [
                (
                    _("From the offer to your answer"),
                    [(at - requested_at[p]).total_seconds() for p, at in answers.items()],
                )
            ]
        ),
        reasons_table([(row[4], row[5]) for row in rows]),
        top_activities(Counter(row[3] for row in rows)),
    ]
    return tables
