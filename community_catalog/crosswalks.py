"""Crosswalks: how the terms of other directories' taxonomies read in Tisser's codes.

An import keeps every term a service carries (`ForeignTerm`). A crosswalk row maps
(taxonomy, code) to one or more Tisser codes, or to none on purpose; without a row, a
code equal to a Tisser code maps to it automatically. Changing a row applies at once to
the services already imported: each one carrying the term is announced
(`service.updated`), which rebuilds its points in matching's index in the same
transaction. Operators work through the CLI (`tisser crosswalk`), the API and a staff
page, which suggests codes from the labels; a suggestion never applies itself.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.db.models import Count, Q
from rapidfuzz import fuzz, process

from community_catalog.costs import text_fold
from community_catalog.models import Crosswalk, ForeignTerm, Service, TaxonomyTerm
from community_catalog.taxonomy import (
    is_tisser_taxonomy,
    taxonomy_current,
    taxonomy_forget,
    taxonomy_key,
)
from config.errors import FieldProblem, InvalidInput, NotFound
from referrals.outbox import EventDraft, event_record, events_record

CSV_COLUMNS = ("taxonomy", "code", "tisser_codes", "label")
SHIPPED_DIR = Path(__file__).resolve().parent / "crosswalks"
# data·inclusion's thematiques, as its schema's documentation names the referential.
DATA_INCLUSION_THEMATIQUES = (
    "https://gip-inclusion.github.io/data-inclusion-schema/latest/referentiels/thematiques"
)
SHIPPED_CROSSWALKS = (SHIPPED_DIR / "data-inclusion-thematiques.csv",)
_MAX_ROWS = 10_000


@dataclass(frozen=True)
class CrosswalkIn:
    taxonomy: str
    code: str
    tisser_codes: tuple[str, ...]
    label: str = ""


def _key(taxonomy: str, code: str, *, where: str = "") -> tuple[str, str]:
    taxonomy, code = taxonomy_key(taxonomy), " ".join(code.split())
    problems = []
    if len(taxonomy) > 300:
        problems.append(FieldProblem(f"{where}taxonomy", "at most 300 characters"))
    if not code:
        problems.append(FieldProblem(f"{where}code", "required"))
    elif len(code) > 200:
        problems.append(FieldProblem(f"{where}code", "at most 200 characters"))
    elif is_tisser_taxonomy(taxonomy) and taxonomy_current().active(code):
        problems.append(FieldProblem(f"{where}code", f"{code!r} is already a Tisser code"))
    if problems:
        raise InvalidInput("The term is not valid.", fields=problems)
    return taxonomy, code


def _tisser_terms(codes: Iterable[str], *, where: str = "") -> list[TaxonomyTerm]:
    """The Tisser terms of these codes; an unknown or inactive code is refused by name."""
    codes = list(dict.fromkeys(codes))
    found = {t.code: t for t in TaxonomyTerm.objects.filter(code__in=codes)}
    problems = []
    for i, code in enumerate(codes):
        term = found.get(code)
        if term is None:
            problems.append(
                FieldProblem(f"{where}tisser_codes[{i}]", f"unknown Tisser code {code!r}")
            )
        elif not term.active:
            problems.append(
                FieldProblem(f"{where}tisser_codes[{i}]", f"{code!r} is no longer in use")
            )
    if problems:
        raise InvalidInput(
            "Unknown Tisser codes: " + ", ".join(repr(p.message.split("'")[1]) for p in problems)
            if all("unknown" in p.message for p in problems)
            else "Some Tisser codes cannot be used.",
            fields=problems,
        )
    return [found[code] for code in codes]


def _services_carrying(keys: Iterable[tuple[str, str]]) -> list[uuid.UUID]:
    condition = Q()
    for taxonomy, code in keys:
        condition |= Q(foreign_terms__taxonomy=taxonomy, foreign_terms__code=code)
    if not condition:
        return []
    return sorted(set(Service.objects.filter(condition).values_list("id", flat=True)))


def _applied(crosswalk_id: uuid.UUID, change: str, keys: list[tuple[str, str]]) -> int:
    """Record a change and apply it to the services already imported; returns how many
    services it touched."""
    event_record(
        type="taxonomy.changed",
        aggregate_type="taxonomy",
        aggregate_id=crosswalk_id,
        payload={"change": change},
    )
    services = _services_carrying(keys)
    if services:
        # Each service's points in matching's index are rebuilt by these events, in this
        # transaction; the organisations see why their activity is found differently.
        events_record(
            [
                EventDraft(
                    type="service.updated",
                    aggregate_type="service",
                    aggregate_id=service_id,
                    payload={"action": "updated", "changes": ["taxonomy"]},
                )
                for service_id in services
            ]
        )
    taxonomy_forget()
    return len(services)


@dataclass(frozen=True)
class CrosswalkSet:
    crosswalk: Crosswalk
    outcome: str  # "created", "updated" or "unchanged"
    services: int  # services already imported whose reading changed


def crosswalk_set(data: CrosswalkIn, *, where: str = "") -> CrosswalkSet:
    """Map (taxonomy, code) to these Tisser codes (none: no correspondence), replacing
    any mapping it had."""
    taxonomy, code = _key(data.taxonomy, data.code, where=where)
    terms = _tisser_terms(data.tisser_codes, where=where)
    label = " ".join(data.label.split())[:300]
    with transaction.atomic():
        crosswalk = (
            Crosswalk.objects.select_for_update().filter(taxonomy=taxonomy, code=code).first()
        )
        if crosswalk is None:
            crosswalk = Crosswalk.objects.create(taxonomy=taxonomy, code=code, label=label)
            outcome = "created"
        else:
            same_codes = set(crosswalk.terms.values_list("code", flat=True)) == {
                t.code for t in terms
            }
            if same_codes and (not label or label == crosswalk.label):
                return CrosswalkSet(crosswalk, "unchanged", 0)
            if label and label != crosswalk.label:
                crosswalk.label = label
                crosswalk.save(update_fields=["label", "updated_at"])
            outcome = "updated"
        crosswalk.terms.set(terms)
        services = _applied(crosswalk.id, "crosswalk.set", [(taxonomy, code)])
    return CrosswalkSet(crosswalk, outcome, services)


def crosswalk_remove(*, taxonomy: str, code: str) -> None:
    """Remove a mapping: the term is then read automatically (a code equal to a Tisser
    code) or listed as unmapped again."""
    key = (taxonomy_key(taxonomy), " ".join(code.split()))
    with transaction.atomic():
        crosswalk = (
            Crosswalk.objects.select_for_update().filter(taxonomy=key[0], code=key[1]).first()
        )
        if crosswalk is None:
            raise NotFound(f"No crosswalk for {key[0] or '(no taxonomy)'} {key[1]!r}.")
        crosswalk_id = crosswalk.id
        crosswalk.delete()
        _applied(crosswalk_id, "crosswalk.removed", [key])


def crosswalk_saved(crosswalk: Crosswalk, *, removed: bool = False) -> int:
    """Record and apply a row written elsewhere (the admin); returns how many services
    it touched. Call it in the transaction that wrote the row."""
    change = "crosswalk.removed" if removed else "crosswalk.set"
    return _applied(crosswalk.id, change, [(crosswalk.taxonomy, crosswalk.code)])


def crosswalk_remove_by_id(crosswalk_id: uuid.UUID) -> None:
    crosswalk = Crosswalk.objects.filter(id=crosswalk_id).first()
    if crosswalk is None:
        raise NotFound("No such crosswalk.")
    crosswalk_remove(taxonomy=crosswalk.taxonomy, code=crosswalk.code)


# --- Reading --------------------------------------------------------------------------


@dataclass(frozen=True)
class MappingRow:
    """A mapping as listed: a crosswalk row, or an automatic mapping of a term services
    carry (`id` None)."""

    id: uuid.UUID | None
    taxonomy: str
    code: str
    label: str
    tisser_codes: tuple[str, ...]
    automatic: bool
    services: int


def _service_counts(active_only: bool = True) -> dict[tuple[str, str], int]:
    """How many (active) services carry each foreign term."""
    services = Q(services__status=Service.Status.ACTIVE) if active_only else Q()
    return {
        (taxonomy, code): count
        for taxonomy, code, count in ForeignTerm.objects.annotate(
            n=Count("services", filter=services, distinct=True)
        ).values_list("taxonomy", "code", "n")
    }


def mappings_list() -> list[MappingRow]:
    """Every crosswalk row, then every automatic mapping of a term services carry."""
    counts = _service_counts()
    labels = dict(
        ((t, c), label)
        for t, c, label in ForeignTerm.objects.values_list("taxonomy", "code", "label")
    )
    rows = [
        MappingRow(
            id=crosswalk.id,
            taxonomy=crosswalk.taxonomy,
            code=crosswalk.code,
            label=crosswalk.label or labels.get((crosswalk.taxonomy, crosswalk.code), ""),
            tisser_codes=tuple(sorted(t.code for t in crosswalk.terms.all())),
            automatic=False,
            services=counts.get((crosswalk.taxonomy, crosswalk.code), 0),
        )
        for crosswalk in Crosswalk.objects.prefetch_related("terms").order_by("taxonomy", "code")
    ]
    explicit = {(r.taxonomy, r.code) for r in rows}
    taxonomy = taxonomy_current()
    for (term_taxonomy, code), label in sorted(labels.items()):
        if (term_taxonomy, code) in explicit:
            continue
        mapped = taxonomy.mapping(term_taxonomy, code)
        if mapped is not None and mapped[1]:
            rows.append(
                MappingRow(
                    id=None,
                    taxonomy=term_taxonomy,
                    code=code,
                    label=label,
                    tisser_codes=mapped[0],
                    automatic=True,
                    services=counts.get((term_taxonomy, code), 0),
                )
            )
    return rows


@dataclass(frozen=True)
class UnmappedTerm:
    taxonomy: str
    code: str
    label: str
    services: int
    suggestions: tuple[str, ...] = field(default=())


def unmapped_terms(*, suggest: bool = False) -> list[UnmappedTerm]:
    """The terms services carry that nothing maps: most carried first."""
    counts = _service_counts()
    carried = set(
        ForeignTerm.objects.filter(services__isnull=False).values_list("taxonomy", "code")
    )
    taxonomy = taxonomy_current()
    found = [
        UnmappedTerm(
            taxonomy=term_taxonomy,
            code=code,
            label=label,
            services=counts.get((term_taxonomy, code), 0),
            suggestions=code_suggestions(label, code) if suggest else (),
        )
        for term_taxonomy, code, label in ForeignTerm.objects.values_list(
            "taxonomy", "code", "label"
        )
        if (term_taxonomy, code) in carried and taxonomy.mapping(term_taxonomy, code) is None
    ]
    return sorted(found, key=lambda t: (-t.services, t.taxonomy, t.code))


def _words(text: str) -> str:
    return text_fold(text.replace("-", " ").replace("_", " "))


def code_suggestions(label: str, code: str = "", limit: int = 3) -> tuple[str, ...]:
    """Up to `limit` Tisser codes whose labels (French or English) or code look like
    this term's, ignoring case and accents. Never applied without a person choosing."""
    taxonomy = taxonomy_current()
    choices: dict[str, str] = {}
    for term in taxonomy.terms.values():
        if not term.active or term.parent is None:
            continue
        for text in (term.name, term.name_en, term.code):
            choices[f"{term.code}\n{text}"] = _words(text)
    best: dict[str, float] = {}
    for query in {_words(label), _words(code)} - {""}:
        for _text, score, key in process.extract(
            query, choices, scorer=fuzz.token_set_ratio, limit=limit * 4, score_cutoff=60
        ):
            tisser_code = key.split("\n", 1)[0]
            best[tisser_code] = max(best.get(tisser_code, 0.0), score)
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    return tuple(code for code, _score in ranked[:limit])


