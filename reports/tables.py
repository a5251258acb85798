"""The tables of an outcome report, each from the rows it is given: weekly counts, funnels,
delays, reasons, unmet needs, wellbeing. Small groups are suppressed (`protect`)."""

from __future__ import annotations

import statistics
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import HealthCenter
from community_catalog.labels import COST_STATES
from community_catalog.models import ServiceAtLocation, TaxonomyTerm
from referrals.labels import PLACEMENT_REASONS, UNMATCHED_REASONS
from referrals.models import WELLBEING_QUESTIONS, Placement, WellbeingMeasure
from reports.report_model import (
    HIDDEN,
    MIN_CELL,
    SUPPRESSED,
    TOP_ACTIVITIES,
    Cell,
    Column,
    Table,
    enough,
    people,
)


def weekly(start: date, end: date, moments: list[datetime], title: Any, what: Any) -> Table:
    counts = Counter(monday(timezone.localtime(m).date()) for m in moments)
    table = Table(
        "weekly",
        title,
        [Column("week", _("Week of"), "date"), Column("count", what, "count")],
    )
    week = monday(start)
    while week <= end:
        table.rows.append({"week": week, "count": counts.get(week, 0)})
        week += timedelta(weeks=1)
    return protect(table, ("count",))


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def per_need(needs: dict[uuid.UUID, list[str]], title: Any) -> Table:
    counts = Counter(code for codes in needs.values() for code in set(codes))
    labels = term_labels(counts)
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
    return protect(table, ("count",))


def per_center(rows: list[tuple[Any, ...]], slipped: dict[uuid.UUID, datetime]) -> Table:
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
    return protect(table, ("count", "slips"))


def funnel(steps: Sequence[tuple[Any, set[Any]]], what: Any) -> Table:
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
            {"step": str(label), "count": shown, "lost": lost, "share": share(shown, first)}
        )
        previous_shown = isinstance(shown, int)
        if previous_shown:
            last_shown = count
    return table


def share(shown: int | str, first: int) -> Cell:
    """A step's count as a percentage of the first step, unless either is concealed."""
    if not first:
        return None
    if people(first) == SUPPRESSED:
        return SUPPRESSED
    if not isinstance(shown, int):
        return shown
    return round(100 * shown / first, 1)


def protect(table: Table, columns: Sequence[str]) -> Table:
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


def delays(measures: Sequence[tuple[Any, list[float]]]) -> Table:
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
                "median_seconds": statistic(seconds, statistics.median),
                "p90_seconds": statistic(seconds, p90),
            }
        )
    return table


def statistic(values: list[float], compute: Any) -> Cell:
    """A statistic of at least five values, in whole units; none of no values."""
    if not values:
        return None
    return round(compute(values)) if enough(len(values)) else SUPPRESSED


def p90(values: list[float]) -> float:
    """The 90th percentile, nearest rank."""
    ordered = sorted(values)
    rank = max(0, -(-9 * len(ordered) // 10) - 1)
    return ordered[rank]


def reasons_table(statuses: list[tuple[str, str]]) -> Table:
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
    return protect(table, ("count",))


def top_activities(counts: Counter[uuid.UUID]) -> Table:
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


def unmet(unmatched: list[tuple[Any, ...]], needs: dict[uuid.UUID, list[str]]) -> Table:
    counts = Counter(
        (postcode_area(row[4]), code) for row in unmatched for code in set(needs.get(row[0], []))
    )
    labels = term_labels(code for _area, code in counts)
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
    return protect(table, ("count",))


def unmet_reasons(explanations: Iterable[Any]) -> Table:
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
    return protect(table, ("count",))


QUESTION_LABELS = {
    "life_satisfaction": _("Life satisfaction"),
    "worthwhile": _("Things done are worthwhile"),
    "happiness": _("Happiness yesterday"),
    "anxiety": _("Anxiety yesterday (lower is better)"),
}


def wellbeing(measures: Any) -> Table:
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


def term_labels(codes: Iterable[str]) -> dict[str, str]:
    from django.utils.translation import get_language

    language = (get_language() or "fr")[:2]
    return {
        term.code: term.label(language) for term in TaxonomyTerm.objects.filter(code__in=set(codes))
    }


def reached(
    groups: Sequence[tuple[Any, set[uuid.UUID]]],
    said_went: set[uuid.UUID],
    said_not_for_me: set[uuid.UUID],
    took_part: set[uuid.UUID],
) -> Table:
    """Uptake by channel: of the people whose slip was printed, by how their page's link
    reached them (or that no message did), how many said on their page that they went or
    that it was not for them (patient-reported), beside how many an organisation recorded
    as having started or completed an activity."""
    table = Table(
        "reached",
        _("Messages to people and what they said"),
        [
            Column("channel", _("Reached")),
            Column("people", _("People with a slip"), "count"),
            Column("said_went", _("Said they went"), "count"),
            Column("said_not_for_me", _("Said it was not for them"), "count"),
            Column("took_part", _("Took part, for the organisation"), "count"),
        ],
        note=_(
            "What people said on their own page is patient-reported: it is counted apart "
            "from what organisations recorded."
        ),
    )
    for label, members in groups:
        table.rows.append(
            {
                "channel": str(label),
                "people": len(members),
                "said_went": len(members & said_went),
                "said_not_for_me": len(members & said_not_for_me),
                "took_part": len(members & took_part),
            }
        )
    return protect(table, ["people", "said_went", "said_not_for_me", "took_part"])
