"""`/catalog/taxonomy` and `/catalog/crosswalks`: Tisser's taxonomy, public to read and
kept by operators, and how other directories' terms map onto it (operators only)."""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status
from pydantic import Field

from accounts.auth import OperatorKey
from community_catalog import crosswalks, refusal_examples, taxonomy_services
from community_catalog.models import TaxonomyTerm
from community_catalog.schemas import (
    CrosswalkIn,
    CrosswalkListOut,
    CrosswalkOut,
    CrosswalkSetOut,
    TaxonomyOut,
    TaxonomyTermOut,
    TermCreateIn,
    TermPatchIn,
    UnmappedListOut,
    UnmappedOut,
)
from community_catalog.taxonomy import TAXONOMY_NAME, taxonomy_current, taxonomy_key
from core.schemas import ErrorOut, PageQuery, openapi_refusals

taxonomy_router = Router(tags=["taxonomy"])


def _term_out(term: TaxonomyTerm, children: list[TaxonomyTermOut] | None = None) -> TaxonomyTermOut:
    return TaxonomyTermOut(
        id=term.id,
        code=term.code,
        kind=term.kind,  # type: ignore[arg-type]
        name_fr=term.name,
        name_en=term.name_en,
        description=term.description,
        active=term.active,
        activities=sorted(a.code for a in term.activities.all()),
        children=children or [],
    )


@taxonomy_router.get(
    "/taxonomy", response=TaxonomyOut, auth=None, summary="The taxonomy: needs and activity kinds"
)
def taxonomy_read(request: HttpRequest) -> TaxonomyOut:
    """The needs and activity kinds, as a tree: codes to send, labels in French and
    English, whether each is still in use, and which kinds of activity answer each need."""
    version = taxonomy_current().version
    terms = list(TaxonomyTerm.objects.prefetch_related("activities").order_by("code"))
    children: dict[uuid.UUID | None, list[TaxonomyTerm]] = {}
    for term in terms:
        children.setdefault(term.parent_id, []).append(term)

    def node(term: TaxonomyTerm) -> TaxonomyTermOut:
        return _term_out(term, [node(child) for child in children.get(term.id, [])])

    return TaxonomyOut(
        taxonomy=TAXONOMY_NAME, version=version, terms=[node(t) for t in children.get(None, [])]
    )


def _term(code: str) -> TaxonomyTerm:
    return TaxonomyTerm.objects.prefetch_related("activities").get(code=code)


