"""Tisser's taxonomy: the needs people have, the kinds of collective activity, which
kinds answer which need, and how other directories' terms read in Tisser's codes.

It is data an operator keeps (`community_catalog.taxonomy_services`: the admin, the API
and a staff page). `SEED_TERMS` and `SEED_NEED_ACTIVITIES` are what a new installation
starts from (the data migrations); after that, the database is the truth.

Matching, search, forms and intake read a per-process copy (`taxonomy_current`): read
once, kept until the taxonomy's version moves. Every change writes a `taxonomy` event
and counts itself in `TaxonomyVersion` in its transaction; the process making a change
forgets its copy at once, the others within TISSER_TAXONOMY_CHECK_SECONDS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings

from community_catalog.models import Crosswalk, TaxonomyTerm, TaxonomyVersion
from core.caches import cache_register

# The name Tisser's own taxonomy goes by in HSDS files (`taxonomy_term.taxonomy`).
TAXONOMY_NAME = "tisser"
# The version of the seeded taxonomy; each change since adds to it.
SEED_VERSION = "2026.1"
# The top of each kind's tree: categories, not terms to choose.
KIND_ROOTS = {"need": "needs", "activity": "activities"}


class Term(NamedTuple):
    code: str
    kind: str
    parent: str | None
    name: str
    name_en: str


SEED_TERMS: tuple[Term, ...] = (
    Term("needs", "need", None, "Besoins", "Needs"),
    Term("isolation", "need", "needs", "Isolement", "Loneliness and isolation"),
    Term("food-insecurity", "need", "needs", "Précarité alimentaire", "Food insecurity"),
    Term("low-mood", "need", "needs", "Moral bas, stress", "Low mood and stress"),
    Term("inactivity", "need", "needs", "Manque d'activité physique", "Physical inactivity"),
    Term("caring-burden", "need", "needs", "Épuisement d'aidant", "Caring burden"),
    Term("new-to-area", "need", "needs", "Nouvel arrivant", "New to the area"),
    Term("digital-exclusion", "need", "needs", "Difficultés numériques", "Digital exclusion"),
    Term("activities", "activity", None, "Activités", "Activities"),
    Term(
        "cooking-workshop",
        "activity",
        "activities",
        "Atelier cuisine collective",
        "Collective cooking workshop",
    ),
    Term("talk-group", "activity", "activities", "Groupe de parole", "Talk group"),
    Term("peer-support", "activity", "activities", "Binôme d'entraide", "Peer-support pair"),
    Term("mentoring", "activity", "activities", "Parrainage, mentorat", "Mentoring"),
    Term(
        "co-development",
        "activity",
        "activities",
        "Groupe de codéveloppement",
        "Co-development group",
    ),
    Term("learning-circle", "activity", "activities", "Cercle d'apprentissage", "Learning circle"),
    Term(
        "collective-reading",
        "activity",
        "learning-circle",
        "Lecture collective",
        "Collective reading",
    ),
    Term("physical-activity", "activity", "activities", "Activité physique", "Physical activity"),
    Term("walking-group", "activity", "physical-activity", "Groupe de marche", "Walking group"),
    Term("creative", "activity", "activities", "Activité créative", "Creative activity"),
    Term("gardening", "activity", "activities", "Jardinage, nature", "Gardening and nature"),
    Term("digital-inclusion", "activity", "activities", "Inclusion numérique", "Digital inclusion"),
    Term("volunteering", "activity", "activities", "Bénévolat", "Volunteering"),
)


# Which kinds of activity answer each need, as first seeded: how a need reaches
# activities through the tree (matching also takes every code below these). A service
# may also be tagged with a need directly. Grounded in what social-prescribing link
# workers propose most for each need; operators change it as data
# (`TaxonomyTerm.activities`).
SEED_NEED_ACTIVITIES: dict[str, tuple[str, ...]] = {
    "isolation": (
        "talk-group",
        "peer-support",
        "cooking-workshop",
        "walking-group",
        "creative",
        "gardening",
        "learning-circle",
        "volunteering",
    ),
    "food-insecurity": ("cooking-workshop", "gardening"),
    "low-mood": (
        "talk-group",
        "peer-support",
        "physical-activity",
        "creative",
        "gardening",
        "co-development",
    ),
    "inactivity": ("physical-activity", "gardening"),
    "caring-burden": ("talk-group", "peer-support", "co-development"),
    "new-to-area": ("mentoring", "volunteering", "learning-circle", "walking-group", "talk-group"),
    "digital-exclusion": ("digital-inclusion", "mentoring"),
}


# --- The taxonomy as matching reads it ----------------------------------------------


@dataclass(frozen=True)
class TermInfo:
    code: str
    kind: str
    parent: str | None
    name: str
    name_en: str
    active: bool

    def label(self, language: str) -> str:
        return self.name_en if language == "en" else self.name


def taxonomy_key(taxonomy: str) -> str:
    """How a taxonomy is named for crosswalks: its URI or name as given, trimmed, a URI
    without its trailing slash."""
    key = " ".join(taxonomy.split())
    if "://" in key:
        key = key.rstrip("/")
    return key


def is_tisser_taxonomy(taxonomy: str) -> bool:
    return taxonomy_key(taxonomy).casefold() == TAXONOMY_NAME


@dataclass(frozen=True)
class Taxonomy:
    """One consistent reading of the taxonomy and the crosswalks."""

    version: str
    terms: dict[str, TermInfo]
    children: dict[str | None, tuple[str, ...]]
    need_activities: dict[str, tuple[str, ...]]
    # (taxonomy key, code) → the Tisser codes it stands for; () for "no correspondence".
    crosswalks: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def active(self, code: str) -> bool:
        term = self.terms.get(code)
        return term is not None and term.active

    def codes_under(self, codes: Iterable[str]) -> set[str]:
        """`codes` and every code below them in the tree, active ones only: a search for
        physical activity finds walking groups. An inactive kind still leads to the
        active kinds below it."""
        seen: set[str] = set()
        pending = [c for c in codes if c in self.terms]
        while pending:
            code = pending.pop()
            if code not in seen:
                seen.add(code)
                pending.extend(self.children.get(code, ()))
        return {code for code in seen if self.active(code)}

    def match_codes(self, needs: Iterable[str]) -> set[str]:
        """The codes that answer `needs`: each need itself, the kinds of activity that
        answer it, and every code below those in the tree; inactive codes reach nothing.
        A person isolated reaches talk groups, walking groups (under physical activity)
        and more."""
        reached = {need for need in needs if self.active(need)}
        for need in list(reached):
            reached.update(self.need_activities.get(need, ()))
        return self.codes_under(sorted(reached))

    def choosable(self, kind: str) -> list[TermInfo]:
        """The active terms of a kind a person chooses from: all but the kind's root."""
        return [
            t
            for t in self.terms.values()
            if t.kind == kind and t.active and t.code not in KIND_ROOTS.values()
        ]

    def mapping(self, taxonomy: str, code: str) -> tuple[tuple[str, ...], bool] | None:
        """How a term of another taxonomy reads in Tisser's codes: (codes, automatic), or
        None when nothing maps it. A crosswalk row decides; without one, a code equal to
        a Tisser code maps to it automatically."""
        explicit = self.crosswalks.get((taxonomy_key(taxonomy), code))
        if explicit is not None:
            return explicit, False
        folded = code.strip().casefold()
        if folded in self.terms:
            return (folded,), True
        return None


