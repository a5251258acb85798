"""When an activity can be offered (`offer_run`): a session within the offer horizon, or
no dates at all. Checked on hand-written schedules, then against the sessions themselves
for any schedule hypothesis finds, on every day of the following months."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from community_catalog.models import Schedule
from community_catalog.schedules import (
    OfferRun,
    offer_run,
    schedule_happens,
    schedule_weekdays,
)

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2026, 12, 6)  # a Sunday
H = 42


def schedule(**fields) -> Schedule:
    fields.setdefault("freq", "WEEKLY")
    fields.setdefault("opens_at", time(14, 0))
    fields.setdefault("closes_at", time(16, 0))
    made = Schedule(**fields)
    made.weekdays = schedule_weekdays(made)
    return made


def run(*schedules: Schedule, today: date = TODAY) -> OfferRun:
    return offer_run(schedules, today=today, horizon_days=H)


def test_a_weekly_activity_runs_on_and_on() -> None:
    found = run(schedule(byday="TU"))
    assert found == OfferRun(run_from=TODAY, run_until=None)
    assert found.offered_on(TODAY, H)


def test_a_summer_walk_that_ended_is_never_offered() -> None:
    found = run(schedule(byday="WE", valid_from=date(2026, 6, 1), valid_to=date(2026, 9, 30)))
    assert found.ended
    assert not found.offered_on(TODAY, H)


def test_a_garden_back_in_march_is_offered_once_march_is_within_the_horizon() -> None:
    garden = schedule(byday="SA", valid_from=date(2027, 3, 6), dtstart=date(2025, 3, 1))
    found = run(garden)
    assert found.run_from == date(2027, 3, 6)
    assert found.resumes_on == date(2027, 3, 6)
    assert found.starts_on is None
    assert not found.offered_on(TODAY, H)
    assert found.offered_on(date(2027, 1, 23), H)  # 42 days before


def test_a_new_activity_starts_rather_than_resumes() -> None:
    found = run(schedule(byday="TH", dtstart=date(2026, 12, 17)))
    assert found.starts_on == date(2026, 12, 17)
    assert found.resumes_on is None
    assert found.offered_on(TODAY, H)


def test_the_run_ends_with_the_last_session_not_the_last_valid_day() -> None:
    # Tuesdays until Friday 18 December: the last session is Tuesday 15 December.
    found = run(schedule(byday="TU", valid_to=date(2026, 12, 18)))
    assert found.run_until == date(2026, 12, 15)
    assert not found.offered_on(date(2026, 12, 16), H)


def test_the_first_tuesday_of_the_month_is_a_run_that_goes_on() -> None:
    found = run(schedule(freq="MONTHLY", byday="1TU"))
    assert found == OfferRun(run_from=TODAY, run_until=None)


def test_a_fifth_tuesday_or_a_friday_the_13th_is_walked_not_assumed() -> None:
    fifth = run(schedule(freq="MONTHLY", byday="5TU"))
    assert fifth.run_from == date(2026, 12, 29)
    assert fifth.run_until == date(2026, 12, 29)  # the next one is in March
    assert run(
        fifth_tuesday := schedule(freq="MONTHLY", byday="5TU"), today=date(2026, 12, 30)
    ).run_from == date(2027, 3, 30)
    assert not run(fifth_tuesday, today=date(2026, 12, 30)).offered_on(date(2026, 12, 30), H)
    friday_13 = run(schedule(byday="FR", bymonthday="13"))
    assert friday_13.run_from == date(2027, 8, 13)
    assert not friday_13.offered_on(TODAY, H)


def test_a_monthly_rule_on_the_31st_is_walked_through_the_short_months() -> None:
    # No day given: the day it started on, the 31st; after 31 August comes 31 October.
    found = run(schedule(freq="MONTHLY", dtstart=date(2026, 1, 31)), today=date(2026, 9, 1))
    assert found.run_from == date(2026, 10, 31)
    assert not found.offered_on(date(2026, 9, 1), H)


def test_sessions_further_apart_than_the_horizon_are_runs_of_their_own() -> None:
    # Every third month, on the 10th: 10 January, then 10 April.
    quarterly = schedule(freq="MONTHLY", interval=3, bymonthday="10", dtstart=date(2026, 10, 10))
    found = run(quarterly)
    assert found.run_from == date(2027, 1, 10)
    assert found.run_until == date(2027, 1, 10)
    assert found.offered_on(TODAY, H)  # 35 days away: inside 42
    assert not found.offered_on(date(2026, 11, 28), H)  # 43 days away
    assert run(quarterly, today=date(2027, 1, 11)).run_from == date(2027, 4, 10)


def test_a_course_of_four_sessions_is_over_after_the_fourth() -> None:
    course = schedule(byday="MO", dtstart=date(2026, 11, 2), count=4)
    assert run(course).ended  # 2, 9, 16, 23 November


def test_seasons_join_when_the_break_is_shorter_than_the_horizon() -> None:
    autumn = schedule(byday="FR", valid_to=date(2026, 12, 18))
    winter = schedule(byday="FR", valid_from=date(2027, 1, 8))
    found = run(autumn, winter)
    assert found.run_from == TODAY
    assert found.run_until is None


def test_no_schedule_or_words_only_is_undated_and_offered() -> None:
    assert run() == OfferRun(undated=True)
    call = Schedule(description="Appelez pour connaître les horaires")
    assert run(call) == OfferRun(undated=True)
    assert run(call).offered_on(TODAY, H)


def test_words_only_that_ended_is_not_offered() -> None:
    over = Schedule(description="Été 2026", valid_from=date(2026, 6, 1), valid_to=date(2026, 8, 31))
    assert run(over).ended


def test_a_dated_run_wins_over_words_and_ended_dates_leave_words() -> None:
    call = Schedule(description="Appelez")
    assert run(call, schedule(byday="TU")) == OfferRun(run_from=TODAY, run_until=None)
    ended = schedule(byday="TU", valid_to=date(2026, 10, 1))
    assert run(call, ended) == OfferRun(undated=True)


# --- Property: offered exactly when a session falls within the horizon ---------------

days = st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"])


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    freq = draw(st.sampled_from(["WEEKLY", "MONTHLY"]))
    fields: dict = {"freq": freq, "interval": draw(st.sampled_from([None, 1, 2, 3, 5]))}
    if freq == "WEEKLY":
        fields["byday"] = ",".join(sorted(set(draw(st.lists(days, min_size=1, max_size=3)))))
        if draw(st.integers(0, 4)) == 0:
            fields["bymonthday"] = str(draw(st.sampled_from([13, 1, 31])))
    else:
        how = draw(st.sampled_from(["nth", "monthday", "both", "none"]))
        if how in ("nth", "both"):
            fields["byday"] = f"{draw(st.sampled_from([1, 2, 3, 4, 5, -1, -5]))}{draw(days)}"
        if how in ("monthday", "both"):
            fields["bymonthday"] = str(draw(st.sampled_from([1, 10, 13, 28, 29, 30, 31])))
    offset = st.integers(-400, 400).map(lambda n: TODAY + timedelta(days=n))
    for name in ("dtstart", "valid_from"):
        fields[name] = draw(st.none() | offset)
    for name, start in (("valid_to", "valid_from"), ("until", "dtstart")):
        end = draw(st.none() | offset)
        if end and fields[start] and end < fields[start]:
            end = fields[start] + timedelta(days=draw(st.integers(0, 200)))
        fields[name] = end
    fields["count"] = draw(st.none() | st.integers(1, 12))
    made = schedule(**fields)
    assume(schedule_happens(made))
    return made


def _truth(found: list[Schedule], day: date, horizon: int = H) -> bool:
    """A session on a day from `day` to `day + H`, walking each rule with dateutil
    directly (not through the code under test's shortcuts)."""
    for schedule in found:
        for start in _dates(schedule):
            if start > day + timedelta(days=horizon):
                break
            if start >= day:
                return True
    return False


def _dates(schedule: Schedule) -> list[date]:
    """Every session date of a rule from its start, as RFC 5545 reads it, within ±2 years:
    dtstart (else valid_from, else a fixed Monday) anchors `interval` and `count`;
    `until`, `valid_from` and `valid_to` bound it."""
    from dateutil import rrule

    from community_catalog.schedules import byday_parse, int_list_parse

    first = schedule.dtstart or schedule.valid_from or date(2024, 1, 1)
    monthdays = int_list_parse(schedule.bymonthday, low=1, high=31) or None
    weekdays = byday_parse(schedule.byday) or None
    if schedule.freq == "MONTHLY" and not (monthdays or weekdays):
        monthdays = [first.day]
    rule = rrule.rrule(
        rrule.WEEKLY if schedule.freq == "WEEKLY" else rrule.MONTHLY,
        interval=schedule.interval or 1,
        byweekday=weekdays,
        bymonthday=monthdays,
        dtstart=datetime.combine(first, time(14)),
        count=schedule.count,
    )
    last = TODAY + timedelta(days=730)
    found = []
    for start in rule:
        if start.date() > last:
            break
        if schedule.valid_from and start.date() < schedule.valid_from:
            continue
        if any(end and start.date() > end for end in (schedule.valid_to, schedule.until)):
            break
        found.append(start.date())
    return found


@settings(max_examples=150, deadline=None)
@given(st.lists(schedules(), min_size=1, max_size=3), st.sampled_from([H, 10, 130]))
def test_offered_exactly_when_a_session_falls_within_the_horizon(
    found: list[Schedule], horizon: int
) -> None:
    built = offer_run(found, today=TODAY, horizon_days=horizon)
    for step in range(0, 120, 3):
        day = TODAY + timedelta(days=step)
        if built.run_until is not None and built.run_until < day:
            # The relay's daily check rebuilds a run that ended: as it would.
            built = offer_run(found, today=day, horizon_days=horizon)
        assert built.offered_on(day, horizon) == _truth(found, day, horizon), (day, built)
