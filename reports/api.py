"""`/api/v1/reports`: aggregate reports for operators, health centres and organisations.
Each key sees its own scope (see `reports.outcomes`)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from ninja import Field, Query, Router, Schema

from accounts.auth import AnyKey, request_api_key
from accounts.models import ApiKey, HealthCenter
from core.errors import FieldProblem, InvalidInput, NotFound
from core.schemas import ErrorOut, openapi_merged, openapi_refusals, refusal
from reports.charts import table_csv
from reports.outcomes import default_period, report_build
from reports.report_model import Scope

router = Router(auth=AnyKey(), tags=["reports"])

_NEEDS = {"key": "need", "label": "Need", "kind": "text"}
REPORT_EXAMPLE = {
    "scope": {
        "health_center_id": "12259272-11dc-4079-b494-5b6280db1408",
        "organization_id": None,
        "name": "Maison de santé Gerland",
    },
    "from": "2026-06-09",
    "to": "2026-12-07",
    "min_cell": 5,
    "suppressed": "< 5",
    "tables": {
        "needs": {
            "title": "Referrals per need",
            "note": "A referral can name several needs.",
            "columns": [
                _NEEDS,
                {"key": "code", "label": "Code", "kind": "text"},
                {"key": "count", "label": "Referrals", "kind": "count"},
            ],
            "rows": [
                {"need": "Loneliness and isolation", "code": "isolation", "count": 41},
                {"need": "Low mood, stress", "code": "low-mood", "count": "< 5"},
                {"need": "Physical activity", "code": "physical-activity", "count": "*"},
            ],
        },
    },
}
CSV_EXAMPLE = (
    "Need,Code,Referrals\r\n"
    "Loneliness and isolation,isolation,41\r\n"
    '"Low mood, stress",low-mood,< 5\r\n'
    "Physical activity,physical-activity,*\r\n"
)

MAX_PERIOD_DAYS = 5 * 366

PERIOD_INVALID = refusal(
    "The period ends before it starts, is longer than five years or outside the dates "
    "Tisser reports on, `lang` is not `fr` or `en`, or a health centre's or an "
    "organisation's key names `health_center_id`.",
    "validation_error",
    "The period ends before it starts.",
    [("from", "must be on or before `to`")],
)


class ReportFilter(Schema):
    from_: date | None = Field(
        default=None, alias="from", description="First day (default: 26 weeks ago)."
    )
    to: date | None = Field(default=None, description="Last day, inclusive (default: today).")
    health_center_id: uuid.UUID | None = Field(
        default=None, description="Operators only: one health centre instead of the territory."
    )
    lang: str = Field(default="en", pattern="^(fr|en)$", description="Labels' language.")


def report_scope(api_key: ApiKey, health_center_id: uuid.UUID | None) -> Scope:
    """What this key may see: its own party's data, or for an operator the territory or
    one health centre."""
    if api_key.role != ApiKey.Role.OPERATOR:
        if health_center_id is not None and health_center_id != api_key.health_center_id:
            raise InvalidInput(
                "Only an operator's key can choose the health centre.",
                fields=[FieldProblem("health_center_id", "only for an operator's key")],
            )
        return Scope(
            health_center_id=api_key.health_center_id, organization_id=api_key.organization_id
        )
    if (
        health_center_id is not None
        and not HealthCenter.objects.filter(id=health_center_id).exists()
    ):
        raise NotFound("No health centre with this id.")
    return Scope(health_center_id=health_center_id)


def report_period(start: date | None, end: date | None) -> tuple[date, date]:
    default_start, default_end = default_period()
    end = end or default_end
    start = start or min(default_start, end)
    earliest, latest = date(2000, 1, 1), default_end + timedelta(days=366)
    for name, day in (("from", start), ("to", end)):
        if not earliest <= day <= latest:
            raise InvalidInput(
                "The period is outside the dates Tisser reports on.",
                fields=[FieldProblem(name, f"between {earliest} and {latest}")],
            )
    if start > end:
        raise InvalidInput(
            "The period ends before it starts.",
            fields=[FieldProblem("from", "must be on or before `to`")],
        )
    if end - start > timedelta(days=MAX_PERIOD_DAYS):
        raise InvalidInput(
            "The period is too long.",
            fields=[FieldProblem("from", "at most five years before `to`")],
        )
    return start, end


def _report(request: HttpRequest, filters: ReportFilter) -> Any:
    scope = report_scope(request_api_key(request), filters.health_center_id)
    start, end = report_period(filters.from_, filters.to)
    with translation.override(filters.lang):
        return report_build(scope, start, end)


@router.get(
    "",
    response={200: dict[str, Any], 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="The report: volumes, funnel, delays, reasons, activities, unmet needs, wellbeing",
    description=(
        "Aggregates over the referrals filed in the period. Counts of 1 to 4, and figures "
        'computed from fewer than 5 people, are the string `"< 5"`; a count from which '
        'one of those could be worked out by subtraction is `"*"`. A health centre\'s '
        "key sees its referrals; an organisation's, only its own placements; an "
        "operator's, the territory or one health centre."
    ),
    openapi_extra=openapi_merged(
        {"responses": {200: {"content": {"application/json": {"example": REPORT_EXAMPLE}}}}},
        openapi_refusals(
            {
                404: refusal(
                    "An operator's key names a `health_center_id` that is no health centre.",
                    "not_found",
                    "No health centre with this id.",
                ),
                422: PERIOD_INVALID,
            }
        ),
    ),
)
def report(request: HttpRequest, filters: Query[ReportFilter]) -> dict[str, Any]:
    with translation.override(filters.lang):
        return dict(_report(request, filters).as_json())


@router.get(
    "/{table}.csv",
    response={200: None, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="One table of the report as CSV",
    description="`table` is one of the report's `tables`, e.g. `needs`; the header row "
    "gives the columns' labels in `lang`.",
    openapi_extra=openapi_merged(
        {
            "responses": {
                200: {
                    "description": "The table",
                    "content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
                }
            }
        },
        openapi_refusals(
            {
                404: refusal(
                    "`table` is not one of the report's tables (`tables` lists them), or an "
                    "operator's key names a `health_center_id` that is no health centre.",
                    "not_found",
                    "No such table.",
                    tables=[
                        "activities",
                        "delays",
                        "funnel",
                        "needs",
                        "rejections",
                        "unmet",
                        "unmet_reasons",
                        "weekly",
                        "wellbeing",
                    ],
                ),
                422: PERIOD_INVALID,
            }
        ),
    ),
)
def report_table_csv(
    request: HttpRequest, table: str, filters: Query[ReportFilter]
) -> HttpResponse:
    built = _report(request, filters)
    if table not in built.tables:
        raise NotFound("No such table.", extra={"tables": sorted(built.tables)})
    with translation.override(filters.lang):
        body = table_csv(built.tables[table])
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="tisser-{table}-{built.start}-{built.end}.csv"'
    )
    return response
