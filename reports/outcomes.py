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

import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import HealthCenter
from community_catalog.labels import COST_STATES
from community_catalog.models import ServiceAtLocation, TaxonomyTerm
from events.models import Event
from referrals.labels import PLACEMENT_REASONS, UNMATCHED_REASONS
from referrals.models import WELLBEING_QUESTIONS, Placement, Referral, WellbeingMeasure
from slips.models import Slip

MIN_CELL = 5
SUPPRESSED = "< 5"
# A count of five or more hidden so that a suppressed one cannot be worked out from the
# others (the total minus the rest); explained under every table that has one.
HIDDEN = "*"
TOP_ACTIVITIES = 10
DEFAULT_WEEKS = 26

Cell = int | float | str | date | None


def people(count: int) -> int | str:
    """A count of people or placements as it may be shown: 0, or 5 and more."""
    return count if count == 0 or count >= MIN_CELL else SUPPRESSED


def enough(count: int) -> bool:
    return count >= MIN_CELL


@dataclass(frozen=True)
class Scope:
    """Whose data a report covers; neither id: the whole territory (an operator)."""

    health_center_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None

    @property
    def is_territory(self) -> bool:
        return self.health_center_id is None and self.organization_id is None


@dataclass(frozen=True)
class Column:
    key: str
    label: Any  # a lazy translation
    kind: str = "text"  # text, count, seconds, number, percent, date


@dataclass
class Table:
    name: str
    title: Any
    columns: list[Column]
    rows: list[dict[str, Cell]] = field(default_factory=list)
    note: Any = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "title": str(self.title),
            "note": str(self.note),
            "columns": [
                {"key": c.key, "label": str(c.label), "kind": c.kind} for c in self.columns
            ],
            "rows": [{k: _json_cell(v) for k, v in row.items()} for row in self.rows],
        }


