"""Crosswalks: how the terms of other directories' taxonomies read in Tisser's codes.

An import keeps every term a service carries (`ForeignTerm`). A crosswalk row maps
(taxonomy, code) to one or more Tisser codes, or to none on purpose; without a row, a
code equal to a Tisser code maps to it automatically. Changing a row applies at once to
the services already imported: the points in matching's index of each one carrying the
term are rebuilt in the same transaction (one `taxonomy.changed` event records the
change; the term's row is held meanwhile, so an import of the same term waits).
Operators work through the CLI (`tisser crosswalk`), the API and a staff page, which
suggests codes from the labels; a suggestion never applies itself.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from rapidfuzz import fuzz

from community_catalog.changes import services_changed
from community_catalog.costs import text_fold
from community_catalog.models import Crosswalk, ForeignTerm, Service, TaxonomyTerm
from community_catalog.selectors import IDS_PER_QUERY
from community_catalog.taxonomy import (
    is_tisser_taxonomy,
    taxonomy_change_lock,
    taxonomy_current,
    taxonomy_forget,
    taxonomy_key,
    taxonomy_version_bump,
)
from core.errors import FieldProblem, InvalidInput, NotFound
from events.outbox import event_record

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


def crosswalk_key(
    taxonomy: str, code: str, *, where: str = "", mapping: bool = True
) -> tuple[str, str]:
    """(taxonomy, code) as crosswalks key them, or `InvalidInput` naming the field."""
    taxonomy, code = taxonomy_key(taxonomy), " ".join(code.split())
    problems = []
    for name, value in (("taxonomy", taxonomy), ("code", code)):
        if "\x00" in value:
            problems.append(FieldProblem(f"{where}{name}", "contains a NUL character"))
    if len(taxonomy) > 300:
        problems.append(FieldProblem(f"{where}taxonomy", "at most 300 characters"))
    if not code:
        problems.append(FieldProblem(f"{where}code", "required"))
    elif len(code) > 200:
        problems.append(FieldProblem(f"{where}code", "at most 200 characters"))
    elif mapping and not problems and taxonomy_current().active(code):
        if is_tisser_taxonomy(taxonomy):
            problems.append(FieldProblem(f"{where}code", f"{code!r} is already a Tisser code"))
        elif not taxonomy:
            problems.append(
                FieldProblem(
                    f"{where}code",
                    f"{code!r} with no taxonomy named is read as the Tisser code itself",
                )
            )
    if problems:
        raise InvalidInput("The term is not valid.", fields=problems)
    return taxonomy, code


def _tisser_terms(codes: Iterable[str], *, where: str = "") -> list[TaxonomyTerm]:
    """The Tisser terms of these codes; an unknown or inactive code is refused by name."""
    codes = list(dict.fromkeys(codes))
    nul = [i for i, code in enumerate(codes) if "\x00" in code]
    if nul:
        raise InvalidInput(
            "Some Tisser codes are not valid.",
            fields=[
                FieldProblem(f"{where}tisser_codes[{i}]", "contains a NUL character") for i in nul
            ],
        )
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
        unknown = [c for c in codes if c not in found]
        raise InvalidInput(
            "Unknown Tisser codes: " + ", ".join(repr(c) for c in unknown)
            if unknown
            else "Some Tisser codes cannot be used.",
            fields=problems,
        )
    return [found[code] for code in codes]


def _terms_locked(keys: Iterable[tuple[str, str]]) -> list[ForeignTerm]:
    """Hold these terms' rows (made now if no import has yet) until the transaction
    ends: a crosswalk change and an import of a service carrying the term take turns,
    so neither rebuilds the service's points with the other's change half seen. Always
    in the same order, so two changes never wait on each other."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    ForeignTerm.objects.bulk_create(
        [ForeignTerm(taxonomy=t, code=c) for t, c in wanted], ignore_conflicts=True
    )
    found: list[ForeignTerm] = []
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        condition = Q()
        for taxonomy, code in chunk:
            condition |= Q(taxonomy=taxonomy, code=code)
        found += list(
            ForeignTerm.objects.select_for_update().filter(condition).order_by("taxonomy", "code")
        )
    return found


def _services_of(terms: Iterable[ForeignTerm]) -> list[uuid.UUID]:
    ids = [t.id for t in terms]
    services: set[uuid.UUID] = set()
    for start in range(0, len(ids), IDS_PER_QUERY):
        services.update(
            Service.foreign_terms.through.objects.filter(
                foreignterm_id__in=ids[start : start + IDS_PER_QUERY]
            ).values_list("service_id", flat=True)
        )
    return sorted(services)


