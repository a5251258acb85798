"""data·inclusion's export, harvested (issue 24): validated with the `data-inclusion-schema`
package, mapped to HSDS and, through the shipped crosswalk of `thematiques`, to Tisser's
needs and activities; then people matched against it.

The fixture is `data_inclusion_lyon/`: `structures.json` and `services.json` as
data·inclusion publishes them (schema v1: every field present, `null` where the source
says nothing), six structures and thirteen services around Lyon from three of its
sources (dora, soliguide, mediation-numerique). Written from the package's models, not
from Tisser's mapping.

==  =====================================  =====================  =======  =========================
#   service (structure)                    thematiques → Tisser   frais    horaires_accueil, place
==  =====================================  =====================  =======  =========================
D1  Café-rencontre du mardi (Bonnefoi)     lien-social →          gratuit  "Tu 14:00-17:00";
                                           isolation                       the structure's address
D2  Gym douce (Bonnefoi)                   activites-sportives-   payant   "We,Fr 10:00-11:30"
                                           et-culturelles →
                                           physical-activity,
                                           creative
D3  Épicerie solidaire (Restos Lyon 7e)    alimentation →         payant   "Mo,Th 14:00-18:00;
                                           food-insecurity                 PH off"
D4  Repas partagé du samedi (idem)         alimentation,          gratuit  "Sa 12:00-14:00"
                                           lien-social
D5  Atelier numérique pour débutants       fondamentaux-du-       gratuit  "Mo 09:30-11:30"; phone
    (Croix-Rousse)                         numerique →                     "pas de téléphone"
                                           digital-inclusion
D6  Aide aux démarches en ligne par        acceder-a-des-         gratuit  none; `a-distance` only:
    téléphone (Croix-Rousse)               services-en-ligne →             no place
                                           digital-exclusion
D7  Visites de convivialité                lien-social            gratuit  none anywhere: call for
    (Petits Frères)                                                        times
D8  Groupe de parole des aidants (idem)    soutien-aidants →      gratuit  "Tu[1] 18:00-20:00": the
                                           caring-burden                   first Tuesday, monthly
D9  Atelier de conversation en français    maitriser-le-francais  gratuit  "Mo,We 14:00-16:00"; its
    (Maison des familles, Villeurbanne)    → learning-circle               own address, not the
                                                                           structure's
D10 Yoga du rire (Bonnefoi)                "sante--yoga-du-rire"           invalid: `thematiques`
D11 Atelier couture (a structure whose                                     invalid: the structure's
    SIRET is "1234")                                                       `siret`
D12 Vestiaire solidaire (Restos)           (no `description`)              invalid: `description`
D13 Permanence d'accès aux droits          structure_id of no              invalid: `structure_id`
                                           structure in the export
==  =====================================  =====================  =======  =========================

What the first run must report, written before it ran: 13 fetched, 9 created, 4 invalid
(each with its id at the source and the field above), nothing updated or deactivated;
among the unmapped terms, data·inclusion's `publics` and service types (no crosswalk
ships for them), and none of the `thematiques` above. A second run with nothing changed:
9 unchanged, 4 invalid, nothing written, no event.

The people (default horizon, no crosswalk added), "exactly": the whole set of offers:

==  ==============================  =================  ===========  ============================
Q   where                           needs              km, free     expected
==  ==============================  =================  ===========  ============================
Q1  by the centre social Bonnefoi   isolation          1, free      exactly {D1}; never D2
Q2  idem                            isolation          1            exactly {D1, D2}
Q3  by the Petits Frères            caring-burden      1            exactly {D8}
Q4  idem                            isolation          0.5          exactly {D7} (no dates)
Q5  by the Restos, Lyon 7e          food-insecurity    1, free      exactly {D4}; never D3
Q6  Croix-Rousse                    digital-exclusion  2            exactly {D5}; never D6
Q7  Villeurbanne, by D9's address   new-to-area        1            exactly {D9}
Q8  by the Restos, Lyon 7e          inactivity         1            none: "distance" (D2 is
                                                                    1.5 km away)
==  ==============================  =================  ===========  ============================
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from community_catalog.models import Service, ServiceProvenance
from events.models import Event
from harvest.data_inclusion import PUBLICS, TYPES
from harvest.models import HarvestedRecord, HarvestSource
from tests.community_catalog.test_real_directory import Expected, assert_as_expected, refer
from tests.conftest import ApiClient, module_transaction

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parent / "data_inclusion_lyon"

D1 = "Café-rencontre du mardi"
D2 = "Gym douce"
D3 = "Épicerie solidaire"
D4 = "Repas partagé du samedi"
D5 = "Atelier numérique pour débutants"
D6 = "Aide aux démarches en ligne par téléphone"
D7 = "Visites de convivialité"
D8 = "Groupe de parole des aidants"
D9 = "Atelier de conversation en français"
VALID = (D1, D2, D3, D4, D5, D6, D7, D8, D9)
INVALID = {
    "dora--yoga-du-rire": "thematiques",
    "dora--atelier-siret-errone": "structure.siret",
    "soliguide--sans-description": "description",
    "dora--structure-inconnue": "structure_id",
}


def _at(latitude: float, longitude: float) -> dict[str, float]:
    return {"latitude": latitude, "longitude": longitude}


BONNEFOI, PETITS_FRERES, RESTOS = _at(45.7590, 4.8450), _at(45.7700, 4.8470), _at(45.7455, 4.8430)

PEOPLE: dict[str, Expected] = {
    "Q1 Bonnefoi, isolated, free only": Expected(
        body={
            "location": BONNEFOI,
            "needs": ["isolation"],
            "max_distance_km": 1,
            "free_only": True,
        },
        exactly=frozenset({D1}),
        never=frozenset({D2}),
    ),
    "Q2 Bonnefoi, isolated": Expected(
        body={"location": BONNEFOI, "needs": ["isolation"], "max_distance_km": 1},
        exactly=frozenset({D1, D2}),
    ),
    "Q3 Petits Frères, carer": Expected(
        body={"location": PETITS_FRERES, "needs": ["caring-burden"], "max_distance_km": 1},
        exactly=frozenset({D8}),
    ),
    "Q4 Petits Frères, isolated, close by only": Expected(
        body={"location": PETITS_FRERES, "needs": ["isolation"], "max_distance_km": 0.5},
        exactly=frozenset({D7}),
    ),
    "Q5 Lyon 7e, food insecurity, free only": Expected(
        body={
            "location": RESTOS,
            "needs": ["food-insecurity"],
            "max_distance_km": 1,
            "free_only": True,
        },
        exactly=frozenset({D4}),
        never=frozenset({D3}),
    ),
    "Q6 Croix-Rousse, digital exclusion": Expected(
        body={
            "location": _at(45.7745, 4.8325),
            "needs": ["digital-exclusion"],
            "max_distance_km": 2,
        },
        exactly=frozenset({D5}),
        never=frozenset({D6}),
    ),
    "Q7 Villeurbanne, new to the area": Expected(
        body={"location": _at(45.7675, 4.8790), "needs": ["new-to-area"], "max_distance_km": 1},
        exactly=frozenset({D9}),
    ),
    "Q8 Lyon 7e, inactive": Expected(
        body={"location": RESTOS, "needs": ["inactivity"], "max_distance_km": 1},
        exactly=frozenset(),
        unmatched="distance",
    ),
}


def harvest(*args: str) -> str:
    out = io.StringIO()
    call_command("harvest", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def report_of(output: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(output)
    return report


@pytest.fixture(scope="module")
def harvested(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """The export harvested once for the module, by an operator at the terminal; yields
    the first run's report."""
    with module_transaction(django_db_blocker):
        harvest("add", "lyon", str(FIXTURE), "--kind", "data-inclusion", "--every", "0")
        yield report_of(harvest("run", "lyon"))


