"""An operator's pages for the taxonomy and the crosswalks (staff accounts).

`/app/taxonomy/`: the needs, the kinds of activity answering each, and every term, to
relabel, move, deactivate or add. `/app/crosswalks/`: the terms of other directories
that services carry and nothing maps, most carried first, each with up to three
suggested codes the operator may tick (a suggestion is never applied by itself), and
the mappings in place. Every write goes through the same services as the API and CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.web import problem_message
from community_catalog import crosswalks, taxonomy_services
from community_catalog.forms import CrosswalkForm, NewTermForm, TermForm
from community_catalog.models import TaxonomyTerm
from community_catalog.taxonomy import KIND_ROOTS, taxonomy_current
from core.errors import Problem

View = Callable[..., HttpResponseBase]


def staff_required(view: View) -> View:
    """For operators' staff accounts; anyone else signed in gets 403."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_staff:
            return render(request, "web/wrong_party.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


def _label(code: str) -> str:
    term = taxonomy_current().terms.get(code)
    return term.label(get_language() or "fr") if term else code


@staff_required
def taxonomy(request: HttpRequest) -> HttpResponse:
    terms = list(
        TaxonomyTerm.objects.select_related("parent")
        .prefetch_related("activities")
        .order_by("code")
    )
    needs = [
        t for t in terms if t.kind == TaxonomyTerm.Kind.NEED and t.code not in KIND_ROOTS.values()
    ]
    return render(
        request,
        "web/taxonomy.html",
        {
            "version": taxonomy_current().version,
            "needs": [
                {
                    "term": need,
                    "activities": sorted(_label(a.code) for a in need.activities.all()),
                }
                for need in needs
            ],
            "terms": terms,
        },
    )


def _term_in(data: dict[str, Any]) -> taxonomy_services.TermIn:
    return taxonomy_services.TermIn(
        name=data["name_fr"],
        name_en=data["name_en"],
        description=data.get("description", ""),
        parent=data.get("parent", ""),
        active=data.get("active"),
        activities=data.get("activities"),
    )


@staff_required
def taxonomy_term_new(request: HttpRequest) -> HttpResponse:
    form = NewTermForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            term = taxonomy_services.term_create(
                code=data["code"], kind=data["kind"], data=_term_in(data)
            )
        except Problem as problem:
            problem_message(request, problem)
        else:
            messages.success(request, _("“%(code)s” is in the taxonomy.") % {"code": term.code})
            return redirect("web-taxonomy-term", code=term.code)
    return render(
        request, "web/taxonomy_term.html", {"form": form}, status=422 if form.is_bound else 200
    )


@staff_required
def taxonomy_term(request: HttpRequest, code: str) -> HttpResponse:
    term = (
        TaxonomyTerm.objects.prefetch_related("activities")
        .select_related("parent")
        .filter(code=code)
        .first()
    )
    if term is None:
        raise Http404
    form = TermForm(
        request.POST or None, kind=term.kind, code=term.code, initial=TermForm.initial_of(term)
    )
    if request.method == "POST" and form.is_valid():
        try:
            taxonomy_services.term_update(code=term.code, data=_term_in(form.cleaned_data))
        except Problem as problem:
            problem_message(request, problem)
        else:
            messages.success(request, _("Saved. Matching uses it from now on."))
            return redirect("web-taxonomy")
    return render(
        request,
        "web/taxonomy_term.html",
        {"form": form, "term": term, "uses": taxonomy_services.term_uses(term)},
        status=422 if form.is_bound else 200,
    )


UNMAPPED_PER_PAGE = 20
MAPPINGS_PER_PAGE = 50


@staff_required
def crosswalk_page(request: HttpRequest) -> HttpResponse:
    """The unmapped terms, most carried first, a page at a time (suggestions are worked
    out for the page shown only), then the mappings in place."""
    unmapped = Paginator(crosswalks.unmapped_terms(), UNMAPPED_PER_PAGE).get_page(
        request.GET.get("page")
    )
    # The ones activities carry first: what an operator looks at.
    rows = [row for row in crosswalks.mappings_list() if row.services or not row.automatic]
    rows.sort(key=lambda row: (-row.services, row.taxonomy, row.code))
    mappings = Paginator(rows, MAPPINGS_PER_PAGE).get_page(request.GET.get("mappings"))
    items = []
    for i, term in enumerate(unmapped):
        suggestions = crosswalks.code_suggestions(term.label, term.code)
        items.append(
            {
                "term": term,
                "suggestions": [(c, _label(c)) for c in suggestions],
                "form": CrosswalkForm(
                    prefix=f"t{i}",
                    suggestions=suggestions,
                    initial={"taxonomy": term.taxonomy, "code": term.code, "label": term.label},
                ),
                "prefix": f"t{i}",
            }
        )
    return render(
        request,
        "web/crosswalks.html",
        {
            "tisser_codes": set(taxonomy_current().terms),
            "unmapped": items,
            "unmapped_page": unmapped,
            "mappings_page": mappings,
            "mappings": [
                {
                    "row": row,
                    "labels": [_label(c) for c in row.tisser_codes],
                    "prefix": f"m{i}",
                    "form": CrosswalkForm(
                        prefix=f"m{i}",
                        suggestions=row.tisser_codes,
                        initial={"taxonomy": row.taxonomy, "code": row.code, "label": row.label},
                    ),
                }
                for i, row in enumerate(mappings)
            ],
        },
    )


@staff_required
@require_POST
def crosswalk_set(request: HttpRequest) -> HttpResponse:
    prefix = request.POST.get("prefix", "")
    form = CrosswalkForm(request.POST, prefix=prefix or None)
    if not form.is_valid():
        messages.error(request, _("Choose at least one code, or say it has no correspondence."))
        return redirect("web-crosswalks")
    data = form.cleaned_data
    codes = () if data["none"] else tuple(data["tisser_codes"])
    try:
        done = crosswalks.crosswalk_set(
            crosswalks.CrosswalkIn(data["taxonomy"], data["code"], codes, data["label"])
        )
    except Problem as problem:
        problem_message(request, problem)
    else:
        messages.success(
            request,
            _("“%(term)s” mapped; %(count)s activities are matched accordingly now.")
            % {"term": data["label"] or data["code"], "count": done.services},
        )
    return redirect("web-crosswalks")


@staff_required
@require_POST
def crosswalk_remove(request: HttpRequest) -> HttpResponse:
    try:
        crosswalks.crosswalk_remove(
            taxonomy=request.POST.get("taxonomy", ""), code=request.POST.get("code", "")
        )
    except Problem as problem:
        problem_message(request, problem)
    else:
        messages.success(request, _("Mapping removed."))
    return redirect("web-crosswalks")
