"""`/api/v1/audit`: the audit log, for operators only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from accounts.auth import OperatorKey
from accounts.models import AuditEntry
from core.schemas import ErrorOut, PageQuery, example_config, paged

router = Router(auth=OperatorKey(), tags=["audit"])


class AuditFilter(PageQuery):
    referral_id: uuid.UUID | None = Field(default=None, description="One referral's entries.")
    limit: int = Field(default=100, ge=1, le=500, description="How many entries per page.")


class AuditEntryOut(Schema):
    id: int
    at: datetime
    referral_id: uuid.UUID | None = Field(description="Empty for a list.")
    referral_ids: list[str] = Field(description="A list's referrals, as it returned them.")
    action: str = Field(description="`read`, `change`, `list` or `refused`.")
    method: str
    path: str
    status: int
    key_prefix: str = Field(description="The key used (its visible prefix); empty on the web.")
    username: str = Field(description="The person signed in to the web pages; empty for a key.")
    role: str = Field(description="`health_center`, `organization`, `operator` or `admin`.")
    health_center_id: uuid.UUID | None
    organization_id: uuid.UUID | None


_CENTER_ID = "12259272-11dc-4079-b494-5b6280db1408"
_REFERRAL_ID = "9549f7b6-2fa0-4166-982c-86008421b03d"


class AuditListOut(Schema):
    model_config = example_config(
        {
            "items": [
                {
                    "id": 1,
                    "at": "2026-11-25T10:02:31Z",
                    "referral_id": _REFERRAL_ID,
                    "referral_ids": [],
                    "action": "read",
                    "method": "GET",
                    "path": f"/api/v1/referrals/{_REFERRAL_ID}",
                    "status": 200,
                    "key_prefix": "0e125e5f",
                    "username": "",
                    "role": "health_center",
                    "health_center_id": _CENTER_ID,
                    "organization_id": None,
                },
                {
                    "id": 2,
                    "at": "2026-11-25T10:03:02Z",
                    "referral_id": None,
                    "referral_ids": [_REFERRAL_ID],
                    "action": "list",
                    "method": "GET",
                    "path": "/app/referrals/",
                    "status": 200,
                    "key_prefix": "",
                    "username": "dr.exemple",
                    "role": "health_center",
                    "health_center_id": _CENTER_ID,
                    "organization_id": None,
                },
            ],
            "total": 2,
            "limit": 100,
            "offset": 0,
        }
    )

    items: list[AuditEntryOut]
    total: int
    limit: int
    offset: int


@router.get(
    "",
    response={200: AuditListOut, 401: ErrorOut, 422: ErrorOut},
    summary="Who read or changed which referral",
    description=(
        "The audit log, oldest first: one entry per request (API, web or admin page) that "
        "succeeded on a referral or one of its placements, one per list that showed "
        "referrals (with their ids), and one per request refused on a referral or "
        "placement it named. Operators only."
    ),
)
def audit_list(request: HttpRequest, filters: Query[AuditFilter]) -> dict[str, Any]:
    entries = AuditEntry.objects.all()
    if filters.referral_id:
        # Lists name the referrals they returned in `referral_ids` (a JSON list of ids,
        # matched as text on both backends).
        entries = entries.filter(
            Q(referral_id=filters.referral_id)
            | Q(action=AuditEntry.Action.LIST, referral_ids__icontains=str(filters.referral_id))
        )
    return paged(entries, limit=filters.limit, offset=filters.offset, item=lambda e: e)