def _recorded(aggregate_id: uuid.UUID, change: str) -> None:
    event_record(
        type="taxonomy.changed",
        aggregate_type="taxonomy",
        aggregate_id=aggregate_id,
        payload={"change": change},
    )
    taxonomy_version_bump()
    taxonomy_forget()


def _applied(terms: Iterable[ForeignTerm]) -> int:
    """Rebuild the points in matching's index of the services carrying these terms, in
    the caller's transaction; returns how many services. (The points are derived data:
    the change's own event is its record.)"""
    services = _services_of(terms)
    if services:
        services_changed(services)
    return len(services)


def services_reading_code_refresh(code: str) -> int:
    """A Tisser code was added or deleted: the terms of other taxonomies with that code
    are read automatically as it, or no longer; their services' points follow. In the
    change's transaction, after `taxonomy_change_lock`."""
    terms = list(ForeignTerm.objects.filter(code__iexact=code))
    return _applied(_terms_locked((t.taxonomy, t.code) for t in terms))


@dataclass(frozen=True)
class CrosswalkSet:
    crosswalk: Crosswalk
    outcome: str  # "created", "updated" or "unchanged"
    services: int  # services already imported whose reading changed


def crosswalk_set(data: CrosswalkIn, *, where: str = "", apply: bool = True) -> CrosswalkSet:
    """Map (taxonomy, code) to these Tisser codes (none: no correspondence), replacing
    any mapping it had. `apply=False`: the caller records and applies the change (a
    file of many rows, once)."""
    taxonomy, code = crosswalk_key(data.taxonomy, data.code, where=where)
    terms = _tisser_terms(data.tisser_codes, where=where)
    label = " ".join(data.label.replace("\x00", "").split())[:300]
    with transaction.atomic():
        taxonomy_change_lock()
        carried = _terms_locked([(taxonomy, code)])
        crosswalk = (
            Crosswalk.objects.select_for_update().filter(taxonomy=taxonomy, code=code).first()
        )
        outcome = "updated"
        if crosswalk is None:
            try:
                with transaction.atomic():
                    crosswalk = Crosswalk.objects.create(taxonomy=taxonomy, code=code, label=label)
                outcome = "created"
            except IntegrityError:  # made meanwhile by another request: change it
                crosswalk = Crosswalk.objects.select_for_update().get(taxonomy=taxonomy, code=code)
        if outcome == "updated":
            same_codes = set(crosswalk.terms.values_list("code", flat=True)) == {
                t.code for t in terms
            }
            if same_codes and (not label or label == crosswalk.label):
                return CrosswalkSet(crosswalk, "unchanged", 0)
            if label and label != crosswalk.label:
                crosswalk.label = label
                crosswalk.save(update_fields=["label", "updated_at"])
        crosswalk.terms.set(terms)
        services = 0
        if apply:
            _recorded(crosswalk.id, "crosswalk.set")
            services = _applied(carried)
    return CrosswalkSet(crosswalk, outcome, services)


def crosswalk_remove(*, taxonomy: str, code: str) -> None:
    """Remove a mapping: the term is then read automatically (a code equal to a Tisser
    code) or listed as unmapped again."""
    key = crosswalk_key(taxonomy, code, mapping=False)
    with transaction.atomic():
        taxonomy_change_lock()
        carried = _terms_locked([key])
        crosswalk = (
            Crosswalk.objects.select_for_update().filter(taxonomy=key[0], code=key[1]).first()
        )
        if crosswalk is None:
            raise NotFound(f"No crosswalk for {key[0] or '(no taxonomy)'} {key[1]!r}.")
        crosswalk_id = crosswalk.id
        crosswalk.delete()
        _recorded(crosswalk_id, "crosswalk.removed")
        _applied(carried)


def crosswalk_saved(crosswalk: Crosswalk, *, removed: bool = False) -> int:
    """Record and apply a row written elsewhere (the admin); returns how many services
    it touched. Call it in the transaction that wrote the row, which took
    `taxonomy_change_lock` before writing it."""
    _recorded(crosswalk.id, "crosswalk.removed" if removed else "crosswalk.set")
    return _applied(_terms_locked([(crosswalk.taxonomy, crosswalk.code)]))


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


def mapping_row(crosswalk: Crosswalk) -> MappingRow:
    """One crosswalk row as listed, with how many active services carry its term."""
    term = ForeignTerm.objects.filter(taxonomy=crosswalk.taxonomy, code=crosswalk.code).first()
    services = term.services.filter(status=Service.Status.ACTIVE).count() if term is not None else 0
    return MappingRow(
        id=crosswalk.id,
        taxonomy=crosswalk.taxonomy,
        code=crosswalk.code,
        label=crosswalk.label or (term.label if term else ""),
        tisser_codes=tuple(sorted(crosswalk.terms.values_list("code", flat=True))),
        automatic=False,
        services=services,
    )


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
    carried = set(
        ForeignTerm.objects.filter(services__isnull=False).values_list("taxonomy", "code")
    )
    taxonomy = taxonomy_current()
    for (term_taxonomy, code), label in sorted(labels.items()):
        if (term_taxonomy, code) in explicit or (term_taxonomy, code) not in carried:
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