def _service(name: str, source: str = "lyon") -> Service:
    return Service.objects.get(name=name, provenance__source_name=source)


# --- The report -----------------------------------------------------------------------


def test_the_first_run_reports_what_it_created_and_what_it_refused(
    harvested: dict[str, Any],
) -> None:
    counts = {k: harvested[k] for k in ("fetched", "created", "updated", "unchanged", "invalid")}
    assert counts == {"fetched": 13, "created": 9, "updated": 0, "unchanged": 0, "invalid": 4}
    assert (harvested["status"], harvested["deactivated"], harvested["error"]) == (
        "succeeded",
        0,
        "",
    )
    refused: dict[str, list[str]] = {}
    for problem in harvested["problems"]:
        refused.setdefault(problem["record"], []).append(problem["field"])
    assert set(refused) == set(INVALID)
    for record, field in INVALID.items():
        assert any(f.startswith(field) for f in refused[record]), (record, refused[record])
    unmapped = {(t["taxonomy"], t["code"]) for t in harvested["unmapped_terms"]}
    assert {(PUBLICS, "seniors"), (PUBLICS, "personnes-exilees"), (TYPES, "atelier")} <= unmapped
    assert not any("thematiques" in taxonomy for taxonomy, _ in unmapped), unmapped


def test_every_valid_service_is_there_with_its_provenance(harvested: dict[str, Any]) -> None:
    assert sorted(
        Service.objects.filter(provenance__source_name="lyon").values_list("name", flat=True)
    ) == sorted(VALID)
    provenance = ServiceProvenance.objects.get(service=_service(D1))
    assert provenance.record_id == "dora--cafe-rencontre-bonnefoi"
    assert (
        provenance.record_url
        == "https://dora.inclusion.beta.gouv.fr/services/cafe-rencontre-bonnefoi"
    )
    assert provenance.source_modified is not None
    assert provenance.source_modified.date().isoformat() == "2026-11-03"


