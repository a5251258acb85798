"""Writes on Tisser's taxonomy: the seed, and what operators change since.

Codes are identifiers clients send (`needs: ["isolation"]`) and services carry: a code
is never renamed, and one in use is never deleted, only deactivated (kept on what carries
it, no longer offered in forms, accepted in new referrals or reached by matching). Every
change writes a `taxonomy.changed` event in its transaction, whose id becomes the
taxonomy's version (`community_catalog.taxonomy`), and this process forgets its copy.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from community_catalog.crosswalks import services_reading_code_refresh
from community_catalog.models import Crosswalk, ForeignTerm, TaxonomyTerm
from community_catalog.taxonomy import (
    KIND_ROOTS,
    SEED_NEED_ACTIVITIES,
    SEED_TERMS,
    taxonomy_change_lock,
    taxonomy_forget,
    taxonomy_version_bump,
)
from core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from events.outbox import event_record

CODE_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LABEL_MAX = 200


def taxonomy_seed(term_model: Any = TaxonomyTerm) -> int:
    """Create the seeded terms that do not exist yet, and give each seeded need that
    answers nothing its seeded kinds of activity. What an operator changed is kept.
    Returns how many terms there are.

    `term_model` lets a data migration pass its historical model.
    """
    with transaction.atomic():
        by_code: dict[str, Any] = {t.code: t for t in term_model.objects.all()}
        for term in SEED_TERMS:
            if term.code in by_code:
                continue
            by_code[term.code] = term_model.objects.create(
                code=term.code,
                kind=term.kind,
                name=term.name,
                name_en=term.name_en,
                parent=by_code.get(term.parent) if term.parent else None,
            )
        if hasattr(term_model, "activities"):
            for need, activities in SEED_NEED_ACTIVITIES.items():
                need_term = by_code.get(need)
                if need_term is not None and not need_term.activities.exists():
                    need_term.activities.add(*(by_code[a] for a in activities if a in by_code))
    taxonomy_forget()
    return len(by_code)


# --- Operators' changes ---------------------------------------------------------------


@dataclass(frozen=True)
class TermIn:
    """A new term, or the fields of one to change (None: unchanged)."""

    name: str | None = None
    name_en: str | None = None
    description: str | None = None
    parent: str | None = None
    active: bool | None = None
    # For a need: the kinds of activity that answer it (replaces the list).
    activities: list[str] | None = None


def term_saved(term: TaxonomyTerm, *, created: bool, fields: list[str]) -> None:
    """Record a change written elsewhere (the admin), in its transaction (which took
    `taxonomy_change_lock` before writing)."""
    _recorded(term, "term.added" if created else "term.updated", fields)
    if created:
        services_reading_code_refresh(term.code)


def term_check(
    term: TaxonomyTerm, *, parent: TaxonomyTerm | None, activities: list[TaxonomyTerm] | None
) -> None:
    """The rules every write keeps (`InvalidInput` naming the field): a parent of the same
    kind and never below the term itself; activities only for a need, and only kinds of
    activity."""
    _parent(term, parent.code if parent else "")
    if activities:
        _activities(term, [a.code for a in activities])


def _recorded(term: TaxonomyTerm, change: str, fields: list[str]) -> None:
    event_record(
        type="taxonomy.changed",
        aggregate_type="taxonomy",
        aggregate_id=term.id,
        payload={"change": change, "code": term.code, "fields": sorted(fields)},
    )
    taxonomy_version_bump()
    taxonomy_forget()


def _label(value: str, field: str) -> str:
    text = " ".join(value.split())
    if "\x00" in text:
        raise InvalidInput(
            f"{field} is not valid.", fields=[FieldProblem(field, "contains a NUL character")]
        )
    if not text:
        raise InvalidInput(f"{field} is required.", fields=[FieldProblem(field, "required")])
    if len(text) > _LABEL_MAX:
        raise InvalidInput(
            f"{field} is too long.",
            fields=[FieldProblem(field, f"at most {_LABEL_MAX} characters")],
        )
    return text


def _description(value: str) -> str:
    if "\x00" in value:
        raise InvalidInput(
            "description is not valid.",
            fields=[FieldProblem("description", "contains a NUL character")],
        )
    return value.strip()


def _parent(term: TaxonomyTerm, parent_code: str) -> TaxonomyTerm | None:
    """The parent named by code ("" for none), of the same kind, and never the term or
    one of its descendants."""
    if not parent_code:
        return None
    parent = (
        None if "\x00" in parent_code else TaxonomyTerm.objects.filter(code=parent_code).first()
    )
    if parent is None:
        raise InvalidInput(
            "Unknown parent.", fields=[FieldProblem("parent", f"unknown code {parent_code!r}")]
        )
    if parent.kind != term.kind:
        raise InvalidInput(
            "A term's parent is of the same kind.",
            fields=[
                FieldProblem("parent", f"{parent_code!r} is a {parent.kind}, not a {term.kind}")
            ],
        )
    ancestor: TaxonomyTerm | None = parent
    while ancestor is not None:
        if ancestor.pk == term.pk:
            raise InvalidInput(
                "A term cannot be placed under itself.",
                fields=[FieldProblem("parent", f"{parent_code!r} is below {term.code!r}")],
            )
        ancestor = ancestor.parent
    return parent


def _activities(term: TaxonomyTerm, codes: list[str]) -> list[TaxonomyTerm]:
    if term.kind != TaxonomyTerm.Kind.NEED:
        raise InvalidInput(
            "Only a need is answered by kinds of activity.",
            fields=[FieldProblem("activities", f"{term.code!r} is not a need")],
        )
    found = {
        t.code: t
        for t in TaxonomyTerm.objects.filter(code__in=[c for c in codes if "\x00" not in c])
    }
    problems = []
    for i, code in enumerate(codes):
        activity = found.get(code)
        if activity is None:
            problems.append(FieldProblem(f"activities[{i}]", f"unknown code {code!r}"))
        elif activity.kind != TaxonomyTerm.Kind.ACTIVITY:
            problems.append(FieldProblem(f"activities[{i}]", f"{code!r} is not a kind of activity"))
    if problems:
        raise InvalidInput("Some activities are not kinds of activity.", fields=problems)
    return [found[code] for code in dict.fromkeys(codes)]


def term_create(*, code: str, kind: str, data: TermIn) -> TaxonomyTerm:
    """Add a term. Its code is for good: choose it as clients will send it."""
    if not CODE_PATTERN.match(code) or len(code) > 64:
        raise InvalidInput(
            "A code is lower-case words joined by hyphens.",
            fields=[FieldProblem("code", "lower-case letters, digits and hyphens, at most 64")],
        )
    if kind not in TaxonomyTerm.Kind.values:
        raise InvalidInput("Unknown kind.", fields=[FieldProblem("kind", "'need' or 'activity'")])
    with transaction.atomic():
        taxonomy_change_lock()
        if TaxonomyTerm.objects.filter(code=code).exists():
            raise Conflict(
                f"The code {code!r} exists: change that term instead.",
                fields=[FieldProblem("code", "already exists")],
            )
        term = TaxonomyTerm(
            id=uuid.uuid4(),
            code=code,
            kind=kind,
            name=_label(data.name or "", "name_fr"),
            name_en=_label(data.name_en or "", "name_en"),
            description=_description(data.description or ""),
            active=True if data.active is None else data.active,
        )
        # Left out: under the top of its kind, where forms and the tree show it.
        term.parent = _parent(term, data.parent or KIND_ROOTS.get(kind, ""))
        term.save()
        if data.activities is not None:
            term.activities.set(_activities(term, data.activities))
        _recorded(term, "term.added", ["code"])
        # Other directories' terms with this code are now read as it.
        services_reading_code_refresh(term.code)
    return term


def term_update(*, code: str, data: TermIn) -> TaxonomyTerm:
    """Change a term's labels, place in the tree, activities (a need) or whether it is
    active. The code and the kind never change."""
    with transaction.atomic():
        taxonomy_change_lock()
        term = _locked(code)
        changed: list[str] = []
        for field, value in (
            ("name", data.name),
            ("name_en", data.name_en),
        ):
            if value is not None:
                label = _label(value, "name_fr" if field == "name" else field)
                if label != getattr(term, field):
                    setattr(term, field, label)
                    changed.append(field)
        if data.description is not None and _description(data.description) != term.description:
            term.description = _description(data.description)
            changed.append("description")
        if data.parent is not None:
            parent = _parent(term, data.parent)
            if parent != term.parent:
                term.parent = parent
                changed.append("parent")
        if data.active is not None and data.active != term.active:
            term.active = data.active
            changed.append("active")
        if changed:
            term.save()
        if data.activities is not None:
            wanted = _activities(term, data.activities)
            if {t.pk for t in wanted} != set(term.activities.values_list("pk", flat=True)):
                term.activities.set(wanted)
                changed.append("activities")
        if changed:
            change = "term.updated"
            if changed == ["active"]:
                change = "term.reactivated" if term.active else "term.deactivated"
            _recorded(term, change, changed)
    return term


def _locked(code: str) -> TaxonomyTerm:
    term = (
        None
        if "\x00" in code
        else TaxonomyTerm.objects.select_for_update(no_key=True).filter(code=code).first()
    )
    if term is None:
        raise NotFound(f"No term {code!r}.")
    return term


def term_uses(term: TaxonomyTerm) -> dict[str, int]:
    """What keeps a term from being deleted (nothing: it may be)."""
    uses = {
        "services": term.services.count(),
        "referrals": term.referrals.count(),
        "children": term.children.count(),
        "crosswalks": Crosswalk.objects.filter(terms=term).count(),
        "needs": term.needs_answered.count(),
        # Other directories' terms with this code, read as it automatically.
        "directory terms": ForeignTerm.objects.filter(
            code__iexact=term.code, services__isnull=False
        )
        .values("id")
        .distinct()
        .count(),
    }
    return {name: count for name, count in uses.items() if count}


def term_delete(*, code: str) -> None:
    """Delete a term nothing uses yet (a mistake just made); one in use is deactivated."""
    with transaction.atomic():
        taxonomy_change_lock()
        term = _locked(code)
        uses = term_uses(term)
        if uses:
            said = ", ".join(f"{count} {name}" for name, count in uses.items())
            raise Conflict(
                f"{code!r} is in use ({said}): deactivate it instead.",
                fields=[FieldProblem("code", "in use: set active to false")],
                extra={"uses": uses},
            )
        _recorded(term, "term.deleted", ["code"])
        term.activities.clear()
        term.delete()
        services_reading_code_refresh(code)