def _json_cell(value: Cell) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass
class Report:
    scope: Scope
    scope_name: str
    start: date
    end: date
    tables: dict[str, Table]

    def as_json(self) -> dict[str, Any]:
        return {
            "scope": {
                "health_center_id": self.scope.health_center_id,
                "organization_id": self.scope.organization_id,
                "name": self.scope_name,
            },
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "min_cell": MIN_CELL,
            "suppressed": SUPPRESSED,
            "tables": {name: table.as_json() for name, table in self.tables.items()},
        }


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
        from community_catalog.models import Organization

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
        _weekly(
            start, end, [row[1] for row in rows], _("Referrals filed per week"), _("Referrals")
        ),
        _per_need(needs, _("Referrals per need")),
    ]
    if scope.is_territory:
        tables.append(_per_center(rows, slipped))
    engaged = {step: {referral_of[p] for p in members} for step, members in reached.items()}
    tables.append(
        _funnel(
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
        _delays(
            [
                (
                    _("From filing to the slip"),
                    [(slipped[r] - filed_at[r]).total_seconds() for r in matched & slipped.keys()],
                ),
                (_("From filing to an organisation's first answer"), list(answer_delays.values())),
            ]
        )
    )
    tables.append(_reasons([(p[3], p[4]) for p in placements]))
    tables.append(_top_activities(Counter(p[2] for p in placements)))
    # Nothing found: looked (an unmatched referral's slip says so, hence slip_ready)
    # and holds no match.
    looked = (Referral.Stage.UNMATCHED, Referral.Stage.SLIP_READY)
    unmatched = [row for row in rows if row[3] in looked and row[0] not in matched]
    tables.append(_unmet(unmatched, needs))
    tables.append(
        _unmet_reasons(
            referrals.filter(id__in=[row[0] for row in unmatched]).values_list(
                "unmatched_explanation", flat=True
            )
        )
    )
    tables.append(_wellbeing(WellbeingMeasure.objects.filter(referral__in=referrals)))
    return tables


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


def _term_labels(codes: Iterable[str]) -> dict[str, str]:
    from django.utils.translation import get_language

    language = (get_language() or "fr")[:2]
    return {
        term.code: term.label(language) for term in TaxonomyTerm.objects.filter(code__in=set(codes))
    }


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


def _weekly(start: date, end: date, moments: list[datetime], title: Any, what: Any) -> Table:
    counts = Counter(_monday(timezone.localtime(m).date()) for m in moments)
    table = Table(
        "weekly",
        title,
        [Column("week", _("Week of"), "date"), Column("count", what, "count")],
    )
    week = _monday(start)
    while week <= end:
        table.rows.append({"week": week, "count": counts.get(week, 0)})
        week += timedelta(weeks=1)
    return _protect(table, ("count",))


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _per_need(needs: dict[uuid.UUID, list[str]], title: Any) -> Table:
    counts = Counter(code for codes in needs.values() for code in set(codes))
    labels = _term_labels(counts)
    table = Table(
        "needs",
        title,
        [
            Column("need", _("Need")),
            Column("code", _("Code")),
            Column("count", _("Referrals"), "count"),
        ],
        note=_("A referral can name several needs."),
    )
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.rows.append({"need": labels.get(code, code), "code": code, "count": count})
    return _protect(table, ("count",))


def _per_center(rows: list[tuple[Any, ...]], slipped: dict[uuid.UUID, datetime]) -> Table:
    filed = Counter(row[2] for row in rows)
    slips = Counter(row[2] for row in rows if row[0] in slipped)
    names = dict(HealthCenter.objects.filter(id__in=filed.keys()).values_list("id", "name"))
    table = Table(
        "centers",
        _("Referrals per health centre"),
        [
            Column("center", _("Health centre")),
            Column("count", _("Referrals"), "count"),
            Column("slips", _("Slips printed"), "count"),
        ],
    )
    for center_id, count in sorted(filed.items(), key=lambda item: (-item[1], names[item[0]])):
        table.rows.append(
            {
                "center": names[center_id],
                "count": count,
                "slips": slips.get(center_id, 0),
            }
        )
    return _protect(table, ("count", "slips"))


def _funnel(steps: Sequence[tuple[Any, set[Any]]], what: Any) -> Table:
    """Each step's count, what was lost since the step before, and the share of the
    first step still there. A step holds only what also reached the steps before it."""
    table = Table(
        "funnel",
        _("From filing to taking part"),
        [
            Column("step", _("Step")),
            Column("count", what, "count"),
            Column("lost", _("Lost since the step before"), "count"),
            Column("share", _("Share of the first step"), "percent"),
        ],
    )
    kept: set[Any] = set()
    first = 0
    last_shown: int | None = None  # the last count shown exactly
    previous_shown = False
    for index, (label, members) in enumerate(steps):
        kept = set(members) if index == 0 else kept & members
        count = len(kept)
        if index == 0:
            first = count
        shown: int | str = count
        if people(count) == SUPPRESSED:
            shown = SUPPRESSED
        elif last_shown is not None and 0 < last_shown - count < MIN_CELL:
            # Shown, it would give away the few lost since the last count shown.
            shown = HIDDEN
        lost: Cell = None
        if index:
            exact = isinstance(shown, int) and previous_shown
            lost = (last_shown or 0) - count if exact else HIDDEN
        table.rows.append(
            {"step": str(label), "count": shown, "lost": lost, "share": _share(shown, first)}
        )
        previous_shown = isinstance(shown, int)
        if previous_shown:
            last_shown = count
    return table


def _share(shown: int | str, first: int) -> Cell:
    """A step's count as a percentage of the first step, unless either is concealed."""
    if not first:
        return None
    if people(first) == SUPPRESSED:
        return SUPPRESSED
    if not isinstance(shown, int):
        return shown
    return round(100 * shown / first, 1)


def _protect(table: Table, columns: Sequence[str]) -> Table:
    """Conceal the small counts of these columns, whose rows add up to a total that can
    be known: 1 to 4 become "< 5"; then, while one concealed cell could be worked out
    (it is alone, or the concealed cells hold fewer than five together), the smallest
    count still shown is hidden ("*")."""
    for column in columns:
        raw = [value if isinstance(value := row[column], int) else 0 for row in table.rows]
        concealed = {i for i, value in enumerate(raw) if 0 < value < MIN_CELL}
        while concealed and (len(concealed) < 2 or sum(raw[i] for i in concealed) < MIN_CELL):
            shown = [i for i, value in enumerate(raw) if value and i not in concealed]
            if not shown:
                break
            concealed.add(min(shown, key=lambda i: raw[i]))
        for i in concealed:
            table.rows[i][column] = SUPPRESSED if raw[i] < MIN_CELL else HIDDEN
    return table


def _delays(measures: Sequence[tuple[Any, list[float]]]) -> Table:
    table = Table(
        "delays",
        _("How long it takes"),
        [
            Column("measure", _("Measure")),
            Column("count", _("People"), "count"),
            Column("median_seconds", _("Median"), "seconds"),
            Column("p90_seconds", _("9 in 10 within"), "seconds"),
        ],
    )
    for label, seconds in measures:
        table.rows.append(
            {
                "measure": str(label),
                "count": people(len(seconds)),
                "median_seconds": _statistic(seconds, statistics.median),
                "p90_seconds": _statistic(seconds, _p90),
            }
        )
    return table


def _statistic(values: list[float], compute: Any) -> Cell:
    """A statistic of at least five values, in whole units; none of no values."""
    if not values:
        return None
    return round(compute(values)) if enough(len(values)) else SUPPRESSED


def _p90(values: list[float]) -> float:
    """The 90th percentile, nearest rank."""
    ordered = sorted(values)
    rank = max(0, -(-9 * len(ordered) // 10) - 1)
    return ordered[rank]


def _reasons(statuses: list[tuple[str, str]]) -> Table:
    counts = Counter(
        reason for status, reason in statuses if status == Placement.Status.REJECTED and reason
    )
    table = Table(
        "rejections",
        _("Why placements were declined"),
        [
            Column("reason", _("Reason")),
            Column("code", _("Code")),
            Column("count", _("Placements"), "count"),
        ],
    )
    for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.rows.append(
            {
                "reason": str(PLACEMENT_REASONS.get(reason, reason)),
                "code": reason,
                "count": count,
            }
        )
    return _protect(table, ("count",))


def _top_activities(counts: Counter[uuid.UUID]) -> Table:
    table = Table(
        "activities",
        _("Activities receiving the most referrals"),
        [
            Column("activity", _("Activity")),
            Column("organization", _("Organisation")),
            Column("place", _("Place")),
            Column("cost", _("Cost")),
            Column("count", _("Referrals"), "count"),
        ],
    )
    top = counts.most_common(TOP_ACTIVITIES)
    sals = ServiceAtLocation.objects.select_related("service__organization", "location").in_bulk(
        [sal_id for sal_id, _count in top]
    )
    for sal_id, count in top:
        sal = sals[sal_id]
        table.rows.append(
            {
                "activity": sal.service.name,
                "organization": sal.service.organization.name,
                "place": "" if sal.location.is_confidential else sal.location.name,
                "cost": str(COST_STATES.get(sal.service.cost, sal.service.cost)),
                "count": people(count),
            }
        )
    return table


def postcode_area(postcode: str) -> str:
    """The area a referral came from: its postcode; an erased referral keeps only the
    département, shown as "69…"."""
    compact = postcode.replace(" ", "")
    if not compact:
        return str(_("Position only"))
    return compact if len(compact) >= 5 else f"{compact}\N{HORIZONTAL ELLIPSIS}"


def _unmet(unmatched: list[tuple[Any, ...]], needs: dict[uuid.UUID, list[str]]) -> Table:
    counts = Counter(
        (postcode_area(row[4]), code) for row in unmatched for code in set(needs.get(row[0], []))
    )
    labels = _term_labels(code for _area, code in counts)
    table = Table(
        "unmet",
        _("Needs that found no activity, by area"),
        [
            Column("area", _("Area (postcode)")),
            Column("need", _("Need")),
            Column("code", _("Code")),
            Column("count", _("Referrals"), "count"),
        ],
        note=_("Referrals that ended with no activity found: the gaps to fill."),
    )
    for (area, code), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.rows.append(
            {"area": area, "need": labels.get(code, code), "code": code, "count": count}
        )
    return _protect(table, ("count",))


def _unmet_reasons(explanations: Iterable[Any]) -> Table:
    """Why referrals found nothing: what to do about the gaps differs (map a directory's
    terms, find free activities, wait for a season)."""
    counts = Counter(str(e["code"]) for e in explanations if isinstance(e, dict) and e.get("code"))
    table = Table(
        "unmet_reasons",
        _("Why nothing was found"),
        [
            Column("reason", _("Reason")),
            Column("code", _("Code")),
            Column("count", _("Referrals"), "count"),
        ],
        note=_("The first filter that left nothing, as matching explained it."),
    )
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.rows.append(
            {"reason": str(UNMATCHED_REASONS.get(code, code)), "code": code, "count": count}
        )
    return _protect(table, ("count",))


QUESTION_LABELS = {
    "life_satisfaction": _("Life satisfaction"),
    "worthwhile": _("Things done are worthwhile"),
    "happiness": _("Happiness yesterday"),
    "anxiety": _("Anxiety yesterday (lower is better)"),
}


def _wellbeing(measures: Any) -> Table:
    """The change per person: their last answer after an activity minus their answer
    when referred, averaged over the people who have both."""
    baseline: dict[uuid.UUID, dict[str, int]] = {}
    follow_up: dict[uuid.UUID, tuple[datetime, dict[str, int]]] = {}
    for measure in measures.order_by("recorded_at"):
        scores = {q: getattr(measure, q) for q in WELLBEING_QUESTIONS}
        if measure.timepoint == WellbeingMeasure.Timepoint.BASELINE:
            baseline[measure.referral_id] = scores
        else:
            follow_up[measure.referral_id] = (measure.recorded_at, scores)
    paired = [(baseline[r], after) for r, (_at, after) in follow_up.items() if r in baseline]
    table = Table(
        "wellbeing",
        _("Wellbeing before and after (ONS questions, 0 to 10)"),
        [
            Column("question", _("Question")),
            Column("count", _("People"), "count"),
            Column("before", _("Mean before"), "number"),
            Column("after", _("Mean after"), "number"),
            Column("change", _("Mean change"), "number"),
        ],
        note=_("Only people asked both when referred and when an activity ended."),
    )
    shown = enough(len(paired))
    for question in WELLBEING_QUESTIONS:
        before = [b[question] for b, _a in paired]
        after = [a[question] for _b, a in paired]

        def mean(values: list[int]) -> Cell:
            if not values:
                return None
            return round(statistics.fmean(values), 1) if shown else SUPPRESSED

        table.rows.append(
            {
                "question": str(QUESTION_LABELS[question]),
                "count": people(len(paired)),
                "before": mean(before),
                "after": mean(after),
                "change": mean([a - b for a, b in zip(after, before, strict=True)]),
            }
        )
    return table


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
        _weekly(
            start,
            end,
            [row[2] for row in rows],
            _("Placements offered to you per week"),
            _("Placements"),
        ),
        _per_need(per_placement_needs, _("Placements offered to you, per need")),
        _funnel(
            [
                (_("Offered to you"), set(ids)),
                (_("Accepted"), reached["accepted"]),
                (_("Started an activity"), reached["in-progress"]),
                (_("Completed an activity"), reached["completed"]),
            ],
            _("Placements"),
        ),
        _delays(
            [
                (
                    _("From the offer to your answer"),
                    [(at - requested_at[p]).total_seconds() for p, at in answers.items()],
                )
            ]
        ),
        _reasons([(row[4], row[5]) for row in rows]),
        _top_activities(Counter(row[3] for row in rows)),
    ]
    return tables
