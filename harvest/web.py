"""An operator's page for the directory sources (staff accounts): `/app/harvest/`.

Each source with its last run; a source's page lists its runs, the last run's problems
and unmapped terms, and the services whose fields edited in Tisser were kept over a
change at the source (to review: "Reviewed" clears the flag, Tisser's value stays).
"Run now" makes the source due: the relay hands it to a worker within a minute. Sources
are added from the CLI, the API or the admin.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from community_catalog.models import Service
from community_catalog.web_taxonomy import staff_required
from core.errors import NotFound
from harvest.models import HarvestedRecord, HarvestSource
from harvest.sources import (
    SourceBusy,
    SourceDisabled,
    source_get,
    source_run_soon,
)
from harvest.sources import (
    record_reviewed as found_reviewed,
)

RUNS_SHOWN = 20
REVIEWS_SHOWN = 100


@staff_required
def sources_page(request: HttpRequest) -> HttpResponse:
    sources = [(s, s.runs.first()) for s in HarvestSource.objects.all()]
    return render(request, "web/harvest.html", {"sources": sources})


@staff_required
def source_page(request: HttpRequest, name: str) -> HttpResponse:
    try:
        source = source_get(name)
    except NotFound:
        raise Http404 from None
    runs = list(source.runs.all()[:RUNS_SHOWN])
    flagged = list(
        HarvestedRecord.objects.filter(source=source)
        .exclude(review_fields=[])
        .order_by("record_id")[:REVIEWS_SHOWN]
    )
    names = dict(
        Service.objects.filter(id__in=[r.service_id for r in flagged]).values_list("id", "name")
    )
    reviews = [(r, names.get(r.service_id, "")) for r in flagged]
    context = {
        "source": source,
        "runs": runs,
        "last": runs[0] if runs else None,
        "reviews": reviews,
    }
    return render(request, "web/harvest_source.html", context)


@staff_required
@require_POST
def source_run_now(request: HttpRequest, name: str) -> HttpResponse:
    source = HarvestSource.objects.filter(name=name).first()
    if source is None:
        raise Http404
    try:
        source_run_soon(source)
    except SourceDisabled:
        messages.error(request, _("This source is disabled: enable it in the admin first."))
    except SourceBusy:
        messages.error(request, _("This source is being read already."))
    else:
        messages.success(request, _("The source will be read within a minute."))
    return redirect("web-harvest-source", name=name)


@staff_required
@require_POST
def record_reviewed(request: HttpRequest, name: str, record: int) -> HttpResponse:
    """The operator looked: the flag goes; the field stays Tisser's (a later change at
    the source flags it again)."""
    found = HarvestedRecord.objects.filter(id=record, source__name=name).first()
    if found is not None:
        found_reviewed(found)
        messages.success(request, _("Marked as reviewed."))
    else:
        messages.error(request, _("No such entry to review."))
    return redirect("web-harvest-source", name=name)
