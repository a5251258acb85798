"""Matching's reasons and unmatched explanations are stored as codes and parameters, and
put in words when they are read, through gettext (`locale/`), in the reader's language;
rows written before, with their French and English text, still read as they were."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.keys import health_center_create
from community_catalog.models import Organization
from matching.reasons import explanation_text, language_name, reason_text
from referrals.models import Referral
from slips.content import slip_contents
from tests.conftest import ApiClient, referral_matched
from tests.matching.test_matching import _referral, _service
from tests.web.test_accounts import create_user, signed_in

REASONS = [
    (
        {"code": "distance", "params": {"mode": "walk", "minutes": 13}},
        "À 13 min à pied de chez vous",
        "A 13-minute walk from home",
    ),
    (
        {"code": "distance", "params": {"mode": "transit", "minutes": 32}},
        "Environ 32 min en transports en commun",
        "About 32 minutes by public transport",
    ),
    (
        {
            "code": "schedule",
            "params": {"day": "TU", "opens": "14:00", "monthly": False, "when_free": True},
        },
        "Le mardi après-midi, quand vous êtes libre",
        "Tuesday afternoons, when you are free",
    ),
    (
        {
            "code": "schedule",
            "params": {"day": "MO", "opens": "09:30", "monthly": False, "when_free": False},
        },
        "Le lundi matin",
        "Monday mornings",
    ),
    (
        {
            "code": "schedule",
            "params": {"day": "FR", "opens": "19:00", "monthly": True, "when_free": False},
        },
        "Un vendredi soir par mois",
        "One Friday evening a month",
    ),
    (
        {"code": "language", "params": {"language": "fr"}},
        "En français",
        "In French",
    ),
    (
        {"code": "language", "params": {"language": "uk"}},
        "En ukrainien",
        "In Ukrainian",
    ),
    ({"code": "language", "params": {}}, "Interprétariat possible", "Interpreting available"),
    ({"code": "cost", "params": {"cost": "free"}}, "Gratuit", "Free"),
    (
        {"code": "cost", "params": {"cost": "not-stated"}},
        "Coût non précisé : renseignez-vous en prenant contact",
        "Cost not stated: ask when you get in touch",
    ),
    (
        {"code": "resumes", "params": {"resumes_on": "2027-03-02"}},
        "Reprend le 2 mars",
        "Resumes on 2 March",
    ),
    (
        {"code": "resumes", "params": {"starts_on": "2027-03-02"}},
        "Commence le 2 mars",
        "Starts on 2 March",
    ),
    (
        {"code": "accessibility", "params": {"need": "step-free"}},
        "Accès de plain-pied",
        "Step-free access",
    ),
    (
        {"code": "accessibility", "params": {"need": "wheelchair"}},
        "Accessible en fauteuil roulant",
        "Wheelchair accessible",
    ),
    (
        {"code": "accessibility", "params": {"need": "sight-loss"}},
        "Adapté aux personnes malvoyantes",
        "Adapted for sight loss",
    ),
    (
        {"code": "capacity", "params": {}},
        "Liste d'attente : appelez d'abord",
        "Waiting list: call first",
    ),
    (
        {"code": "need", "params": {"term": "talk-group"}},
        "Répond à : groupe de parole",
        "Answers: talk group",
    ),
]

EXPLANATIONS = [
    (
        {"code": "distance", "alternatives": 2, "params": {"km": 5.0, "wider": 10.0, "count": 2}},
        "Rien à moins de 5 km ; 2 à moins de 10 km.",
        "Nothing within 5 km; 2 within 10 km.",
    ),
    (
        {"code": "distance", "alternatives": 0, "params": {"km": 5.0, "wider": 10.0}},
        "Rien à moins de 10 km non plus : essayez d'autres besoins.",
        "Nothing within 10 km either: try other needs.",
    ),
    (
        {
            "code": "language",
            "alternatives": 1,
            "params": {"km": 5.0, "wider": 10.0, "count": 1, "language": "de"},
        },
        "Rien en allemand à moins de 5 km ; 1 dans d'autres langues.",
        "Nothing in German within 5 km; 1 in other languages.",
    ),
    (
        {
            "code": "schedule",
            "alternatives": 2,
            "params": {"km": 5.0, "wider": 10.0, "count": 2, "weeks": 6.0, "date": "2027-03-02"},
        },
        "Rien à moins de 5 km n'a lieu dans les 6 prochaines semaines ; 2 reprennent plus "
        "tard, la première le 2 mars.",
        "Nothing within 5 km meets in the next 6 weeks; 2 start again later, the first on 2 March.",
    ),
    (
        {"code": "needs", "alternatives": 0, "params": {"needs": ["digital-exclusion"]}},
        "Ces besoins ne sont plus utilisés : Difficultés numériques. Refaites l'orientation "
        "avec d'autres besoins.",
        "These needs are no longer in use: Digital exclusion. File the referral with others.",
    ),
    (
        {"code": "offered", "alternatives": 0, "params": {"km": 5.0, "wider": 10.0}},
        "Tout ce qui convient à moins de 5 km a déjà été proposé.",
        "Everything suitable within 5 km has already been offered.",
    ),
]


@pytest.mark.parametrize(("reason", "french", "english"), REASONS, ids=lambda v: str(v)[:40])
def test_a_stored_reason_is_put_in_words_from_the_po_file(
    orgs: list[Organization], reason: dict[str, Any], french: str, english: str
) -> None:
    assert reason_text(reason, "fr") == french
    assert reason_text(reason, "en") == english


@pytest.mark.parametrize(("said", "french", "english"), EXPLANATIONS, ids=lambda v: str(v)[:40])
def test_a_stored_explanation_is_put_in_words_from_the_po_file(
    orgs: list[Organization], said: dict[str, Any], french: str, english: str
) -> None:
    assert _one_line(explanation_text(said, "fr")) == french
    assert _one_line(explanation_text(said, "en")) == english


def test_the_plural_follows_the_count(db: None) -> None:
    one = {"code": "unmapped", "alternatives": 1, "params": {"km": 5, "wider": 10, "count": 1}}
    three = {"code": "unmapped", "alternatives": 3, "params": {"km": 5, "wider": 10, "count": 3}}
    assert "1 activity within 5 km may: it is" in explanation_text(one, "en")
    assert "3 activities within 5 km may: they are" in explanation_text(three, "en")
    assert explanation_text(one, "fr") != explanation_text(three, "fr")


def test_a_language_tisser_does_not_speak_reads_french(db: None) -> None:
    walk = {"code": "distance", "params": {"mode": "walk", "minutes": 13}}
    assert reason_text(walk, "de") == "À 13 min à pied de chez vous"
    assert reason_text(walk, "en-gb") == "A 13-minute walk from home"
    # Language names come from Babel's CLDR data, French in lower case.
    assert (language_name("de", "fr"), language_name("de", "en")) == ("allemand", "German")
    assert language_name("xx", "fr") == "xx"


def test_rows_written_before_still_read_as_they_were(db: None) -> None:
    old = {"code": "distance", "fr": "À 2 km", "en": "2 km away"}
    assert (reason_text(old, "fr"), reason_text(old, "en")) == ("À 2 km", "2 km away")
    assert reason_text(old, "de") == "À 2 km"  # French when the language was not written
    said = {"code": "age", "alternatives": 1, "fr": "Rien à son âge", "en": "Nothing at this age"}
    assert explanation_text(said, "en") == "Nothing at this age"
    assert explanation_text(said, "de") == "Rien à son âge"
    assert explanation_text({}, "fr") == ""


def test_rows_written_before_still_show_in_the_api_the_slip_and_the_page(
    catalog: int, media: Any
) -> None:
    center, key = health_center_create(name="Maison de santé Gerland")
    api = ApiClient(key)
    referral = referral_matched(api)
    match = referral.matches.order_by("rank").first()
    assert match is not None
    match.reasons = [
        {"code": "need", "fr": "Répond à : ancien besoin", "en": "Answers: old need"},
        {"code": "resumes", "fr": "Reprend le 2 mars", "en": "Resumes on 2 March"},
    ]
    match.save(update_fields=["reasons"])
    referral.unmatched_explanation = {
        "code": "capacity",
        "alternatives": 1,
        "fr": "Tout est complet",
        "en": "Everything is full",
    }
    referral.save(update_fields=["unmatched_explanation"])

    detail = api.get(f"/api/v1/referrals/{referral.id}").json()
    first = next(m for m in detail["matches"] if m["rank"] == match.rank)
    assert first["reasons"] == ["Répond à : ancien besoin", "Reprend le 2 mars"]
    assert detail["unmatched_explanation"] == {
        "code": "capacity",
        "alternatives": 1,
        "fr": "Tout est complet",
        "en": "Everything is full",
    }
    explained = api.get(f"/api/v1/referrals/{referral.id}/matches").json()
    item = next(i for i in explained["items"] if i["rank"] == match.rank)
    assert item["reasons"][0] == {
        "code": "need",
        "fr": "Répond à : ancien besoin",
        "en": "Answers: old need",
    }

    (content,) = slip_contents([Referral.objects.get(id=referral.id)])
    activity = next(a for a in content.activities if "ancien besoin" in a.reasons.text)
    assert activity.season.text == "Reprend le 2 mars"

    client = signed_in("c.martin", create_user("c.martin", "--center", center.name))
    page = client.get(f"/app/referrals/{referral.id}/?part=progress").content.decode()
    assert "Répond à : ancien besoin" in page


def test_nothing_translated_is_stored(api: ApiClient, orgs: list[Organization]) -> None:
    back = timezone.localdate() + timedelta(days=20)
    _service(orgs[0], "Causerie", accessibility=["Accès de plain-pied, ascenseur"])
    _service(
        orgs[1],
        "Jardin",
        capacity={"status": "waitlist"},
        schedule={"freq": "WEEKLY", "byday": "SA", "opens_at": "10:00"},
        languages=[{"id": "7b0c43a6-0000-4000-8000-000000000003", "code": "en"}],
        interpretation_services="Interprète sur demande",
    )
    _service(
        orgs[2],
        "Printemps",
        schedule={
            "freq": "MONTHLY",
            "byday": "1TH",
            "opens_at": "18:30",
            "dtstart": (timezone.localdate() - timedelta(days=300)).isoformat(),
            "valid_from": back.isoformat(),
        },
    )
    matched = _referral(
        api,
        accessibility_needs=["step-free"],
        availability=[{"weekday": "TU", "start": "13:00", "end": "18:00"}],
    )
    unmatched = _referral(api, needs=["digital-exclusion"])
    reasons = [r for m in matched.matches.all() for r in m.reasons]
    assert {r["code"] for r in reasons} >= {
        "need",
        "distance",
        "schedule",
        "cost",
        "language",
        "accessibility",
        "capacity",
        "resumes",
    }
    assert unmatched.unmatched_explanation["code"] == "distance"

    stored: list[tuple[dict[str, Any], str]] = [(r, "reason") for r in reasons]
    stored.append((unmatched.unmatched_explanation, "explanation"))
    for said, kind in stored:
        assert set(said) <= {"code", "params", "alternatives"}, said
        assert isinstance(said["params"], dict), said
        shown = (
            [reason_text(said, lang) for lang in ("fr", "en")]
            if kind == "reason"
            else [explanation_text(said, lang) for lang in ("fr", "en")]
        )
        assert all(shown), said
        for leaf in _leaves(said):
            # Codes, numbers, ISO dates and times: never a word meant for a reader.
            assert isinstance(leaf, (bool, int, float)) or _CODE.match(leaf), (leaf, said)
        written = json.dumps(said, ensure_ascii=False)
        assert not any(text in written for text in shown), (said, shown)


_CODE = re.compile(r"^[A-Za-z0-9_:.+-]*$")


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _one_line(text: str) -> str:
    return " ".join(text.split())
