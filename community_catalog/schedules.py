"""Sessions of an activity, from HSDS's iCal-style schedule fields, with dateutil's rrule."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from dateutil import rrule
from django.conf import settings

from community_catalog.models import Schedule, ServiceAtLocation

_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_WEEKDAYS = dict(zip(WEEKDAY_CODES, rrule.weekdays, strict=True))
_FREQ: dict[str, Literal[1, 2]] = {"WEEKLY": rrule.WEEKLY, "MONTHLY": rrule.MONTHLY}
# Without an explicit dtstart, "every other week" needs a fixed anchor so that every
# process computes the same weeks: a Monday long ago.
_ANCHOR = date(2024, 1, 1)
# How far ahead sessions are looked for.
SESSION_HORIZON_DAYS = 730


@dataclass(frozen=True)
class Session:
    starts_at: datetime
    ends_at: datetime


def byday_parse(value: str) -> list[rrule.weekday]:
    """`"TU,TH"` → `[TU, TH]`; `"2TU"` → `[TU(+2)]` (the second Tuesday of the month)."""
    days = []
    for token in (t.strip().upper() for t in value.split(",")):
        if not token:
            continue
        match = _BYDAY.match(token)
        if not match:
            raise ValueError(f"{token!r} is not an iCal day such as 'TU' or '2TU'")
        nth, day = match.groups()
        if nth and not (1 <= abs(int(nth)) <= 5):
            raise ValueError(f"{token!r}: the occurrence in a month must be 1 to 5 or -1 to -5")
        weekday = _WEEKDAYS[day]
        days.append(weekday(int(nth)) if nth else weekday)
    return days


def int_list_parse(value: str, *, low: int, high: int) -> list[int]:
    """`"2,3,-1"` → `[2, 3, -1]`, each within ±[low, high] (iCal BYMONTHDAY and the like)."""
    numbers = []
    for token in (t.strip() for t in value.split(",")):
        if not token:
            continue
        try:
            number = int(token)
        except ValueError:
            raise ValueError(f"{token!r} is not a whole number") from None
        if not (low <= abs(number) <= high):
            raise ValueError(f"{number} is out of range (±{low} to ±{high})")
        numbers.append(number)
    return numbers


def schedule_weekdays(schedule: Schedule) -> str:
    """The days of the week `schedule` can meet on, as `"MO,TH"`; empty when unknown.

    Stored on the row so that search can filter by weekday in the database.
    """
    if schedule.byday:
        codes = {day.strip()[-2:].upper() for day in schedule.byday.split(",") if day.strip()}
        return ",".join(code for code in WEEKDAY_CODES if code in codes)
    if schedule.freq == Schedule.Freq.WEEKLY and schedule.dtstart:
        return WEEKDAY_CODES[schedule.dtstart.weekday()]
    return ""


def _start_near(schedule: Schedule, start: date, today: date) -> date:
    """Move a long-past start forward by whole periods (`interval` weeks or months), so
    the rule is not walked from years ago on every call; the sessions are the same.
    A rule with `count` keeps its start: its occurrences are counted from it."""
    interval = schedule.interval or 1
    if schedule.count is not None or today - start < timedelta(days=400):
        return start
    if schedule.freq == "WEEKLY":
        weeks = (today - start).days // 7
        return start + timedelta(weeks=(weeks // interval - 1) * interval)
    months = (today.year - start.year) * 12 + today.month - start.month
    shift = (months // interval - 1) * interval
    year, month = divmod(start.month - 1 + shift, 12)
    return date(start.year + year, month + 1, 1)


def schedule_happens(schedule: Schedule) -> bool:
    """Whether the rule has any occurrence at all (`MO` with `bymonthday 31` and
    `byyearday 1` has none). Checked when a schedule is written: dateutil walks such a
    rule to the year 9999 before giving up, which must never happen on a search."""
    if schedule.freq not in _FREQ or schedule.opens_at is None:
        return True
    first_day = schedule.dtstart or schedule.valid_from or _ANCHOR
    rule = rrule.rrule(
        _FREQ[schedule.freq],
        interval=schedule.interval or 1,
        wkst=_WEEKDAYS.get(schedule.wkst),
        byweekday=byday_parse(schedule.byday) or None,
        bymonthday=int_list_parse(schedule.bymonthday, low=1, high=31) or None,
        byweekno=int_list_parse(schedule.byweekno, low=1, high=53) or None,
        byyearday=int_list_parse(schedule.byyearday, low=1, high=366) or None,
        dtstart=datetime.combine(first_day, schedule.opens_at),
        count=1,
        cache=False,
    )
    return next(iter(rule), None) is not None


def schedule_sessions(schedule: Schedule, *, after: datetime, count: int) -> list[Session]:
    """The next `count` sessions of `schedule` that start after `after`, in local time.

    Recurrence is computed on naive wall-clock times and the zone attached afterwards, so
    a 14:00 workshop stays at 14:00 across a daylight-saving change. A schedule without a
    frequency or an opening time describes no sessions.
    """
    if schedule.freq not in _FREQ or schedule.opens_at is None:
        return []
    zone = ZoneInfo(settings.TIME_ZONE)
    local_after = after.astimezone(zone).replace(tzinfo=None)
    first_day = schedule.dtstart or schedule.valid_from or _ANCHOR
    last_day = min((d for d in (schedule.until, schedule.valid_to) if d), default=None)
    if last_day and last_day < local_after.date():
        return []
    bymonthday = int_list_parse(schedule.bymonthday, low=1, high=31) or None
    byweekday = byday_parse(schedule.byday) or None
    if schedule.freq == "MONTHLY" and not (bymonthday or byweekday):
        bymonthday = [first_day.day]  # kept explicit: the start may move below
    first_day = _start_near(schedule, first_day, local_after.date())
    # Sessions further away than the horizon are of no use to anyone, and the bound
    # keeps a rule that never matches (MO with bymonthday 31 and byyearday 1) from being
    # walked to the year 9999.
    horizon = local_after.date() + timedelta(days=SESSION_HORIZON_DAYS)
    end = min(last_day, horizon) if last_day else horizon
    rule = rrule.rrule(
        _FREQ[schedule.freq],
        interval=schedule.interval or 1,
        wkst=_WEEKDAYS.get(schedule.wkst),
        byweekday=byweekday,
        bymonthday=bymonthday,
        byweekno=int_list_parse(schedule.byweekno, low=1, high=53) or None,
        byyearday=int_list_parse(schedule.byyearday, low=1, high=366) or None,
        dtstart=datetime.combine(first_day, schedule.opens_at),
        until=datetime.combine(end, time.max),
        cache=False,
    )
    if schedule.count:
        # `count` occurrences from the start (which `_start_near` left in place): walk
        # from it, counting, and keep those after `after`.
        starts = (start for start in itertools.islice(rule, schedule.count) if start > local_after)
    else:
        starts = rule.xafter(local_after)
    closes_at = schedule.closes_at or schedule.opens_at
    duration = datetime.combine(_ANCHOR, closes_at) - datetime.combine(_ANCHOR, schedule.opens_at)
    sessions: list[Session] = []
    for start in starts:
        if len(sessions) >= count:
            break
        if schedule.valid_from is None or start.date() >= schedule.valid_from:
            starts_at = start.replace(tzinfo=zone)
            sessions.append(Session(starts_at, starts_at + max(duration, timedelta(0))))
    return sessions


def next_sessions(schedules: Iterable[Schedule], *, after: datetime, count: int) -> list[Session]:
    """The next `count` sessions across several schedules, soonest first."""
    merged = [s for sch in schedules for s in schedule_sessions(sch, after=after, count=count)]
    return sorted(merged, key=lambda s: s.starts_at)[:count]


def service_at_location_sessions(
    sal: ServiceAtLocation, *, after: datetime, count: int = 3
) -> list[Session]:
    """The next `count` sessions of an activity at a place, as timezone-aware datetimes
    in `TIME_ZONE` (Europe/Paris unless configured).

    Its own schedules count first; without any, the service's schedules apply (HSDS lets a
    publisher attach schedules to either). Prefetch `schedules` and `service__schedules`
    when calling this for many rows.
    """
    schedules = list(sal.schedules.all()) or list(sal.service.schedules.all())
    return next_sessions(schedules, after=after, count=count)
