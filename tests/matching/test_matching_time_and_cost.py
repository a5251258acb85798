"""Matching on a real directory's time and cost: an activity is offered only with a
session within the offer horizon (or no dates at all); "cost not stated" passes
`free_only` and scores below free; what the slip says of cost is what matching read."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community_catalog.models import Organization, Schedule, ServiceAtLocation
from community_catalog.presentation import activity_cost
from community_catalog.schedules import schedule_happens, schedule_weekdays
from matching.candidates import match_candidate_rows, offered_on
from matching.index import match_points_daily
from matching.models import MatchPoint
from matching.reasons import explanation_text, reason_text
from matching.scoring import Person
from tests.conftest import ApiClient
from tests.matching.test_matching import HOME, _names, _referral, _service

H = 42


def _day(offset: int) -> str:
    return (timezone.localdate() + timedelta(days=offset)).isoformat()


def test_an_ended_or_not_yet_started_activity_is_not_offered(
    api: ApiClient, orgs: list[Organization]
) -> None:
    _service(
        orgs[0],
        "Marche d'été",
        schedule={"freq": "WEEKLY", "byday": "WE", "opens_at": "10:00", "valid_to": _day(-30)},
    )
    _service(
        orgs[1],
        "Printemps",
        schedule={"freq": "WEEKLY", "byday": "SA", "opens_at": "10:00", "valid_from": _day(60)},
    )
    _service(orgs[2], "Causerie", schedule={"freq": "WEEKLY", "byday": "TH", "opens_at": "14:00"})
    referral = _referral(api)
    assert _names(referral) == ["Causerie"]


def test_a_seasonal_activity_back_within_the_horizon_says_when_it_resumes(
    api: ApiClient, orgs: list[Organization]
) -> None:
    back = timezone.localdate() + timedelta(days=20)
    _service(
        orgs[0],
        "Jardin",
        schedule={
            "freq": "WEEKLY",
            "byday": "SA",
            "opens_at": "10:00",
            "dtstart": _day(-300),
            "valid_from": back.isoformat(),
        },
    )
    referral = _referral(api)
    (match,) = referral.matches.all()
    resumes = next(r for r in match.reasons if r["code"] == "resumes")
    assert reason_text(resumes, "en").startswith("Resumes on ")
    # The first Saturday session on or after the day it is back.
    first = back + timedelta(days=(5 - back.weekday()) % 7)
    assert resumes["params"] == {"resumes_on": first.isoformat()}
    assert reason_text(resumes, "en") == f"Resumes on {first.day} {first:%B}"
    assert reason_text(resumes, "fr").startswith("Reprend le ")


def test_nothing_soon_is_explained_with_the_first_date(
    api: ApiClient, orgs: list[Organization]
) -> None:
    _service(
        orgs[0],
        "Printemps",
        schedule={"freq": "WEEKLY", "byday": "SA", "opens_at": "10:00", "valid_from": _day(70)},
    )
    referral = _referral(api)
    assert referral.stage == "unmatched"
    explanation = referral.unmatched_explanation
    assert explanation["code"] == "schedule"
    assert explanation["alternatives"] == 1
    assert "in the next 6 weeks" in explanation_text(explanation, "en")
    assert "les 6 prochaines semaines" in explanation_text(explanation, "fr")


def test_an_activity_without_dates_is_offered_below_one_with_dates(
    api: ApiClient, orgs: list[Organization]
) -> None:
    # Same place, same everything, but one says when it meets.
    _service(orgs[0], "Permanence", schedule=None)
    _service(orgs[1], "Atelier", schedule={"freq": "WEEKLY", "byday": "TU", "opens_at": "14:00"})
    assert _names(_referral(api)) == ["Atelier", "Permanence"]


def test_cost_not_stated_passes_free_only_and_ranks_below_free(
    api: ApiClient, orgs: list[Organization]
) -> None:
    _service(orgs[0], "Payant", cost_options=[{"id": str(uuid.uuid4()), "amount": 4}])
    _service(orgs[1], "Non précisé", cost_options=[])
    _service(orgs[2], "Gratuit", cost_options=[], fees_description="Entrée libre")
    referral = _referral(api, free_only=True)
    assert _names(referral) == ["Gratuit", "Non précisé"]
    parts = {
        m.service_at_location.service.name: m.score_parts["parts"]["cost"]
        for m in referral.matches.all()
    }
    assert parts == {"Gratuit": 1.0, "Non précisé": 0.6}


def test_the_relays_daily_check_follows_a_run_that_ended(
    api: ApiClient, orgs: list[Organization]
) -> None:
    service = _service(
        orgs[0],
        "Atelier",
        schedule={"freq": "WEEKLY", "byday": "TU", "opens_at": "14:00", "valid_to": _day(10)},
    )
    point = MatchPoint.objects.get(service_key=str(service.id))
    assert point.run_until is not None
    assert point.run_until <= timezone.localdate() + timedelta(10)
    # Nothing to do today; the day after its last session, the point learns it is over.
    assert match_points_daily() == 0
    later = point.run_until + timedelta(days=1)
    assert match_points_daily(today=later) == 1
    point.refresh_from_db()
    assert point.run_from is None
    assert point.run_until is None
    assert not point.undated


# --- Properties -----------------------------------------------------------------------

_day_offsets = st.integers(-200, 200)


@st.composite
def _schedules(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.booleans()) and draw(st.booleans()):
        return None  # no dates at all
    fields: dict[str, Any] = {
        "freq": draw(st.sampled_from(["WEEKLY", "MONTHLY"])),
        "opens_at": "14:00",
        "interval": draw(st.sampled_from([1, 2, 4, 7])),
    }
    if fields["freq"] == "WEEKLY":
        fields["byday"] = draw(st.sampled_from(["MO", "TU,TH", "SA"]))
    else:
        fields["byday"] = draw(st.sampled_from(["1TU", "-1FR", "3SA"]))
    start = draw(st.none() | _day_offsets)
    end = draw(st.none() | _day_offsets)
    if start is not None and end is not None and end < start:
        start, end = end, start
    if start is not None:
        fields[draw(st.sampled_from(["valid_from", "dtstart"]))] = _day(start)
    if end is not None:
        fields["valid_to" if "valid_from" in fields or start is None else "until"] = _day(end)
    if draw(st.booleans()):
        fields["count"] = draw(st.integers(1, 10))
    probe = Schedule(
        **{k: v for k, v in fields.items() if k not in ("opens_at",)}, opens_at=time(14)
    )
    for name in ("valid_from", "valid_to", "dtstart", "until"):
        if isinstance(getattr(probe, name), str):
            setattr(probe, name, date.fromisoformat(getattr(probe, name)))
    probe.weekdays = schedule_weekdays(probe)
    ended = any(d and d < timezone.localdate() for d in (probe.until, probe.valid_to))
    if not ended and not schedule_happens(probe):
        return None
    return fields


def _has_session_soon(sal: ServiceAtLocation) -> bool:
    """From the rules themselves: a session from today to the horizon, or no dates."""
    from community_catalog.schedules import next_sessions

    schedules = [s for s in sal.schedules.all() if s.freq and s.opens_at]
    if not schedules:
        return not sal.schedules.exists()
    midnight = datetime.combine(
        timezone.localdate(), time.min, tzinfo=timezone.get_current_timezone()
    )
    first = next_sessions(schedules, after=midnight, count=1)
    return bool(first) and first[0].starts_at.date() <= timezone.localdate() + timedelta(days=H)


@pytest.mark.django_db(transaction=False)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_schedules(), min_size=1, max_size=6))
def test_no_activity_without_a_session_within_the_horizon_is_ever_a_candidate(
    orgs: list[Organization], api: ApiClient, found: list[dict[str, Any] | None]
) -> None:
    with transaction.atomic():
        for i, schedule in enumerate(found):
            _service(orgs[i % 4], f"Activité {i}", km=0.5 + i * 0.3, schedule=schedule)
        person = Person(
            latitude=HOME[0],
            longitude=HOME[1],
            max_distance_km=10,
            language="fr",
            needs=["talk-group"],
            age_range=(60, 61),
            availability=[],
            accessibility_needs=[],
            free_only=False,
            count=5,
            codes={"talk-group"},
            today=timezone.localdate(),
        )
        offered = {row.id for row in match_candidate_rows(person.filters())}
        expected = {
            str(sal.id)
            for sal in ServiceAtLocation.objects.prefetch_related("schedules")
            if _has_session_soon(sal)
        }
        assert offered == expected
        # And the database's side of the filter agrees with the points it holds.
        assert MatchPoint.objects.filter(offered_on(timezone.localdate(), H)).count() == len(
            expected
        )
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=False)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from([None, "free", "paid", "not-stated"]),
    st.lists(st.sampled_from([0, 0, 2, 5]), max_size=2),
    st.sampled_from(
        [
            "",
            "Gratuit",
            "Entrée libre",
            "Adhésion 10 €/an",
            "Participation libre",
            "Free of charge",
            "5 € la séance",
            "Gratuit sous conditions de ressources",
        ]
    ),
)
def test_the_slips_cost_line_and_matchings_cost_state_always_agree(
    orgs: list[Organization], api: ApiClient, declared: str | None, amounts: list[int], fees: str
) -> None:
    from community_catalog.costs import cost_state

    if declared == "free" and cost_state(fees=[fees]) == "paid":
        return  # refused at the door: nothing to compare
    if declared in ("free", "not-stated") and any(amounts):
        return  # refused at the door too
    with transaction.atomic():
        fields: dict[str, Any] = {
            "cost_options": [
                {"id": str(uuid.uuid4()), "amount": a, "currency": "EUR"} for a in amounts
            ],
            "fees_description": fees,
        }
        if declared:
            fields["cost"] = declared
        service = _service(orgs[0], "Atelier", **fields)
        point = MatchPoint.objects.get(service_key=str(service.id))
        sal = ServiceAtLocation.objects.select_related("service").get(service=service)
        for languages in (("fr",), ("en",), ("fr", "en")):
            line = activity_cost(sal.service, languages).plain
            said_free = line in ("Gratuit", "Free", "Gratuit / Free")
            asks = "renseignez-vous" in line or "ask when" in line
            assert said_free == (point.cost == "free"), (line, point.cost)
            assert asks == (point.cost == "not-stated"), (line, point.cost)
        transaction.set_rollback(True)


def test_unmapped_terms_explain_nothing_found_only_when_they_may_be_what_is_needed(
    api: ApiClient, orgs: list[Organization]
) -> None:
    # A talk group nearby also carries a city's "logement" term, which nothing maps.
    _service(
        orgs[0],
        "Causerie",
        attributes=[
            {
                "id": str(uuid.uuid4()),
                "taxonomy_term": {
                    "id": str(uuid.uuid4()),
                    "code": "logement",
                    "name": "Logement",
                    "description": "",
                    "taxonomy": "https://ville.example/taxo",
                },
            }
        ],
    )
    point = MatchPoint.objects.get(name="Causerie")
    assert point.unmapped
    referral = _referral(api, needs=["digital-exclusion"])
    # Housing has nothing to do with digital exclusion: the plain answer, not "unmapped".
    assert referral.unmatched_explanation["code"] == "distance"
