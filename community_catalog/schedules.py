"""Sessions of an activity, from HSDS's iCal-style schedule fields, with dateutil's rrule."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from dateutil import rrule
from django.conf import settings

from community_catalog.models import Schedule

_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_WEEKDAYS = {
    "MO": rrule.MO,
    "TU": rrule.TU,
    "WE": rrule.WE,
    "TH": rrule.TH,
    "FR": rrule.FR,
    "SA": rrule.SA,
    "SU": rrule.SU,
}
_FREQ: dict[str, Literal[1, 2]] = {"WEEKLY": rrule.WEEKLY, "MONTHLY": rrule.MONTHLY}
# Without an explicit dtstart, "every other week" needs a fixed anchor so that every
# process computes the same weeks: a Monday long ago.
_ANCHOR = date(2024, 1, 1)


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
        weekday = _WEEKDAYS[day]
        days.append(weekday(int(nth)) if nth else weekday)
    return days


def schedule_sessions(schedule: Schedule, *, after: datetime, count: int) -> list[Session]:
    """The next `count` sessions of `schedule` that start after `after`, in local time.

    Recurrence is computed on naive wall-clock times and the zone attached afterwards, so
    a 14:00 workshop stays at 14:00 across a daylight-saving change.
    """
    zone = ZoneInfo(settings.TIME_ZONE)
    local_after = after.astimezone(zone).replace(tzinfo=None)
    first_day = schedule.dtstart or schedule.valid_from or _ANCHOR
    last_day = min((d for d in (schedule.until, schedule.valid_to) if d), default=None)
    if last_day and last_day < local_after.date():
        return []
    rule = rrule.rrule(
        _FREQ[schedule.freq],
        interval=schedule.interval or 1,
        byweekday=byday_parse(schedule.byday) or None,
        dtstart=datetime.combine(first_day, schedule.opens_at),
        until=datetime.combine(last_day, time.max) if last_day else None,
        cache=False,
    )
    duration = datetime.combine(_ANCHOR, schedule.closes_at) - datetime.combine(
        _ANCHOR, schedule.opens_at
    )
    sessions: list[Session] = []
    start = rule.after(local_after)
    while start is not None and len(sessions) < count:
        if schedule.valid_from is None or start.date() >= schedule.valid_from:
            starts_at = start.replace(tzinfo=zone)
            sessions.append(Session(starts_at, starts_at + max(duration, timedelta(0))))
        start = rule.after(start)
    return sessions


def next_sessions(schedules: Iterable[Schedule], *, after: datetime, count: int) -> list[Session]:
    """The next `count` sessions across several schedules, soonest first."""
    merged = [s for sch in schedules for s in schedule_sessions(sch, after=after, count=count)]
    return sorted(merged, key=lambda s: s.starts_at)[:count]
