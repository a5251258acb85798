"""data·inclusion's structures and services as HSDS services.

Each record is first checked with the `data-inclusion-schema` package (v1, the schema
the national API serves), then mapped:

- structure (`nom`, `description`, `site_web`, `courriel`): the service's `organization`;
- `nom`, `description`, `lien_source`, `courriel`: `name`, `description`, `url`, `email`;
- `frais` (`gratuit`, `payant`), `frais_precisions`: `cost` (free, paid), `fees_description`;
- `publics_precisions`, `conditions_acces`, `zone_eligibilite`: `eligibility_description`;
- `modes_mobilisation`, `mobilisation_precisions`, `lien_mobilisation`: `application_process`;
- `telephone`, `contact_nom_prenom`: `phones`, `contacts`;
- `thematiques`, `publics`, `type`: `attributes`, terms of data·inclusion's referentials,
  read through the crosswalks (`thematiques` ships mapped);
- `modes_accueil`: a place when `en-presentiel` (the service's address, else its
  structure's); none when only `a-distance`;
- `horaires_accueil` (OpenStreetMap opening hours): `schedules` for the rules
  `opening_hours` writes most, weekly (`Mo-Fr 09:00-12:00,14:00-17:00; Sa 10:00-12:00`)
  and monthly (`Tu[1,3] 18:00-20:00`: the first and third Tuesdays), a later rule for a
  day replacing an earlier one as in OpenStreetMap; the others are kept, as written, in
  a schedule's notes;
- `date_maj`: `last_modified`.

Ids stay the source's ("dora--42"); the harvest puts them in its own namespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from data_inclusion.schema import v1
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from community_catalog.crosswalks import DATA_INCLUSION_THEMATIQUES
from community_catalog.hsds_records import Phone
from core.bodies import validation_problems
from harvest.records import Entry

_REFERENTIALS = "https://gip-inclusion.github.io/data-inclusion-schema/latest/referentiels/"
PUBLICS = _REFERENTIALS + "publics"
TYPES = _REFERENTIALS + "types-de-services"
_PHONE: TypeAdapter[Any] = TypeAdapter(Phone)
_CONTEXT = {"ignore_warnings": True}
_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_COMMA = re.compile(r"\s*,\s*")
_NTH = re.compile(r"^(Mo|Tu|We|Th|Fr|Sa|Su)\[(-?[1-5](?:,-?[1-5])*)\]$")
_TIME_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def data_inclusion_entries(structures: Iterable[Any], services: Iterable[Any]) -> Iterator[Entry]:
    """An entry per service: its HSDS document, or the problems that keep it out."""
    known: dict[str, v1.Structure] = {}
    structure_problems: dict[str, list[tuple[str, str]]] = {}
    for raw in structures:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            continue  # a structure is only read through its services
        try:
            known[raw["id"]] = v1.Structure.model_validate(raw, context=_CONTEXT)
        except PydanticValidationError as exc:
            structure_problems[raw["id"]] = [
                (f"structure.{f}", m) for f, m in validation_problems(exc)
            ]
    for raw in services:
        record_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(record_id, str) or not record_id:
            yield Entry(record_id="", problems=[("id", "a service needs its id")])
            continue
        try:
            service = v1.Service.model_validate(raw, context=_CONTEXT)
        except PydanticValidationError as exc:
            yield Entry(record_id=record_id, problems=validation_problems(exc))
            continue
        structure = known.get(service.structure_id)
        if structure is None:
            problems = structure_problems.get(
                service.structure_id,
                [("structure_id", f"no structure {service.structure_id!r} in the source")],
            )
            yield Entry(record_id=record_id, problems=problems)
            continue
        yield Entry(
            record_id=record_id,
            modified=service.date_maj.isoformat(),
            document=service_mapped(service, structure),
            url=str(service.lien_source or ""),
        )


def service_mapped(service: v1.Service, structure: v1.Structure) -> dict[str, Any]:
    """One data·inclusion service as an HSDS service (ids still the source's)."""
    document: dict[str, Any] = {
        "id": service.id,
        "name": service.nom,
        "description": service.description,
        "url": str(service.lien_source or ""),
        "email": str(service.courriel or ""),
        "status": "active",
        "fees_description": service.frais_precisions or "",
        "eligibility_description": _paragraphs(
            service.publics_precisions,
            service.conditions_acces,
            _zone(service.zone_eligibilite),
        ),
        "application_process": _paragraphs(
            ", ".join(m.label for m in sorted(service.modes_mobilisation or [], key=str)),
            service.mobilisation_precisions,
            str(service.lien_mobilisation or ""),
        ),
        "last_modified": _midnight(service.date_maj),
        "organization": {
            "id": structure.id,
            "name": structure.nom,
            "description": structure.description or "",
            "website": str(structure.site_web or ""),
            "email": str(structure.courriel or ""),
        },
        "attributes": _attributes(service),
    }
    if service.frais is not None:
        document["cost"] = "free" if service.frais == v1.Frais.GRATUIT else "paid"
    phone = _phone(service.telephone)
    if phone:
        document["phones"] = [{"id": f"{service.id}/phone", "number": phone}]
    if service.contact_nom_prenom:
        document["contacts"] = [
            {
                "id": f"{service.id}/contact",
                "name": service.contact_nom_prenom[:100],
                "email": str(service.courriel or ""),
            }
        ]
    modes = service.modes_accueil or {v1.ModeAccueil.EN_PRESENTIEL}
    place = _place(service, structure) if v1.ModeAccueil.EN_PRESENTIEL in modes else None
    if place is not None:
        document["service_at_locations"] = [place]
    return document


def _attributes(service: v1.Service) -> list[dict[str, Any]]:
    terms: list[tuple[str, str, str]] = []
    for thematique in sorted(service.thematiques or [], key=str):
        terms.append((DATA_INCLUSION_THEMATIQUES, thematique.value, thematique.label))
    for public in sorted(service.publics or [], key=str):
        terms.append((PUBLICS, public.value, public.label))
    if service.type is not None:
        terms.append((TYPES, service.type.value, service.type.label))
    return [
        {
            "id": f"{service.id}/{taxonomy.rsplit('/', 1)[-1]}/{code}",
            "taxonomy_term": {
                "id": f"{taxonomy}#{code}",
                "code": code,
                "name": label,
                "description": label,
                "taxonomy": taxonomy,
            },
        }
        for taxonomy, code, label in terms
    ]


def _place(service: v1.Service, structure: v1.Structure) -> dict[str, Any] | None:
    """The service's own address when it gives one, else its structure's."""
    own = service.commune or service.adresse or service.latitude is not None
    where: Any = service if own else structure
    if not (where.commune or where.latitude is not None):
        return None
    location_id = f"{service.id}/place" if own else f"{structure.id}/place"
    location: dict[str, Any] = {
        "id": location_id,
        "location_type": "physical",
        "name": structure.nom,
        "latitude": where.latitude,
        "longitude": where.longitude,
    }
    if where.adresse and where.commune and where.code_postal:
        location["addresses"] = [
            {
                "id": f"{location_id}/address",
                "address_1": where.adresse,
                "address_2": where.complement_adresse or "",
                "city": where.commune,
                "postal_code": where.code_postal,
                "state_province": region_of(where.code_postal),
                "country": "FR",
                "address_type": "physical",
            }
        ]
    hours = service.horaires_accueil or structure.horaires_accueil
    place: dict[str, Any] = {"id": f"{service.id}@place", "location": location}
    if hours:
        place["schedules"] = opening_hours_schedules(hours, prefix=f"{service.id}/hours")
    return place


def opening_hours_schedules(text: str, *, prefix: str) -> list[dict[str, Any]]:
    """HSDS schedules for the rules of an OpenStreetMap `opening_hours` value that are
    days and times (`Mo-Fr 09:00-12:00, 14:00-17:00`, `Tu[1] 18:00-20:00`, `We off`).
    As in OpenStreetMap, a later rule for a day replaces an earlier one (`Mo-Fr
    09:00-17:00; We off`: not on Wednesdays). Every other rule (holidays, months, weeks)
    is kept, as written, in the notes of a schedule without times, so that nothing the
    source says is lost or guessed at."""
    weekly: dict[str, list[tuple[str, str]]] = {}
    monthly: list[tuple[str, list[tuple[str, str]]]] = []
    not_read: list[str] = []
    for rule in (_COMMA.sub(",", r.strip()) for r in text.split(";")):
        if not rule:
            continue
        read = _rule_read(rule)
        if read is None:
            not_read.append(rule)
            continue
        freq, byday, ranges = read
        if freq == "MONTHLY":
            monthly.append((byday, ranges))
            continue
        for day in byday.split(","):
            weekly[day] = ranges  # replaces what an earlier rule said of that day
    schedules: list[dict[str, Any]] = []

    def add(freq: str, byday: str, ranges: list[tuple[str, str]]) -> None:
        for opens, closes in ranges:
            schedules.append(
                {
                    "id": f"{prefix}/{len(schedules)}",
                    "freq": freq,
                    "byday": byday,
                    "opens_at": opens,
                    "closes_at": closes,
                }
            )

    # Days with the same hours in one schedule each range, Monday first.
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for day in (d.upper() for d in _DAYS):
        if weekly.get(day):
            groups.setdefault(tuple(weekly[day]), []).append(day)
    for hours, days in groups.items():
        add("WEEKLY", ",".join(days), list(hours))
    for byday, ranges in monthly:
        add("MONTHLY", byday, ranges)
    if not_read:
        schedules.append(
            {"id": f"{prefix}/notes", "notes": "Horaires : " + "; ".join(not_read)[:1000]}
        )
    return schedules


def _rule_read(rule: str) -> tuple[str, str, list[tuple[str, str]]] | None:
    """(freq, byday, time ranges) of `Mo-Fr 09:00-12:00,14:00-17:00` (weekly) or of
    `Tu[1,3] 18:00-20:00` (the first and third Tuesdays: monthly); None otherwise."""
    parts = rule.split()
    if len(parts) != 2:
        return None
    nth = _NTH.match(parts[0])
    if nth:
        day, weeks = nth.group(1), nth.group(2).split(",")
        byday = ",".join(f"{int(w)}{day.upper()}" for w in dict.fromkeys(weeks))
        freq = "MONTHLY"
    else:
        days: list[str] = []
        for item in parts[0].split(","):
            first, _, last = item.partition("-")
            if first not in _DAYS or (last and last not in _DAYS):
                return None
            start, end = _DAYS.index(first), _DAYS.index(last or first)
            if end < start:
                return None
            days.extend(d for d in _DAYS[start : end + 1] if d not in days)
        byday, freq = ",".join(d.upper() for d in days), "WEEKLY"
    if parts[1] in ("off", "closed"):
        return freq, byday, []
    ranges = []
    for item in parts[1].split(","):
        match = _TIME_RANGE.match(item)
        if match is None:
            return None
        opens, closes = item.split("-")
        if closes == "24:00":
            closes = "23:59"
        if closes <= opens:
            return None
        ranges.append((opens, closes))
    return freq, byday, ranges


# France's regions by département (the first two digits of a postcode; three overseas).
_REGIONS = {
    "Auvergne-Rhône-Alpes": "01 03 07 15 26 38 42 43 63 69 73 74",
    "Bourgogne-Franche-Comté": "21 25 39 58 70 71 89 90",
    "Bretagne": "22 29 35 56",
    "Centre-Val de Loire": "18 28 36 37 41 45",
    "Corse": "20",
    "Grand Est": "08 10 51 52 54 55 57 67 68 88",
    "Hauts-de-France": "02 59 60 62 80",
    "Île-de-France": "75 77 78 91 92 93 94 95",
    "Normandie": "14 27 50 61 76",
    "Nouvelle-Aquitaine": "16 17 19 23 24 33 40 47 64 79 86 87",
    "Occitanie": "09 11 12 30 31 32 34 46 48 65 66 81 82",
    "Pays de la Loire": "44 49 53 72 85",
    "Provence-Alpes-Côte d'Azur": "04 05 06 13 83 84",
    "Guadeloupe": "971",
    "Martinique": "972",
    "Guyane": "973",
    "La Réunion": "974",
    "Mayotte": "976",
}
_REGION_OF = {code: region for region, codes in _REGIONS.items() for code in codes.split()}


def region_of(postcode: str) -> str:
    """The region of a French postcode ("" when unknown: HSDS asks for the field)."""
    return _REGION_OF.get(postcode[:3]) or _REGION_OF.get(postcode[:2], "")


def _phone(number: str | None) -> str:
    """The number when Tisser can read it (a French number, or international): a number
    it cannot read is left out rather than keeping the whole service out."""
    if not number:
        return ""
    try:
        return str(_PHONE.validate_python(number))
    except PydanticValidationError:
        return ""


def _zone(codes: list[str] | None) -> str:
    if not codes:
        return ""
    return "Zone d\u2019éligibilité : " + ", ".join(str(c) for c in codes[:50])


def _paragraphs(*texts: str | None) -> str:
    return "\n\n".join(t.strip() for t in texts if t and t.strip())


def _midnight(day: date) -> str:
    return f"{day.isoformat()}T00:00:00+00:00"
