"""Sessions of an activity, from HSDS's iCal-style schedule fields, with dateutil's rrule."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal, Protocol
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


class ScheduleRule(Protocol):
    """What a schedule's days are read from: a `Schedule` row or an HSDS record of one."""

    @property
    def freq(self) -> str | None: ...
    @property
    def interval(self) -> int | None: ...
    @property
    def wkst(self) -> str | None: ...
    @property
    def byday(self) -> str: ...
    @property
    def bymonthday(self) -> str: ...
    @property
    def byweekno(self) -> str: ...
    @property
    def byyearday(self) -> str: ...
    @property
    def opens_at(self) -> time | None: ...
    @property
    def dtstart(self) -> date | None: ...
    @property
    def valid_from(self) -> date | None: ...


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


def schedule_weekdays(schedule: ScheduleRule) -> str:
    """The days of the week `schedule` can meet on, as `"MO,TH"`; empty when unknown.

    Stored on the row so that search can filter by weekday in the database.
    """
    if schedule.byday:
        codes = {day.strip()[-2:].upper() for day in schedule.byday.split(",") if day.strip()}
        return ",".join(code for code in WEEKDAY_CODES if code in codes)
    if schedule.freq == "WEEKLY" and schedule.dtstart:
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


def schedule_happens(schedule: ScheduleRule) -> bool:
    """Whether the rule has any occurrence at all (`MO` with `bymonthday 31` and
    `byyearday 1` has none). Checked when a schedule is written: dateutil walks such a
    rule to the year 9999 before giving up, which must never happen on a search.

    Nor on a write: the walk took seconds per rule. The Gregorian calendar repeats every
    400 years to the weekday (146,097 days, a whole number of weeks), so the rule is
    moved, whole cycles at a time, to start at most 800 years before 9999: its
    occurrences are the same days of the cycle, and the give-up comes ten times sooner.
    A rule whose first occurrence is more than 400 years away is taken as impossible.

    The answer depends on the rule alone, and a directory repeats the same few rules
    ("every Tuesday at 14:00") thousands of times: it is remembered."""
    if schedule.freq not in _FREQ or schedule.opens_at is None:
        return True
    return _rule_happens(
        schedule.freq,
        schedule.interval or 1,
        schedule.wkst or "",
        schedule.byday,
        schedule.bymonthday,
        schedule.byweekno,
        schedule.byyearday,
        datetime.combine(schedule.dtstart or schedule.valid_from or _ANCHOR, schedule.opens_at),
    )


