"""A real directory from another HSDS system (issue 21): foreign taxonomies and
crosswalks, cost as free / paid / not stated, and activities offered only when they have
a session soon.

The fixture is `directory_grenoble/annuaire.json`: 17 activities of 12 organisations
around Grenoble, tagged with that directory's own taxonomy (TAXONOMY below), fees given
only as `fees_description` text, schedules relative to the day the tests run.

==  ===============================  ================  ========================  ===============
#   activity (organisation)          terms             schedule                  fees_description
==  ===============================  ================  ========================  ===============
1   Binômes d'entraide (Berriat)     binomes-entraide  weekly TH                 "Gratuit"
    (Entraide Iséroise)
2   Binômes d'entraide (Villeneuve)  binomes-entraide  weekly MO                 "Entrée libre"
    (Entraide Iséroise)
3   Groupe des aidants :             codeveloppement   MONTHLY byday 1TU,        (none)
    codéveloppement (Aidants 38)     talk-group        18:00 to 20:00
4   Causerie du jeudi (Maison des    talk-group        weekly TH                 "Gratuit"
    Habitants Chorier-Berriat)
5   Atelier tricot et couture        creative          weekly TU                 "Adhésion
    (Maison des Habitants, idem)                                                 10 €/an"
6   Lectures à voix haute            collective-       weekly SA                 (none)
    (Bibliothèques municipales)      reading
7   Marche d'été le long du Drac     marche            weekly WE, valid_to       "Gratuit"
    (Rando Santé Dauphiné)           walking-group     today-100: ended
8   Marche nordique : saison de      marche            weekly SA from            "Licence
    printemps (Rando Santé)          walking-group     today+70: beyond          25 €/an"
9   Initiation à la marche           walking-group     weekly TU, count 4 from   "Gratuit, sur
    nordique (Maison du Temps Libre)                   today-60: never again     inscription"
10  Jardin partagé de l'Île Verte    gardening         until today-50, then SA   "Participation
    (Jardins partagés)                                 from today+20: resumes    libre"
11  Cuisine anti-gaspi (MJC La       cooking-workshop  weekly WE from            "3 € par
    Tronche)                                           today+60: beyond          atelier"
12  Café des langues du campus       cafe-langues      weekly WE; in French      (none)
    (Accueil International)          talk-group        and English
13  Parrainage des nouveaux          mentoring         weekly MO; in French      "Sans frais"
    arrivants (Accueil, idem)                          only
14  Permanence numérique             digital-          none ("appelez pour       "Gratuit"
    (Échirolles Connectée)           inclusion         les horaires")
15  Atelier numérique du mardi       digital-          weekly TU; at the same    "Gratuit"
    (Centre social des Essarts)      inclusion         spot as 14
16  Atelier créatif des Baladins     creative          weekly WE                 "0 €"
    (Maison des habitants)
17  Cuisine collective des           cooking-workshop  weekly FR                 "5 € la
    Baladins (idem)                                                              séance"
==  ===============================  ================  ========================  ===============

`binomes-entraide`, `codeveloppement`, `marche` and `cafe-langues` are the directory's own
codes; its other codes equal Tisser codes and map by themselves.

The people and what each must get, written before anything ran (default horizon of 42
days, no crosswalk). "exactly": the whole set of offers; "order": the whole list by rank;
"never": must not be among the offers; "unmatched": the explanation's code.

==  ==============================  =================  ====  ====  =============================
P   where (km), other               needs              free  gets  expected
==  ==============================  =================  ====  ====  =============================
P1  place Saint-Bruno (1)           isolation          yes   some  exactly {4, 6}; never 5, 1
P2  Fontaine (1.5)                  inactivity         no    none  never 7, 8, 9; "schedule"
P3  rue Berthe de Boissieux (1)     peer-support       no    none  never 1; "unmapped"
P4  Île Verte (1.2)                 food-insecurity    no    some  exactly {10}, with a reason
                                                                   "resumes"; never 11
P5  parc Paul Mistral (1), free     caring-burden      no    some  exactly {3}
    on Tuesdays 17:30 to 20:30
P6  campus, Saint-Martin-d'Hères    new-to-area        no    some  exactly {12}; never 13; the
    (1.5), speaks English                                          slip says "Cost not stated"
P7  Échirolles (1)                  digital-exclusion  no    some  order [15, 14]
P8  Villeneuve (1)                  isolation          yes   some  exactly {16}; never 17, 2
P9  Les Baladins (0.4)              food-insecurity    yes   none  never 17; "cost"
==  ==============================  =================  ====  ====  =============================

After `tisser crosswalk add TAXONOMY binomes-entraide peer-support`, without re-importing:
P3 gets exactly {1}; P1 exactly {4, 6, 1} ("Gratuit"); P8 exactly {16, 2} ("Entrée
libre" is free). `tisser crosswalk remove` takes them out again: P3 is back to
"unmapped", P8 to {16}.

With TISSER_OFFER_HORIZON_DAYS = 90 (set before the import), P4 gets exactly {10, 11} and
P2 exactly {8}; with 10 days, P4 gets nothing ("schedule").

Cost in three states: for P1, Causerie (4, "Gratuit": free) scores higher on cost than
Lectures (6, nothing said: not stated), which still passes `free_only`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from community_catalog.services import organization_create
from referrals.models import Referral
from slips.content import slip_html
from tests.conftest import ApiClient, module_transaction, referral_matched

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parent / "directory_grenoble" / "annuaire.json"
TAXONOMY = "https://annuaire.example-grenoble.fr/taxonomie"

# The activities, by name as in the fixture.
BINOMES_BERRIAT = "Binômes d'entraide (Berriat)"
BINOMES_VILLENEUVE = "Binômes d'entraide (Villeneuve)"
AIDANTS = "Groupe des aidants : codéveloppement"
CAUSERIE = "Causerie du jeudi"
TRICOT = "Atelier tricot et couture"
LECTURES = "Lectures à voix haute"
MARCHE_ETE = "Marche d'été le long du Drac"
MARCHE_PRINTEMPS = "Marche nordique : saison de printemps"
INITIATION = "Initiation à la marche nordique (4 séances)"
JARDIN = "Jardin partagé de l'Île Verte"
ANTI_GASPI = "Cuisine anti-gaspi"
CAFE = "Café des langues du campus"
PARRAINAGE = "Parrainage des nouveaux arrivants"
PERMANENCE = "Permanence numérique"
ATELIER_NUMERIQUE = "Atelier numérique du mardi"
ATELIER_CREATIF = "Atelier créatif des Baladins"
CUISINE_BALADINS = "Cuisine collective des Baladins"


# --- The fixture, its dates filled in -----------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{today([+-]\d+)?\}\}")


def directory_text(today: date | None = None) -> str:
    """The fixture's text with every `{{today±N}}` replaced by that ISO date."""
    today = today or timezone.localdate()
    text = FIXTURE.read_text(encoding="utf-8")
    return _PLACEHOLDER.sub(
        lambda m: (today + timedelta(days=int(m.group(1) or 0))).isoformat(), text
    )