def test_the_mapping_keeps_what_each_field_says(harvested: dict[str, Any]) -> None:
    cafe, gym = _service(D1), _service(D2)
    assert (cafe.cost, gym.cost) == ("free", "paid")
    assert gym.fees_description == "5 € la séance, 1 € avec la carte Ville de Lyon"
    assert cafe.organization.name == "Centre social Bonnefoi"
    # D1 and D2 meet at their structure's address: one place.
    [cafe_place] = cafe.service_at_locations.select_related("location")
    [gym_place] = gym.service_at_locations.select_related("location")
    assert cafe_place.location_id == gym_place.location_id
    assert cafe_place.location.addresses.get().address_1 == "5 rue Bonnefoi"
    # D9 at its own address.
    [french] = _service(D9).service_at_locations.select_related("location")
    assert french.location.addresses.get().address_1 == "10 rue Francis de Pressensé"
    # Nowhere to go for a service given at a distance only.
    assert not _service(D6).service_at_locations.exists()
    # An unreadable phone is left out, the service kept.
    assert not _service(D5).phones.exists()
    # The first Tuesday of each month; "PH off" kept in words.
    [aidants] = _service(D8).service_at_locations.get().schedules.all()
    assert (aidants.freq, aidants.byday) == ("MONTHLY", "1TU")
    notes = [s.notes for s in _service(D3).service_at_locations.get().schedules.all() if s.notes]
    assert notes == ["Horaires : PH off"]


# --- The people -----------------------------------------------------------------------


@pytest.mark.parametrize("person", list(PEOPLE))
def test_each_person_gets_what_the_table_says(
    api: ApiClient, harvested: dict[str, Any], person: str
) -> None:
    assert_as_expected(refer(api, PEOPLE[person].body), PEOPLE[person])


# --- Runs after the first ----------------------------------------------------------------


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(FIXTURE, folder)
    return folder


def _services_edit(folder: Path, edit: Any) -> None:
    path = folder / "services.json"
    services = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(edit(services), ensure_ascii=False), encoding="utf-8")


def test_a_run_with_nothing_changed_writes_nothing(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    harvest("add", "copy", str(folder), "--kind", "data-inclusion", "--every", "0")
    harvest("run", "copy")
    events = Event.objects.count()

    again = report_of(harvest("run", "copy"))

    assert (again["created"], again["updated"], again["unchanged"], again["invalid"]) == (
        0,
        0,
        9,
        4,
    )
    assert Event.objects.count() == events


def test_a_change_updates_a_service_and_a_service_gone_is_deactivated_then_back(
    tmp_path: Path,
) -> None:
    folder = _copy(tmp_path)
    harvest("add", "copy", str(folder), "--kind", "data-inclusion", "--every", "0")
    harvest("run", "copy")
    repas = _service(D4, "copy")

    def edit(services: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for service in services:
            if service["nom"] == D1:
                service["horaires_accueil"] = "Tu,Th 14:00-17:00"
                service["date_maj"] = "2026-12-01"
        return [s for s in services if s["nom"] != D4]

    _services_edit(folder, edit)
    second = report_of(harvest("run", "copy"))

    assert (second["updated"], second["unchanged"], second["deactivated"]) == (1, 7, 1)
    [place] = _service(D1, "copy").service_at_locations.all()
    assert sorted(s.byday for s in place.schedules.all()) == ["TU,TH"]
    repas.refresh_from_db()
    assert repas.status == "inactive"  # never deleted: referrals point at it
    closed = Event.objects.get(aggregate_id=repas.id, type="service.closed")
    assert closed.payload == {"status": "inactive", "reason": "left-source"}
    assert not HarvestedRecord.objects.get(service=repas).active

    shutil.copy(FIXTURE / "services.json", folder / "services.json")
    third = report_of(harvest("run", "copy"))

    repas.refresh_from_db()
    assert repas.status == "active"
    assert third["deactivated"] == 0
    assert third["updated"] == 2  # D1 back as it was, D4 back


def test_an_export_emptied_by_mistake_deactivates_nothing(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    harvest("add", "copy", str(folder), "--kind", "data-inclusion", "--every", "0")
    harvest("run", "copy")
    _services_edit(folder, lambda services: [])

    with pytest.raises(CommandError, match="listed no service"):
        harvest("run", "copy")

    assert not Service.objects.filter(provenance__source_name="copy", status="inactive").exists()
    source = HarvestSource.objects.get(name="copy")
    assert source.failures == 1


def test_a_broken_export_fails_the_run_and_says_why(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "services.json").write_text('{"services": ', encoding="utf-8")
    harvest("add", "copy", str(folder), "--kind", "data-inclusion", "--every", "0")

    with pytest.raises(CommandError, match=r"services\.json: not JSON"):
        harvest("run", "copy")

    assert not ServiceProvenance.objects.filter(source_name="copy").exists()