@taxonomy_router.post(
    "/taxonomy",
    response={201: TaxonomyTermOut, 401: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    auth=OperatorKey(),
    summary="Add a term to the taxonomy",
    openapi_extra=openapi_refusals(
        {409: refusal_examples.TERM_EXISTS, 422: refusal_examples.TERM_CREATE_INVALID}
    ),
)
def taxonomy_term_create(request: HttpRequest, body: TermCreateIn) -> Status:
    """Add a need or a kind of activity. Its code is for good; labels can change."""
    term = taxonomy_services.term_create(
        code=body.code,
        kind=body.kind,
        data=taxonomy_services.TermIn(
            name=body.name_fr,
            name_en=body.name_en,
            description=body.description,
            parent=body.parent,
            activities=body.activities,
        ),
    )
    return Status(201, _term_out(_term(term.code)))


@taxonomy_router.patch(
    "/taxonomy/{code}",
    response={200: TaxonomyTermOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    auth=OperatorKey(),
    summary="Change a term, or deactivate it",
    openapi_extra=openapi_refusals(
        {404: refusal_examples.TERM_NOT_FOUND, 422: refusal_examples.TERM_UPDATE_INVALID}
    ),
)
def taxonomy_term_update(request: HttpRequest, code: str, body: TermPatchIn) -> TaxonomyTermOut:
    """Change a term's labels, its place in the tree, the kinds of activity answering a
    need, or deactivate it (`"active": false`). A code is never renamed."""
    term = taxonomy_services.term_update(
        code=code,
        data=taxonomy_services.TermIn(
            name=body.name_fr,
            name_en=body.name_en,
            description=body.description,
            parent=body.parent,
            active=body.active,
            activities=body.activities,
        ),
    )
    return _term_out(_term(term.code))


@taxonomy_router.delete(
    "/taxonomy/{code}",
    response={204: None, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    auth=OperatorKey(),
    summary="Delete a term nothing uses",
    openapi_extra=openapi_refusals(
        {404: refusal_examples.TERM_NOT_FOUND, 409: refusal_examples.TERM_IN_USE}
    ),
)
def taxonomy_term_delete(request: HttpRequest, code: str) -> Status:
    """Delete a term nothing uses yet; one in use answers 409: deactivate it instead."""
    taxonomy_services.term_delete(code=code)
    return Status(204, None)


# --- Crosswalks -----------------------------------------------------------------------


class PageParams(PageQuery):
    limit: int = Field(50, ge=1, le=500, description="How many items per page.")


class CrosswalkParams(PageParams):
    taxonomy: str | None = Field(None, max_length=300, description="Only this taxonomy's.")


@taxonomy_router.get(
    "/crosswalks",
    response={200: CrosswalkListOut, 401: ErrorOut, 422: ErrorOut},
    auth=OperatorKey(),
    summary="The mappings of other taxonomies' terms to Tisser codes",
)
def crosswalk_list(request: HttpRequest, params: Query[CrosswalkParams]) -> CrosswalkListOut:
    """Every mapping: crosswalk rows, then the automatic ones (a term of another taxonomy
    whose code is a Tisser code), which a row overrides."""
    rows = crosswalks.mappings_list()
    if params.taxonomy is not None:
        wanted = taxonomy_key(params.taxonomy)
        rows = [r for r in rows if r.taxonomy == wanted]
    page = rows[params.offset : params.offset + params.limit]
    return CrosswalkListOut(
        total=len(rows),
        limit=params.limit,
        offset=params.offset,
        items=[CrosswalkOut.model_validate(r) for r in page],
    )


@taxonomy_router.post(
    "/crosswalks",
    response={200: CrosswalkSetOut, 201: CrosswalkSetOut, 401: ErrorOut, 422: ErrorOut},
    auth=OperatorKey(),
    summary="Map a term of another taxonomy to Tisser codes",
    openapi_extra=openapi_refusals({422: refusal_examples.CROSSWALK_INVALID}),
)
def crosswalk_create(request: HttpRequest, body: CrosswalkIn) -> Status:
    """Map a term of another taxonomy to Tisser codes (`[]`: no correspondence), or
    change its mapping: 201 when new, 200 when replaced. Services already imported are
    matched differently at once (`services_updated`)."""
    done = crosswalks.crosswalk_set(
        crosswalks.CrosswalkIn(
            taxonomy=body.taxonomy,
            code=body.code,
            tisser_codes=tuple(body.tisser_codes),
            label=body.label,
        )
    )
    row = crosswalks.mapping_row(done.crosswalk)
    out = CrosswalkSetOut(
        **CrosswalkOut.model_validate(row).model_dump(), services_updated=done.services
    )
    return Status(201 if done.outcome == "created" else 200, out)


@taxonomy_router.get(
    "/crosswalks/unmapped",
    response={200: UnmappedListOut, 401: ErrorOut, 422: ErrorOut},
    auth=OperatorKey(),
    summary="Terms services carry that nothing maps yet",
)
def crosswalk_unmapped(request: HttpRequest, params: Query[PageParams]) -> UnmappedListOut:
    """Terms of other taxonomies that services carry and nothing maps yet, most carried
    first, each with up to three suggested Tisser codes (never applied by themselves)."""
    found = crosswalks.unmapped_terms()
    page = found[params.offset : params.offset + params.limit]
    return UnmappedListOut(
        total=len(found),
        limit=params.limit,
        offset=params.offset,
        items=[
            UnmappedOut(
                taxonomy=t.taxonomy,
                code=t.code,
                label=t.label,
                services=t.services,
                suggestions=list(crosswalks.code_suggestions(t.label, t.code)),
            )
            for t in page
        ],
    )


@taxonomy_router.delete(
    "/crosswalks/{crosswalk_id}",
    response={204: None, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    auth=OperatorKey(),
    summary="Remove a mapping",
    openapi_extra=openapi_refusals({404: refusal_examples.CROSSWALK_NOT_FOUND}),
)
def crosswalk_delete(request: HttpRequest, crosswalk_id: uuid.UUID) -> Status:
    """Remove a mapping: the term is read automatically again (same code) or becomes
    unmapped; services already imported follow at once."""
    crosswalks.crosswalk_remove_by_id(crosswalk_id)
    return Status(204, None)