_lock = threading.Lock()
_current: Taxonomy | None = None
_checked_at = -1e9


def taxonomy_version() -> str:
    """The version the database holds: the seed's, then how many changes since."""
    number = TaxonomyVersion.objects.filter(pk=1).values_list("number", flat=True).first()
    return f"{SEED_VERSION}.{number}" if number else SEED_VERSION


def taxonomy_change_lock() -> None:
    """Take the taxonomy for a change, in the caller's transaction, before any other
    lock: every change to terms or crosswalks starts here, so they queue in one order
    and never wait on each other in a circle."""
    if TaxonomyVersion.objects.select_for_update().filter(pk=1).first() is None:
        TaxonomyVersion.objects.get_or_create(pk=1)
        TaxonomyVersion.objects.select_for_update().filter(pk=1).first()


def taxonomy_read_lock() -> None:
    """Hold the taxonomy still while this transaction links services to directory
    terms (an import): a change (`taxonomy_change_lock`) waits for it, and it for a
    change, so neither rebuilds a service's points with the other half seen. Imports do
    not wait on each other (a shared lock; SQLite's single writer orders them anyway)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        # FOR SHARE of a row that is not there holds nothing: make it first (a change
        # creating it meanwhile makes this wait for that change, which is the point).
        TaxonomyVersion.objects.get_or_create(pk=1)
        table = connection.ops.quote_name(TaxonomyVersion._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table} WHERE id = 1 FOR SHARE")  # noqa: S608


def taxonomy_version_bump() -> None:
    """Count a change, in its transaction (the row's lock orders concurrent changes)."""
    from django.db.models import F
    from django.utils import timezone

    now = timezone.now()
    if not TaxonomyVersion.objects.filter(pk=1).update(number=F("number") + 1, changed_at=now):
        TaxonomyVersion.objects.get_or_create(pk=1, defaults={"number": 1, "changed_at": now})


def _load() -> Taxonomy:
    version = taxonomy_version()
    rows = list(
        TaxonomyTerm.objects.values_list(
            "id", "code", "kind", "parent__code", "name", "name_en", "active"
        )
    )
    terms = {
        code: TermInfo(code, kind, parent, name, name_en, active)
        for _id, code, kind, parent, name, name_en, active in rows
    }
    children: dict[str | None, list[str]] = {}
    for term in terms.values():
        children.setdefault(term.parent, []).append(term.code)
    need_activities: dict[str, list[str]] = {}
    through = TaxonomyTerm.activities.through
    for need, activity in through.objects.values_list(
        "from_taxonomyterm__code", "to_taxonomyterm__code"
    ):
        need_activities.setdefault(need, []).append(activity)
    # The rows and their codes in one statement, so one snapshot: read apart, a
    # crosswalk written in between had codes and no row (a KeyError, in a race test).
    crosswalks: dict[tuple[str, str], list[str]] = {}
    for taxonomy, code, tisser_code in Crosswalk.objects.values_list(
        "taxonomy", "code", "terms__code"
    ):
        codes = crosswalks.setdefault((taxonomy, code), [])
        if tisser_code is not None:
            codes.append(tisser_code)
    return Taxonomy(
        version=version,
        terms=terms,
        children={k: tuple(sorted(v)) for k, v in children.items()},
        need_activities={k: tuple(sorted(v)) for k, v in need_activities.items()},
        crosswalks={k: tuple(sorted(v)) for k, v in crosswalks.items()},
    )


def taxonomy_current() -> Taxonomy:
    """The taxonomy and crosswalks, as this process keeps them (see the module)."""
    global _current, _checked_at
    now = time.monotonic()
    with _lock:
        kept, checked_at = _current, _checked_at
    if kept is not None and now - checked_at < settings.TISSER_TAXONOMY_CHECK_SECONDS:
        return kept
    if kept is not None and taxonomy_version() == kept.version:
        with _lock:
            _checked_at = now
        return kept
    loaded = _load()
    with _lock:
        _current, _checked_at = loaded, now
    return loaded


@cache_register
def taxonomy_forget() -> None:
    """Forget this process's copy: the next reader loads the taxonomy anew."""
    global _current, _checked_at
    with _lock:
        _current, _checked_at = None, -1e9