# Words that say nothing of what kind of activity it is.
_GENERIC = frozenset(
    (
        *("atelier", "ateliers", "groupe", "groupes", "collectif", "collective", "collectifs"),
        *("activite", "activites", "activity", "activities", "group", "groups", "workshop"),
        *("workshops", "club", "clubs", "pour", "avec", "dans", "the", "and", "for", "with"),
        *("session", "sessions", "cours", "support", "soutien", "help", "aide", "aides"),
        *("advice", "conseil", "conseils", "service", "services", "accompagnement"),
    )
)


def _words(text: str) -> list[str]:
    """The telling words of a label or code: folded, split, long enough, not generic."""
    folded = text_fold(text.replace("-", " ").replace("_", " ").replace("'", " "))
    return [w for w in re.findall(r"[a-z0-9]+", folded) if len(w) >= 4 and w not in _GENERIC]


def _word_score(word: str, others: list[str]) -> float:
    """How close a word comes to one of `others`: one spelling or ending apart
    ("jardins", "jardinage"), not merely sharing letters ("logement", "isolement")."""
    best = 0.0
    for other in others:
        pairs = zip(word, other, strict=False)
        shared = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(word), len(other)))
        score = 90.0 if shared >= 5 else fuzz.ratio(word, other)
        if shared < 5 and min(len(word), len(other)) < 9 and score < 90:
            score = 0.0  # short words a letter or two apart: "talking", "walking"
        best = max(best, score)
    return best


def code_suggestions(label: str, code: str = "", limit: int = 3) -> tuple[str, ...]:
    """Up to `limit` Tisser codes whose labels (French or English) or code share telling
    words with this term's, ignoring case and accents and tolerating an ending or a
    spelling apart. Never applied without a person choosing."""
    # The label's words; the code's only when there is no label (codes are often
    # abbreviations: "JARD-02").
    query = list(dict.fromkeys(_words(label) or _words(code)))
    if not query:
        return ()
    scores: dict[str, float] = {}
    for term in taxonomy_current().terms.values():
        if not term.active or term.parent is None:
            continue
        words = _words(f"{term.name} {term.name_en} {term.code}")
        matched = [s for s in (_word_score(w, words) for w in query) if s >= 85]
        # At least half the label's telling words found: one shared word of several is
        # not the same thing ("mental health" is not "health walks").
        if matched and len(matched) * 2 >= len(query):
            # Most of the label's words found, and found closely.
            scores[term.code] = len(matched) / len(query) * 100 + sum(matched) / len(matched)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return tuple(code for code, _score in ranked[:limit])


# --- CSV ------------------------------------------------------------------------------


@dataclass
class CsvResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    services: int = 0


# A cell a spreadsheet would run as a formula; codes and labels come from any directory.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell_safe(value: str) -> str:
    """A value written for spreadsheets: one that would start a formula gets a leading
    apostrophe, which spreadsheets show as text (and `cell_read` takes off)."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def cell_read(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_START) else value


def crosswalks_csv(rows: Iterable[MappingRow] | None = None) -> str:
    """The crosswalk rows as CSV: taxonomy, code, tisser_codes (space separated), label."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows if rows is not None else mappings_list():
        if not row.automatic:
            writer.writerow(
                [
                    cell_safe(v)
                    for v in (row.taxonomy, row.code, " ".join(row.tisser_codes), row.label)
                ]
            )
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
                taxonomy=cell_read(record.get("taxonomy") or ""),
                code=cell_read(record.get("code") or ""),
                tisser_codes=tuple((record.get("tisser_codes") or "").split()),
                label=cell_read(record.get("label") or ""),
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
            key = crosswalk_key(row.taxonomy, row.code, where=where)
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
    keys = [crosswalk_key(row.taxonomy, row.code) for row in rows]
    with transaction.atomic():
        taxonomy_change_lock()
        carried = {(t.taxonomy, t.code): t for t in _terms_locked(keys)}
        changed = []
        for key, row in zip(keys, rows, strict=True):
            done = crosswalk_set(row, apply=False)
            setattr(result, done.outcome, getattr(result, done.outcome) + 1)
            if done.outcome != "unchanged":
                changed.append(carried[key])
        if changed:
            # One record and one rebuild for the whole file.
            _recorded(uuid.uuid4(), "crosswalks.imported")
            result.services = _applied(changed)
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
