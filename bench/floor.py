"""The floor `tisser bench intake` measures Tisser's intake against: a bare django-ninja
endpoint in the same server (same middleware, same NinjaAPI) that validates the same
referral body and inserts one row, and nothing else: no key, no rate limit, no
taxonomy or postcode lookup, no event, no broker.

Mounted only when `TISSER_BENCH_FLOOR` is on (never in production); its table,
`bench_floor`, exists only in the benchmark's throw-away database.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest
from ninja import Router, Schema

from referrals.schemas import ReferralIn

router = Router(tags=["bench"])

TABLE_SQL = (
    "CREATE TABLE bench_floor (id bigserial PRIMARY KEY, body jsonb NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now())"
)


class FloorOut(Schema):
    id: int


@router.post("/floor", response={201: FloorOut}, include_in_schema=False)
def floor(request: HttpRequest, payload: ReferralIn) -> tuple[int, FloorOut]:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_floor (body) VALUES (%s) RETURNING id",
            [payload.model_dump_json()],
        )
        (row_id,) = cursor.fetchone()
    return 201, FloorOut(id=row_id)