@lru_cache(maxsize=4096)
def _rule_happens(
    freq: str,
    interval: int,
    wkst: str,
    byday: str,
    bymonthday: str,
    byweekno: str,
    byyearday: str,
    start: datetime,
) -> bool:
    cycles = max(0, (date.max.year - 800 - start.year) // 400)
    rule = rrule.rrule(
        _FREQ[freq],
        interval=interval,
        wkst=_WEEKDAYS.get(wkst),
        byweekday=byday_parse(byday) or None,
        bymonthday=int_list_parse(bymonthday, low=1, high=31) or None,
        byweekno=int_list_parse(byweekno, low=1, high=53) or None,
        byyearday=int_list_parse(byyearday, low=1, high=366) or None,
        dtstart=start.replace(year=start.year + 400 * cycles),
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


# --- When an activity can be offered ------------------------------------------------


@dataclass(frozen=True)
class OfferRun:
    """When an activity meets, as matching needs it (see `offer_run`).

    `run_from` and `run_until`: the current run of sessions, from its first session (or
    today, when it has begun) to its last (None: it goes on). Within a run, sessions are
    never more than the offer horizon apart, so on any day from `run_from - horizon` to
    `run_until` a session falls within the horizon. `undated`: no dated schedule at all,
    the person calls for the times. `resumes_on` / `starts_on`: the run begins after a
    break (a seasonal activity back in spring) or for the first time.
    """

    run_from: date | None = None
    run_until: date | None = None
    undated: bool = False
    resumes_on: date | None = None
    starts_on: date | None = None

    @property
    def ended(self) -> bool:
        return self.run_from is None and not self.undated

    def offered_on(self, today: date, horizon_days: int) -> bool:
        """Whether a session falls within `horizon_days` of `today` (or there are no
        dates to go by)."""
        if self.undated:
            return True
        if self.run_from is None:
            return False
        starts_soon = self.run_from <= today + timedelta(days=horizon_days)
        return starts_soon and (self.run_until is None or self.run_until >= today)


def _has_rule(schedule: Schedule) -> bool:
    return schedule.freq in _FREQ and schedule.opens_at is not None


def _bounds(schedule: Schedule) -> tuple[date | None, date | None]:
    """The first and last days a schedule's sessions may fall on."""
    starts = [d for d in (schedule.dtstart, schedule.valid_from) if d]
    ends = [d for d in (schedule.until, schedule.valid_to) if d]
    return (max(starts) if starts else None), (min(ends) if ends else None)


def _longest_gap(schedule: Schedule) -> int | None:
    """The most days between two sessions of a plain weekly or monthly rule, or None when
    the rule is not plain (week or year days, a count), and its dates must be walked."""
    if schedule.byweekno or schedule.byyearday or schedule.count:
        return None
    days = int_list_parse(schedule.bymonthday, low=1, high=31)
    weekdays = byday_parse(schedule.byday)
    if days and weekdays:
        return None  # a Friday the 13th: months apart, or years
    if any(day.n is not None and abs(day.n) >= 5 for day in weekdays):
        return None  # a fifth Tuesday: only some months have one
    interval = schedule.interval or 1
    if schedule.freq == "WEEKLY":
        return None if days else 7 * interval
    if not days and not weekdays:
        # The day of the month it started on, as `schedule_sessions` reads it.
        days = [(schedule.dtstart or schedule.valid_from or _ANCHOR).day]
    if any(abs(d) > 28 for d in days):
        # The 31st skips the months without one, and every other month more still.
        return 62 if interval == 1 else None
    return 35 * interval  # the first Tuesday of one month to the next: at most five weeks


_WALKED = 200  # sessions read at most when a rule's dates must be walked


def _coverage(
    schedule: Schedule, today: date, horizon: int
) -> list[tuple[date, date | None, bool]] | None:
    """The stretches of days a schedule has sessions over, from today: (first, last or
    None when it goes on, whether the first is a new start). None: no dated sessions
    (a schedule of words only, "call for times")."""
    first_bound, last_bound = _bounds(schedule)
    if not _has_rule(schedule):
        if last_bound and last_bound < today:
            return []  # ended
        if first_bound and first_bound > today:
            return [(first_bound, last_bound, True)]  # begins then, times to ask
        return None
    if last_bound and last_bound < today:
        return []
    zone = ZoneInfo(settings.TIME_ZONE)
    midnight = datetime.combine(today, time.min, tzinfo=zone)
    gap = _longest_gap(schedule)
    if gap is None or gap > horizon:
        # Sessions further apart than the horizon (or rules too rich to reason about):
        # each session is a stretch of its own.
        days = sorted(
            {s.starts_at.date() for s in schedule_sessions(schedule, after=midnight, count=_WALKED)}
        )
        return [(day, day, False) for day in days]
    # Plain and frequent: sessions never more than `gap` apart from its first to its last.
    begun = first_bound is None or first_bound <= today
    if begun:
        first = today
    else:
        found = schedule_sessions(schedule, after=midnight, count=1)
        if not found:
            return []
        first = found[0].starts_at.date()
    if last_bound is None:
        return [(first, None, not begun)]
    # The last session: within `gap` days of the last day it may fall on.
    near_end = max(
        datetime.combine(last_bound - timedelta(days=gap + 1), time.min, tzinfo=zone), midnight
    )
    tail = schedule_sessions(schedule, after=near_end, count=gap + 1)
    if not tail:
        return [] if begun else [(first, first, True)]
    return [(first, tail[-1].starts_at.date(), not begun)]


def offer_run(schedules: Iterable[Schedule], *, today: date, horizon_days: int) -> OfferRun:
    """When an activity can be offered, from its schedules (see `OfferRun`).

    1. Each schedule gives the stretches of days its sessions cover from today: a plain
       weekly or monthly rule one stretch (sessions are close together), a sparse or
       rich rule one per session, an ended one none, one of words only no dates at all.
    2. Stretches less than the horizon apart join into runs; the first run not over is
       the current one.
    3. Without any dated schedule, the activity is undated: offered, the person calls.
    """
    schedules = list(schedules)
    stretches: list[tuple[date, date | None, bool]] = []
    words_only = not schedules
    earlier = False
    for schedule in schedules:
        covered = _coverage(schedule, today, horizon_days)
        if covered is None:
            words_only = True
            continue
        stretches.extend(covered)
        # Sessions before today (a rule begun long ago, a season past): it resumes.
        began = min((d for d in (schedule.dtstart, schedule.valid_from) if d), default=_ANCHOR)
        if began < today:
            earlier = True
    if not stretches:
        return OfferRun(undated=words_only)
    stretches.sort(key=lambda s: (s[0], s[1] is not None, s[1] or s[0]))
    start, end, new_start = stretches[0]
    for first, last, _new in stretches[1:]:
        if end is None:
            break
        if first <= end + timedelta(days=horizon_days):
            end = None if last is None else max(end, last)
        else:
            break
    run_from = max(start, today)
    later = start > today and new_start
    return OfferRun(
        run_from=run_from,
        run_until=end,
        resumes_on=run_from if later and earlier else None,
        starts_on=run_from if later and not earlier else None,
    )