# --- CSV ------------------------------------------------------------------------------


@dataclass
class CsvResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    services: int = 0


def crosswalks_csv(rows: Iterable[MappingRow] | None = None) -> str:
    """The crosswalk rows as CSV: taxonomy, code, tisser_codes (space separated), label."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows if rows is not None else mappings_list():
        if not row.automatic:
            writer.writerow([row.taxonomy, row.code, " ".join(row.tisser_codes), row.label])
    return out.getvalue()


def crosswalks_csv_read(text: str) -> list[CrosswalkIn]:
    """Rows of a crosswalk CSV, every problem named with its line; nothing if any."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [
        c for c in ("taxonomy", "code", "tisser_codes") if c not in (reader.fieldnames or [])
    ]
    if missing:
        raise InvalidInput(
            "The CSV needs the columns taxonomy, code, tisser_codes (and label).",
            fields=[FieldProblem(f"columns.{c}", "missing") for c in missing],
        )
    rows: list[CrosswalkIn] = []
    for record in reader:
        if len(rows) >= _MAX_ROWS:
            raise InvalidInput(f"At most {_MAX_ROWS} rows per file.")
        rows.append(
            CrosswalkIn(
                taxonomy=record.get("taxonomy") or "",
                code=record.get("code") or "",
                tisser_codes=tuple((record.get("tisser_codes") or "").split()),
                label=record.get("label") or "",
            )
        )
    return rows


