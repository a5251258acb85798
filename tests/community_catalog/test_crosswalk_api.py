"""Crosswalks through the API for operator keys: what other directories' terms map to,
what is unmapped (with suggestions that never apply themselves), and changes that reach
the services already imported at once."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest

from accounts.keys import api_key_create
from community_catalog.crosswalks import DATA_INCLUSION_THEMATIQUES
from community_catalog.hsds import hsds_read
from community_catalog.hsds_export import service_export, services_for_export
from community_catalog.hsds_import import hsds_import
from community_catalog.models import Crosswalk, ForeignTerm, Service
from community_catalog.services import organization_create
from matching.models import MatchPoint
from tests.community_catalog.directory import CITY, directory_import, directory_term
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> ApiClient:
    return ApiClient(api_key_create(name="coordination"))


def _term(code: str, name: str, taxonomy: str = CITY) -> dict[str, Any]:
    # In taxonomy_detail, with a trailing slash: read as the same taxonomy.
    return directory_term(code, name, taxonomy, detail=True)


def _codes(service: Service) -> set[str]:
    point = MatchPoint.objects.get(service_key=str(service.id))
    return set(point.codes.strip(",").split(",")) - {""}


@pytest.fixture
def imported() -> tuple[Service, Service]:
    organization = organization_create(name="Maison de quartier")[0]
    pairs = directory_import(organization, _term("binomes", "Binômes d'entraide"), name="Binômes")
    garden = directory_import(
        organization,
        _term("gardening", "Jardinage"),
        _term("JARD-02", "Jardins partagés"),
        name="Jardin",
    )
    return pairs, garden


def test_import_keeps_every_term_and_lists_the_unmapped_with_suggestions(
    operator: ApiClient, imported: tuple[Service, Service]
) -> None:
    pairs, garden = imported
    # The URI is read without its trailing slash; the code as the directory wrote it.
    assert set(ForeignTerm.objects.values_list("taxonomy", "code")) == {
        (CITY, "binomes"),
        (CITY, "gardening"),
        (CITY, "JARD-02"),
    }
    assert _codes(pairs) == set()
    assert _codes(garden) == {"gardening"}  # the same code as Tisser's: automatic
    body = operator.get("/api/v1/catalog/crosswalks/unmapped").json()
    assert body["total"] == 2
    by_code = {item["code"]: item for item in body["items"]}
    assert by_code["binomes"]["label"] == "Binômes d'entraide"
    assert by_code["binomes"]["services"] == 1
    assert by_code["binomes"]["suggestions"][0] == "peer-support"
    assert "gardening" in by_code["JARD-02"]["suggestions"]
    # A suggestion is never applied by itself.
    assert _codes(pairs) == set()
    assert not Crosswalk.objects.filter(taxonomy=CITY).exists()


def test_a_crosswalk_applies_at_once_and_removing_it_takes_it_back(
    operator: ApiClient, imported: tuple[Service, Service]
) -> None:
    pairs, _garden = imported
    created = operator.post(
        "/api/v1/catalog/crosswalks",
        {"taxonomy": CITY + "/", "code": "binomes", "tisser_codes": ["peer-support"]},
    )
    assert created.status_code == 201, created.json()
    assert created.json()["services_updated"] == 1
    assert created.json()["taxonomy"] == CITY
    assert _codes(pairs) == {"peer-support"}
    again = operator.post(
        "/api/v1/catalog/crosswalks",
        {"taxonomy": CITY, "code": "binomes", "tisser_codes": ["peer-support", "isolation"]},
    )
    assert again.status_code == 200
    assert _codes(pairs) == {"isolation", "peer-support"}
    crosswalk_id = again.json()["id"]
    assert operator.delete(f"/api/v1/catalog/crosswalks/{crosswalk_id}").status_code == 204
    assert _codes(pairs) == set()
    assert operator.delete(f"/api/v1/catalog/crosswalks/{crosswalk_id}").status_code == 404


def test_an_automatic_mapping_is_listed_and_an_operator_can_override_it(
    operator: ApiClient, imported: tuple[Service, Service]
) -> None:
    _pairs, garden = imported
    items = operator.get(f"/api/v1/catalog/crosswalks?taxonomy={CITY}").json()["items"]
    automatic = [i for i in items if i["automatic"]]
    assert automatic == [
        {
            "id": None,
            "taxonomy": CITY,
            "code": "gardening",
            "label": "Jardinage",
            "tisser_codes": ["gardening"],
            "automatic": True,
            "services": 1,
        }
    ]
    # This directory's "gardening" is not Tisser's: say it has no correspondence.
    overridden = operator.post(
        "/api/v1/catalog/crosswalks", {"taxonomy": CITY, "code": "gardening", "tisser_codes": []}
    )
    assert overridden.status_code == 201
    assert _codes(garden) == set()
    assert {
        i["code"] for i in operator.get("/api/v1/catalog/crosswalks/unmapped").json()["items"]
    } == {
        "binomes",
        "JARD-02",
    }


def test_an_unknown_tisser_code_is_refused_naming_it(operator: ApiClient) -> None:
    response = operator.post(
        "/api/v1/catalog/crosswalks",
        {"taxonomy": CITY, "code": "binomes", "tisser_codes": ["peer-support", "buddying"]},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert "'buddying'" in error["message"]
    assert error["fields"] == [
        {"field": "tisser_codes[1]", "message": "unknown Tisser code 'buddying'"}
    ]
    assert not Crosswalk.objects.filter(taxonomy=CITY).exists()


def test_a_bad_body_is_a_clear_422(operator: ApiClient) -> None:
    for body, field in (
        ({"taxonomy": CITY, "code": "", "tisser_codes": []}, "code"),
        ({"taxonomy": CITY, "code": "x" * 201, "tisser_codes": []}, "code"),
        ({"taxonomy": CITY, "code": "a", "tisser_codes": ["a"] * 21}, "tisser_codes"),
        ({"taxonomy": CITY, "code": "a", "tisser_codes": [], "extra": 1}, "extra"),
        ({"taxonomy": "tisser", "code": "talk-group", "tisser_codes": ["talk-group"]}, "code"),
    ):
        response = operator.post("/api/v1/catalog/crosswalks", body)
        assert response.status_code == 422, (body, response.json())
        assert response.json()["error"]["fields"][0]["field"] == field


def test_the_shipped_data_inclusion_crosswalk_reads_thematiques(operator: ApiClient) -> None:
    organization = organization_create(name="Centre social")[0]
    service = directory_import(
        organization,
        _term("remobilisation--lien-social", "Lien social", DATA_INCLUSION_THEMATIQUES),
        _term("trouver-un-emploi--maintien-dans-lemploi", "Maintien", DATA_INCLUSION_THEMATIQUES),
    )
    assert _codes(service) == {"isolation"}
    # The employment theme is known to have no correspondence: not listed as unmapped.
    assert operator.get("/api/v1/catalog/crosswalks/unmapped").json()["total"] == 0


def test_foreign_terms_survive_an_edit_and_an_export_round_trip(
    org_api: ApiClient, operator: ApiClient
) -> None:
    organization = org_api.organization  # type: ignore[attr-defined]
    service = directory_import(organization, _term("binomes", "Binômes d'entraide"))
    # The organisation changes its Tisser codes with the short form: the directory's own
    # term stays.
    changed = org_api.patch(
        f"/api/v1/organization/services/{service.id}", {"taxonomy": ["talk-group"]}
    )
    assert changed.status_code == 200, changed.json()
    terms = [a["taxonomy_term"] for a in changed.json()["attributes"]]
    assert {(t.get("taxonomy", "tisser"), t["code"]) for t in terms} == {
        ("tisser", "talk-group"),
        (CITY, "binomes"),
    }
    exported = service_export(services_for_export(Service.objects.filter(id=service.id)).get())
    report = hsds_import(hsds_read([exported]), organization=organization)
    assert report.services[0]["action"] == "unchanged"


def test_nul_characters_are_a_422_never_a_500(operator: ApiClient, org_api: ApiClient) -> None:
    for body in (
        {"taxonomy": "a\x00b", "code": "x", "tisser_codes": []},
        {"taxonomy": CITY, "code": "x\x00", "tisser_codes": []},
        {"taxonomy": CITY, "code": "x", "tisser_codes": ["talk\x00group"]},
        {"taxonomy": CITY, "code": "x", "tisser_codes": [], "label": "\x00"},
    ):
        assert operator.post("/api/v1/catalog/crosswalks", body).status_code == 422, body
    term = _term("bin\x00omes", "Binômes")
    document = {
        "id": str(uuid.uuid4()),
        "name": "Atelier",
        "status": "active",
        "attributes": [term],
    }
    response = org_api.post("/api/v1/catalog/import", document)
    assert response.status_code == 422
    assert "NUL" in response.content.decode()
    assert not ForeignTerm.objects.filter(taxonomy=CITY).exists()


def test_a_new_tisser_code_is_read_at_once_where_a_directory_already_used_it(
    operator: ApiClient, imported: tuple[Service, Service]
) -> None:
    organization = imported[0].organization
    shared = directory_import(
        organization, _term("Jardin-Partage", "Jardin partagé"), name="Potager"
    )
    assert _codes(shared) == set()
    created = operator.post(
        "/api/v1/catalog/taxonomy",
        {
            "code": "jardin-partage",
            "kind": "activity",
            "name_fr": "Jardin partagé",
            "name_en": "Shared garden",
            "parent": "gardening",
        },
    )
    assert created.status_code == 201
    # Read automatically (whatever the case), in matching and in search alike.
    assert _codes(shared) == {"jardin-partage"}
    found = operator.get("/api/v1/catalog/services?need=gardening&lat=45.75&lon=4.85").json()
    potager = next(item for item in found["items"] if item["name"] == "Potager")
    assert potager["taxonomy"] == ["jardin-partage"]
    assert operator.delete("/api/v1/catalog/taxonomy/jardin-partage").status_code == 409


def test_the_csv_export_never_writes_a_formula(operator: ApiClient) -> None:
    from django.core.management import call_command

    operator.post(
        "/api/v1/catalog/crosswalks",
        {
            "taxonomy": CITY,
            "code": '=HYPERLINK("http://evil.example")',
            "tisser_codes": ["talk-group"],
            "label": "@SUM(1+1)",
        },
    )
    out = io.StringIO()
    call_command("crosswalk", "export", stdout=out)
    lines = [line for line in out.getvalue().splitlines() if "evil" in line]
    assert lines == [f'{CITY},"\'=HYPERLINK(""http://evil.example"")",talk-group,\'@SUM(1+1)']
    # And it reads back as it was written.
    path = _write(out.getvalue())
    call_command("crosswalk", "import", str(path), stdout=io.StringIO())
    assert Crosswalk.objects.get(taxonomy=CITY).code == '=HYPERLINK("http://evil.example")'


def _write(text: str) -> Any:
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "crosswalks.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("label", "suggested"),
    [
        ("Binômes d'entraide", ("peer-support",)),
        ("Jardins partagés", ("gardening",)),
        ("Groupe de parole", ("talk-group",)),
        ("Soutien aux aidants", ("caring-burden",)),
        ("Walking for health", ("walking-group",)),
        ("Parrainage", ("mentoring",)),
        # Sharing letters is not sharing meaning: nothing rather than noise.
        ("Logement", ()),
        ("Sport collectif", ()),
        ("Knit and natter", ()),
        ("Befriending", ()),
    ],
)
def test_suggestions_come_from_telling_words(label: str, suggested: tuple[str, ...]) -> None:
    from community_catalog.crosswalks import code_suggestions

    assert code_suggestions(label)[: len(suggested) or None] == suggested


def test_a_nul_in_a_url_is_a_422_too(org_api: ApiClient) -> None:
    document = {
        "id": str(uuid.uuid4()),
        "name": "Atelier",
        "status": "active",
        "url": "https://a.example/\x00",
    }
    response = org_api.post("/api/v1/catalog/import", document)
    assert response.status_code == 422
    assert "NUL" in response.content.decode()


def test_a_mapping_removed_leaves_no_automatic_row_for_a_term_nothing_carries(
    operator: ApiClient,
) -> None:
    operator.post(
        "/api/v1/catalog/crosswalks",
        {"taxonomy": "https://other.example/tax", "code": "gardening", "tisser_codes": []},
    )
    crosswalk = Crosswalk.objects.get(taxonomy="https://other.example/tax")
    operator.delete(f"/api/v1/catalog/crosswalks/{crosswalk.id}")
    items = operator.get("/api/v1/catalog/crosswalks?taxonomy=https://other.example/tax").json()
    assert items["total"] == 0
