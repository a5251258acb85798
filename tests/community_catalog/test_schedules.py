from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from community_catalog.models import Schedule
from community_catalog.schedules import (
    SESSION_HORIZON_DAYS,
    next_sessions,
    schedule_sessions,
    service_at_location_sessions,
)

PARIS = ZoneInfo("Europe/Paris")


def schedule(**fields) -> Schedule:
    return Schedule(opens_at=time(14, 0), closes_at=time(16, 0), **fields)


def starts(sessions) -> list[str]:
    return [s.starts_at.strftime("%Y-%m-%d %H:%M %z") for s in sessions]


def test_second_tuesday_of_the_month() -> None:
    sessions = schedule_sessions(
        schedule(freq="MONTHLY", byday="2TU"), after=datetime(2026, 11, 25, tzinfo=PARIS), count=3
    )

    assert starts(sessions) == [
        "2026-12-08 14:00 +0100",
        "2027-01-12 14:00 +0100",
        "2027-02-09 14:00 +0100",
    ]


def test_every_other_week_from_its_start() -> None:
    sessions = schedule_sessions(
        schedule(freq="WEEKLY", interval=2, byday="WE", dtstart=date(2026, 11, 4)),
        after=datetime(2026, 11, 5, tzinfo=PARIS),
        count=3,
    )

    assert [s.starts_at.date() for s in sessions] == [
        date(2026, 11, 18),
        date(2026, 12, 2),
        date(2026, 12, 16),
    ]


def test_a_schedule_that_has_ended_has_no_sessions() -> None:
    ended = schedule(freq="WEEKLY", byday="MO", valid_to=date(2026, 6, 30))

    assert schedule_sessions(ended, after=datetime(2026, 11, 25, tzinfo=PARIS), count=3) == []


def test_sessions_keep_their_wall_clock_time_across_daylight_saving() -> None:
    sessions = schedule_sessions(
        schedule(freq="WEEKLY", byday="SA"), after=datetime(2027, 3, 20, 15, tzinfo=PARIS), count=2
    )

    assert starts(sessions) == ["2027-03-27 14:00 +0100", "2027-04-03 14:00 +0200"]
    assert sessions[1].ends_at.hour == 16


def test_next_sessions_merge_several_schedules_soonest_first() -> None:
    after = datetime(2026, 11, 25, tzinfo=PARIS)
    merged = next_sessions(
        [schedule(freq="WEEKLY", byday="FR"), schedule(freq="WEEKLY", byday="TH")],
        after=after,
        count=3,
    )

    assert [s.starts_at.strftime("%a %d") for s in merged] == ["Thu 26", "Fri 27", "Thu 03"]


@pytest.mark.django_db
def test_an_activity_without_its_own_schedules_uses_its_services(catalog: int) -> None:
    from community_catalog.models import ServiceAtLocation

    sal = ServiceAtLocation.objects.select_related("service").first()
    assert sal is not None
    sal.schedules.all().delete()
    Schedule.objects.create(
        service=sal.service, freq="MONTHLY", byday="-1FR", opens_at="18:00", closes_at="20:00"
    )
    after = datetime(2026, 11, 25, 12, tzinfo=ZoneInfo("Europe/Paris"))

    sessions = service_at_location_sessions(sal, after=after, count=2)

    assert [s.starts_at.isoformat() for s in sessions] == [
        "2026-11-27T18:00:00+01:00",
        "2026-12-25T18:00:00+01:00",
    ]


@pytest.mark.parametrize(
    ("freq", "interval", "byday", "dtstart"),
    [
        ("WEEKLY", 3, "TU", date(2019, 1, 8)),
        ("WEEKLY", 2, "", date(2018, 5, 17)),
        ("MONTHLY", 2, "2TU", date(2019, 3, 1)),
        ("MONTHLY", 5, "", date(2017, 1, 31)),
    ],
)
def test_a_start_long_ago_gives_the_same_sessions_as_walking_from_it(
    freq: str, interval: int, byday: str, dtstart: date
) -> None:
    from dateutil import rrule

    schedule = Schedule(
        freq=freq,
        interval=interval,
        byday=byday,
        dtstart=dtstart,
        opens_at=time(14),
        closes_at=time(16),
    )
    after = datetime(2026, 11, 25, 12, tzinfo=ZoneInfo("Europe/Paris"))
    rule = rrule.rrule(
        rrule.WEEKLY if freq == "WEEKLY" else rrule.MONTHLY,
        interval=interval,
        byweekday=[rrule.TU(2)] if byday == "2TU" else [rrule.TU] if byday else None,
        dtstart=datetime.combine(dtstart, time(14)),
    )
    horizon = after.date() + timedelta(days=SESSION_HORIZON_DAYS)
    expected = [
        d
        for _, d in zip(range(4), rule.xafter(after.replace(tzinfo=None)), strict=False)
        if d.date() <= horizon
    ]

    sessions = schedule_sessions(schedule, after=after, count=4)

    assert [s.starts_at.replace(tzinfo=None) for s in sessions] == expected


def test_an_impossible_rule_is_found_impossible_quickly(monkeypatch) -> None:
    """dateutil walks a rule with no occurrence to the year 9999 (seconds of one request
    per rule); the calendar repeats every 400 years, so walking one cycle is enough. The
    walk is bounded by where it starts: at most 1,200 years before dateutil gives up (a
    bound on work, not a timing, so it holds on a loaded machine)."""
    from dateutil import rrule

    from community_catalog.schedules import _rule_happens, schedule_happens

    _rule_happens.cache_clear()  # answers are remembered: this one must be walked
    walked_from: list[int] = []
    real_rrule = rrule.rrule

    def recording(*args, **kwargs):
        walked_from.append(kwargs["dtstart"].year)
        return real_rrule(*args, **kwargs)

    monkeypatch.setattr(rrule, "rrule", recording)
    impossible = Schedule(
        freq="WEEKLY", byday="MO", bymonthday="31", byyearday="1", opens_at=time(10)
    )
    assert schedule_happens(impossible) is False
    # Whole cycles are skipped: the walk starts within 800 years plus one cycle of 9999
    # (without them, from 2026: nearly 8,000 years).
    assert walked_from
    assert all(9999 - year <= 1200 for year in walked_from), walked_from
    # Rare but real: a leap year's 366th day on a Monday, every few decades.
    rare = Schedule(freq="YEARLY", byday="MO", byyearday="366", opens_at=time(10))
    assert schedule_happens(rare) is True
    assert schedule_happens(Schedule(freq="WEEKLY", byday="TU", opens_at=time(14))) is True
