"""Writes on the catalogue."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from community_catalog.models import TaxonomyTerm
from community_catalog.taxonomy import TAXONOMY


def taxonomy_seed(term_model: Any = TaxonomyTerm) -> int:
    """Create or update the seeded taxonomy terms. Returns how many terms there are.

    `term_model` lets the data migration pass its historical model.
    """
    with transaction.atomic():
        by_code: dict[str, Any] = {}
        for term in TAXONOMY:
            obj, _ = term_model.objects.update_or_create(
                code=term.code,
                defaults={
                    "kind": term.kind,
                    "name": term.name,
                    "name_en": term.name_en,
                    "parent": by_code.get(term.parent) if term.parent else None,
                },
            )
            by_code[term.code] = obj
    return len(by_code)