def directory() -> dict[str, Any]:
    return json.loads(directory_text())


def import_by_cli(tmp_path: Path) -> None:
    """An operator's import: each service brings its organisation."""
    path = tmp_path / "annuaire.json"
    path.write_text(directory_text(), encoding="utf-8")
    out = io.StringIO()
    call_command("import_hsds", str(path), stdout=out, stderr=io.StringIO())
    assert "17 created, 0 updated, 0 unchanged, 0 skipped" in out.getvalue()


def import_by_api(tmp_path: Path) -> None:
    """Each organisation of the directory imports its own services with its own key."""
    by_organization: dict[str, list[dict[str, Any]]] = {}
    for service in directory()["contents"]:
        by_organization.setdefault(service["organization"]["id"], []).append(service)
    for services in by_organization.values():
        _organization, key = organization_create(name=services[0]["organization"]["name"])
        response = ApiClient(key).post("/api/v1/catalog/import", json.dumps({"contents": services}))
        assert response.status_code == 200, response.json()
        report = response.json()
        assert (report["created"], report["skipped"]) == (len(services), 0), report


IMPORTS: dict[str, Callable[[Path], None]] = {"cli": import_by_cli, "api": import_by_api}


@pytest.fixture(scope="module", params=sorted(IMPORTS))
def imported(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The directory, imported one way or the other, once per way for the module
    (tests.conftest.module_transaction: a crosswalk one test adds, the next does not
    see). The tests that import it themselves are in test_real_directory_defects.py."""
    with module_transaction(django_db_blocker):
        IMPORTS[request.param](tmp_path_factory.mktemp("directory"))
        yield str(request.param)


# --- The people -----------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    body: dict[str, Any]
    exactly: frozenset[str] | None = None  # the whole set of offers
    order: tuple[str, ...] | None = None  # the whole list of offers, by rank
    never: frozenset[str] = field(default_factory=frozenset)
    unmatched: str | None = None  # the explanation's code when nothing is offered


def _at(latitude: float, longitude: float) -> dict[str, float]:
    return {"latitude": latitude, "longitude": longitude}


PEOPLE: dict[str, Expected] = {
    "P1 Saint-Bruno, isolated, free only": Expected(
        body={
            "location": _at(45.1891, 5.7146),
            "needs": ["isolation"],
            "max_distance_km": 1,
            "free_only": True,
        },
        exactly=frozenset({CAUSERIE, LECTURES}),
        never=frozenset({TRICOT, BINOMES_BERRIAT}),
    ),
    "P2 Fontaine, inactive, near only ended walks": Expected(
        body={"location": _at(45.1930, 5.6880), "needs": ["inactivity"], "max_distance_km": 1.5},
        exactly=frozenset(),
        never=frozenset({MARCHE_ETE, MARCHE_PRINTEMPS, INITIATION}),
        unmatched="schedule",
    ),
    "P3 Berriat, wants peer support": Expected(
        body={"location": _at(45.1885, 5.7190), "needs": ["peer-support"], "max_distance_km": 1},
        exactly=frozenset(),
        never=frozenset({BINOMES_BERRIAT}),
        unmatched="unmapped",
    ),
    "P4 Île Verte, food insecurity": Expected(
        body={
            "location": _at(45.1978, 5.7415),
            "needs": ["food-insecurity"],
            "max_distance_km": 1.2,
        },
        exactly=frozenset({JARDIN}),
        never=frozenset({ANTI_GASPI}),
    ),
    "P5 Paul Mistral, carer free on Tuesday evenings": Expected(
        body={
            "location": _at(45.1850, 5.7380),
            "needs": ["caring-burden"],
            "max_distance_km": 1,
            "availability": [{"weekday": "TU", "start": "17:30", "end": "20:30"}],
        },
        exactly=frozenset({AIDANTS}),
    ),
    "P6 campus, new to the area, English": Expected(
        body={
            "location": _at(45.1925, 5.7675),
            "needs": ["new-to-area"],
            "max_distance_km": 1.5,
            "preferred_language": "en",
        },
        exactly=frozenset({CAFE}),
        never=frozenset({PARRAINAGE}),
    ),
    "P7 Échirolles, digital exclusion": Expected(
        body={
            "location": _at(45.1455, 5.7205),
            "needs": ["digital-exclusion"],
            "max_distance_km": 1,
        },
        order=(ATELIER_NUMERIQUE, PERMANENCE),
    ),
    "P8 Villeneuve, isolated, free only": Expected(
        body={
            "location": _at(45.1630, 5.7345),
            "needs": ["isolation"],
            "max_distance_km": 1,
            "free_only": True,
        },
        exactly=frozenset({ATELIER_CREATIF}),
        never=frozenset({CUISINE_BALADINS, BINOMES_VILLENEUVE}),
    ),
    "P9 Les Baladins, food insecurity, free only": Expected(
        body={
            "location": _at(45.1600, 5.7380),
            "needs": ["food-insecurity"],
            "max_distance_km": 0.4,
            "free_only": True,
        },
        exactly=frozenset(),
        never=frozenset({CUISINE_BALADINS}),
        unmatched="cost",
    ),
}


@dataclass
class Outcome:
    referral: Referral
    items: list[dict[str, Any]]
    unmatched: dict[str, Any] | None

    @property
    def names(self) -> list[str]:
        return [item["activity"] for item in self.items]

    def item(self, name: str) -> dict[str, Any]:
        [found] = [item for item in self.items if item["activity"] == name]
        return found


def refer(api: ApiClient, person: str | dict[str, Any]) -> Outcome:
    """File the person through the API, match in this thread, read the clinician's view."""
    body = PEOPLE[person].body if isinstance(person, str) else person
    referral = referral_matched(api, **body)
    response = api.get(f"/api/v1/referrals/{referral.id}/matches")
    assert response.status_code == 200, response.json()
    shown = response.json()
    items = sorted(shown["items"], key=lambda item: item["rank"])
    return Outcome(referral, items, shown["unmatched_explanation"])


def assert_as_expected(outcome: Outcome, expected: Expected) -> None:
    names = outcome.names
    assert not set(names) & expected.never, names
    if expected.exactly is not None:
        assert set(names) == expected.exactly, names
        assert len(names) == len(set(names)), names
    if expected.order is not None:
        assert names == list(expected.order), names
    if names:
        assert outcome.unmatched is None, outcome.unmatched
    else:
        assert outcome.referral.stage == "unmatched"
        assert outcome.unmatched is not None
        assert outcome.unmatched["code"] == expected.unmatched, outcome.unmatched


def crosswalk(*args: str) -> str:
    out = io.StringIO()
    call_command("crosswalk", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# --- Every person, through either import ----------------------------------------------


@pytest.mark.parametrize("person", list(PEOPLE))
def test_each_person_gets_what_the_table_says(api: ApiClient, imported: str, person: str) -> None:
    assert_as_expected(refer(api, person), PEOPLE[person])


# --- Time -----------------------------------------------------------------------------


def _first_saturday_from(day: date) -> date:
    return day + timedelta(days=(5 - day.weekday()) % 7)


def test_a_garden_closed_for_the_winter_is_offered_with_the_day_it_resumes(
    api: ApiClient, imported: str
) -> None:
    outcome = refer(api, "P4 Île Verte, food insecurity")

    assert outcome.names == [JARDIN]
    reasons = {reason["code"]: reason for reason in outcome.item(JARDIN)["reasons"]}
    assert "resumes" in reasons, outcome.item(JARDIN)["reasons"]
    resumes = reasons["resumes"]
    assert resumes["fr"].startswith("Reprend le"), resumes
    assert resumes["en"].startswith("Resumes on"), resumes
    first = _first_saturday_from(timezone.localdate() + timedelta(days=20))
    assert str(first.day) in resumes["en"], (first, resumes)


def test_call_for_times_is_offered_below_the_same_activity_with_dates(
    api: ApiClient, imported: str
) -> None:
    outcome = refer(api, "P7 Échirolles, digital exclusion")

    assert outcome.names == [ATELIER_NUMERIQUE, PERMANENCE]
    assert outcome.item(ATELIER_NUMERIQUE)["score"] > outcome.item(PERMANENCE)["score"]


# --- Cost -----------------------------------------------------------------------------


def _part(item: dict[str, Any], name: str) -> float:
    [score] = [part["score"] for part in item["parts"] if part["name"] == name]
    return float(score)


def test_not_stated_passes_free_only_but_scores_below_free(api: ApiClient, imported: str) -> None:
    outcome = refer(api, "P1 Saint-Bruno, isolated, free only")

    assert set(outcome.names) == {CAUSERIE, LECTURES}
    assert _part(outcome.item(CAUSERIE), "cost") > _part(outcome.item(LECTURES), "cost")


def test_free_only_keeps_out_known_paid_activities_only(api: ApiClient, imported: str) -> None:
    villeneuve = refer(api, "P8 Villeneuve, isolated, free only")
    baladins = refer(api, "P9 Les Baladins, food insecurity, free only")

    assert villeneuve.names == [ATELIER_CREATIF]  # "0 €"
    assert baladins.names == []  # "5 € la séance"
    assert baladins.unmatched is not None
    assert baladins.unmatched["code"] == "cost"


def test_the_slip_says_the_cost_is_not_stated(api: ApiClient, imported: str) -> None:
    outcome = refer(api, "P6 campus, new to the area, English")
    assert outcome.names == [CAFE]
    referral = Referral.objects.select_related("health_center").get(id=outcome.referral.id)

    html = slip_html(referral)

    text = " ".join(re.sub(r"<[^>]+>", " ", html).split()).casefold()
    assert "cost not stated" in text


# --- Crosswalks -----------------------------------------------------------------------


def test_a_crosswalk_changes_matches_at_once_and_removing_it_undoes_them(
    api: ApiClient, imported: str
) -> None:
    assert_as_expected(
        refer(api, "P3 Berriat, wants peer support"), PEOPLE["P3 Berriat, wants peer support"]
    )

    crosswalk("add", TAXONOMY, "binomes-entraide", "peer-support")

    assert refer(api, "P3 Berriat, wants peer support").names == [BINOMES_BERRIAT]
    # Isolation reaches peer support: the free pairs join the free-only people's lists.
    assert set(refer(api, "P1 Saint-Bruno, isolated, free only").names) == {
        CAUSERIE,
        LECTURES,
        BINOMES_BERRIAT,
    }
    assert set(refer(api, "P8 Villeneuve, isolated, free only").names) == {
        ATELIER_CREATIF,
        BINOMES_VILLENEUVE,
    }

    crosswalk("remove", TAXONOMY, "binomes-entraide")

    after = refer(api, "P3 Berriat, wants peer support")
    assert after.names == []
    assert after.unmatched is not None
    assert after.unmatched["code"] == "unmapped"
    assert set(refer(api, "P8 Villeneuve, isolated, free only").names) == {ATELIER_CREATIF}


def _unmapped() -> dict[tuple[str, str], list[str]]:
    rows = [line.split("\t") for line in crosswalk("unmapped").splitlines() if line.strip()]
    return {(row[0], row[1]): row for row in rows if len(row) >= 4}


def test_unmapped_lists_the_foreign_codes_with_their_counts(imported: str) -> None:
    listed = _unmapped()

    expected = {
        "binomes-entraide": ("Binômes d'entraide", 2),
        "codeveloppement": ("Groupe de codéveloppement", 1),
        "cafe-langues": ("Café des langues", 1),
        "marche": ("Marche", 2),
    }
    for code, (label, count) in expected.items():
        row = listed[(TAXONOMY, code)]
        assert row[2] == label, row
        assert int(row[3]) == count, row
    # Codes equal to Tisser's map by themselves: never listed.
    assert {code for taxonomy, code in listed if taxonomy == TAXONOMY} == set(expected)

    crosswalk("add", TAXONOMY, "binomes-entraide", "peer-support")

    assert (TAXONOMY, "binomes-entraide") not in _unmapped()
    assert (TAXONOMY, "codeveloppement") in _unmapped()


def _export() -> str:
    return crosswalk("export")


def test_export_then_import_gives_the_same_crosswalks(
    api: ApiClient, imported: str, tmp_path: Path
) -> None:
    crosswalk("add", TAXONOMY, "binomes-entraide", "peer-support")
    crosswalk("add", TAXONOMY, "codeveloppement", "co-development", "talk-group")
    exported = _export()
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert exported.splitlines()[0].strip() == "taxonomy,code,tisser_codes,label"
    by_code = {(row["taxonomy"], row["code"]): row for row in rows}
    binomes = by_code[(TAXONOMY, "binomes-entraide")]
    assert binomes["tisser_codes"].split() == ["peer-support"]
    assert binomes["label"] == "Binômes d'entraide"
    codev = by_code[(TAXONOMY, "codeveloppement")]
    assert set(codev["tisser_codes"].split()) == {"co-development", "talk-group"}

    crosswalk("remove", TAXONOMY, "binomes-entraide")
    crosswalk("remove", TAXONOMY, "codeveloppement")
    assert (TAXONOMY, "binomes-entraide") in _unmapped()
    path = tmp_path / "crosswalks.csv"
    path.write_text(exported, encoding="utf-8")
    crosswalk("import", str(path))

    assert _export() == exported
    assert refer(api, "P3 Berriat, wants peer support").names == [BINOMES_BERRIAT]


def test_an_unknown_tisser_code_is_refused_by_name(api: ApiClient, imported: str) -> None:
    with pytest.raises(CommandError, match="peer-suport"):
        crosswalk("add", TAXONOMY, "binomes-entraide", "peer-suport")
    with pytest.raises(CommandError, match="co-developpement"):
        crosswalk("add", TAXONOMY, "codeveloppement", "talk-group", "co-developpement")

    exported = {(row["taxonomy"], row["code"]) for row in csv.DictReader(io.StringIO(_export()))}
    assert (TAXONOMY, "binomes-entraide") not in exported
    assert (TAXONOMY, "codeveloppement") not in exported
    assert refer(api, "P3 Berriat, wants peer support").names == []