def crosswalks_import(rows: list[CrosswalkIn]) -> CsvResult:
    """Set every row, all or nothing: any unknown code refuses the file, with every
    problem named by its line (`line 3: …`)."""
    problems: list[FieldProblem] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in enumerate(rows, start=2):
        where = f"line {line} "
        try:
            key = _key(row.taxonomy, row.code, where=where)
            _tisser_terms(row.tisser_codes, where=where)
        except InvalidInput as invalid:
            problems.extend(invalid.fields)
            continue
        if key in seen:
            problems.append(FieldProblem(f"{where}code", f"the same term as line {seen[key]}"))
        seen[key] = line
    if problems:
        raise InvalidInput(
            f"{len(problems)} problem(s) in the file; nothing was changed.", fields=problems
        )
    result = CsvResult()
    with transaction.atomic():
        for row in rows:
            done = crosswalk_set(row)
            setattr(result, done.outcome, getattr(result, done.outcome) + 1)
            result.services += done.services
    return result


def shipped_crosswalks_load() -> CsvResult:
    """Load the crosswalks Tisser ships (data·inclusion's thematiques) where no row
    exists yet: what an operator changed is kept."""
    total = CsvResult()
    for path in SHIPPED_CROSSWALKS:
        rows = crosswalks_csv_read(path.read_text(encoding="utf-8"))
        existing = set(Crosswalk.objects.values_list("taxonomy", "code"))
        new = [r for r in rows if (taxonomy_key(r.taxonomy), r.code.strip()) not in existing]
        if new:
            result = crosswalks_import(new)
            total.created += result.created
    return total
