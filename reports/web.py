"""The reports page (`/app/reports/`): the same report as `/api/v1/reports`, drawn.

A clinician sees their centre's referrals; an organisation's member, the organisation's
own placements; an operator (a staff account acting for no party), the territory or one
health centre. Each table has its chart beside it where a picture helps, and a CSV link.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import HealthCenter
from accounts.web import membership_of
from core.errors import InvalidInput
from core.forms import PlainForm
from reports.api import report_period
from reports.charts import CHARTS, chart_svg, table_csv
from reports.outcomes import report_build
from reports.report_model import SUPPRESSED, Cell, Report, Scope


class ReportForm(PlainForm):
    start = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    center = forms.ModelChoiceField(
        label=_("Health centre"),
        queryset=HealthCenter.objects.all(),
        required=False,
        empty_label=_("The whole territory"),
    )


def _scope(request: HttpRequest) -> tuple[Scope | None, bool]:
    """The signed-in person's scope, and whether they may choose a health centre."""
    membership = membership_of(request)
    if membership is not None:
        return Scope(
            health_center_id=membership.health_center_id,
            organization_id=membership.organization_id,
        ), False
    if request.user.is_staff:
        return Scope(), True
    return None, False


def _built(request: HttpRequest) -> tuple[Report | None, ReportForm, bool]:
    scope, operator = _scope(request)
    form = ReportForm(request.GET or None)
    if not operator:
        del form.fields["center"]
    if scope is None:
        return None, form, operator
    start = end = None
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        if operator and form.cleaned_data.get("center"):
            scope = Scope(health_center_id=form.cleaned_data["center"].id)
    try:
        period = report_period(start, end)
    except InvalidInput as problem:
        form.add_error("start", problem.message)
        period = report_period(None, None)
    if not form.is_bound:
        form.initial.update(start=period[0], end=period[1])
    return report_build(scope, *period), form, operator


@login_required
def reports(request: HttpRequest) -> HttpResponse:
    report, form, operator = _built(request)
    if report is None:
        return render(request, "web/no_party.html", status=403)
    params = {"start": report.start.isoformat(), "end": report.end.isoformat()}
    if operator and report.scope.health_center_id:
        params["center"] = str(report.scope.health_center_id)
    query = urlencode(params)
    tables = [
        {
            "table": table,
            "headers": [str(c.label) for c in table.columns],
            "rows": [
                [_display(row.get(c.key), c.kind) for c in table.columns] for row in table.rows
            ],
            "chart": mark_safe(chart_svg(table)) if table.name in CHARTS and table.rows else "",  # noqa: S308 - pygal's SVG of our own figures, labels escaped by pygal
            "csv": f"{table.name}.csv?{query}",
        }
        for table in report.tables.values()
    ]
    return render(
        request,
        "web/reports.html",
        {"report": report, "form": form, "tables": tables, "operator": operator},
    )


@login_required
def report_csv(request: HttpRequest, table: str) -> HttpResponse:
    report, _form, _operator = _built(request)
    if report is None:
        return render(request, "web/no_party.html", status=403)
    if table not in report.tables:
        raise Http404
    response = HttpResponse(table_csv(report.tables[table]), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="tisser-{table}-{report.start}-{report.end}.csv"'
    )
    return response


def _display(value: Cell, kind: str) -> str:
    if value is None:
        return "\N{EM DASH}"
    if value == SUPPRESSED or isinstance(value, str):
        return str(value)
    if isinstance(value, date):
        return formats.date_format(value, "j M Y")
    if kind == "seconds":
        return duration(int(value))
    if kind == "percent":
        return f"{formats.number_format(value, 1)}\N{NO-BREAK SPACE}%"
    if kind == "number":
        return str(formats.number_format(value, 1, force_grouping=False))
    return str(formats.number_format(value, force_grouping=True))


def duration(seconds: int) -> str:
    """A delay as people say it: 40 s, 12 min, 5 h, 3 days."""
    if seconds < 90:
        return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}
    minutes = round(seconds / 60)
    if minutes < 90:
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    hours = round(seconds / 3600)
    if hours < 48:
        return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    days = round(seconds / 86400)
    return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
