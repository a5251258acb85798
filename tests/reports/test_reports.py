"""Reports against a hand-built history whose every figure is known: exact counts, the
funnel, medians and the 90th percentile, small cells suppressed, each role's scope, the
charts beside their tables, CSV."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.utils import timezone

from accounts.keys import api_key_create, health_center_create
from accounts.models import HealthCenter
from community_catalog.demo_data import demo_catalog_load
from events.models import Event
from referrals.lifecycle import placement_act
from referrals.models import Placement, Referral
from reports.charts import chart_svg, chart_values, table_csv
from reports.outcomes import report_build
from reports.report_model import HIDDEN, SUPPRESSED, Scope, Table
from reports.tables import funnel as funnel_table
from reports.tables import protect
from slips.models import Slip
from tests.conftest import ApiClient, module_transaction, organization_key, referral_slipped
from tests.web.test_accounts import create_user, signed_in

pytestmark = pytest.mark.django_db

BREST = {"latitude": 48.3904, "longitude": -4.4861}  # far from every demo activity
BEFORE = {"life_satisfaction": 4, "worthwhile": 5, "happiness": 3, "anxiety": 7}
AFTER = {"life_satisfaction": 6, "worthwhile": 7, "happiness": 6, "anxiety": 4}


@dataclass
class History:
    center: HealthCenter
    api: ApiClient
    other: HealthCenter
    other_api: ApiClient
    filed_at: datetime
    matched: list[Referral]
    organization: Any  # the organisation of the first referral's accepted placement


@pytest.fixture(scope="module")
def history(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[History]:
    """Built once for the module (13 slips to print): tests.conftest.module_transaction."""
    files = tmp_path_factory.mktemp("files")
    with module_transaction(django_db_blocker), override_settings(MEDIA_ROOT=files):
        demo_catalog_load()
        yield _history_build()


def _history_build() -> History:
    """Centre A files 11 referrals on one morning: 6 near Bellecour (matched), 5 in Brest
    (nothing there). For each of the 6, the first activity accepts after 1 to 6 hours,
    the person takes part and completes, and the second activity declines (no capacity)
    later that day. The slips are ready 10 to 60 s after filing. All 6 answered the
    wellbeing questions when referred and again when done. Centre B files 2 referrals."""
    center, key = health_center_create(name="Maison de santé Gerland")
    HealthCenter.objects.filter(id=center.id).update(records_wellbeing=True)
    center.refresh_from_db()
    api = ApiClient(key)
    other, other_key = health_center_create(name="Centre de santé Vaise")
    other_api = ApiClient(other_key)

    matched = [referral_slipped(api, patient_ref=f"pt-{i}", wellbeing=BEFORE) for i in range(6)]
    unmatched = [
        referral_slipped(api, patient_ref=f"pt-b{i}", location=BREST, postcode="29200")
        for i in range(5)
    ]
    assert all(r.stage == Referral.Stage.SLIP_READY for r in matched + unmatched)
    assert all(r.matches.exists() for r in matched)
    assert not any(r.matches.exists() for r in unmatched)
    for i in range(2):  # centre B
        referral_slipped(other_api, patient_ref=f"pt-v{i}")

    filed_at = timezone.make_aware(
        datetime.combine(timezone.localdate() - timedelta(days=3), datetime.min.time())
    ) + timedelta(hours=9)
    for i, referral in enumerate(matched + unmatched):
        Referral.objects.filter(id=referral.id).update(created_at=filed_at)
        if i < 6:
            Slip.objects.filter(referral=referral).update(
                created_at=filed_at + timedelta(seconds=10 * (i + 1))
            )
    Referral.objects.filter(health_center=other).update(created_at=filed_at)

    for i, referral in enumerate(matched):
        first, second = list(referral.placements.order_by("match__rank"))[:2]
        for action in ("accept", "start"):
            placement_act(organization=first.organization, placement_id=first.id, action=action)
        placement_act(
            organization=first.organization,
            placement_id=first.id,
            action="complete",
            wellbeing=_scores(AFTER),
        )
        placement_act(
            organization=second.organization,
            placement_id=second.id,
            action="reject",
            reason="no-capacity",
        )
        _event_at(first, "placement.accepted", filed_at + timedelta(hours=i + 1))
        _event_at(second, "placement.rejected", filed_at + timedelta(hours=6))
    organization = matched[0].placements.order_by("match__rank").first().organization  # type: ignore[union-attr]
    return History(center, api, other, other_api, filed_at, matched, organization)


def _scores(values: dict[str, int]) -> Any:
    from referrals.schemas import WellbeingIn

    return WellbeingIn(**values)


def _event_at(placement: Placement, type: str, at: datetime) -> None:
    assert Event.objects.filter(aggregate_id=placement.id, type=type).update(created_at=at) == 1


def _rows(report: Any, name: str) -> list[dict[str, Any]]:
    return list(report.tables[name].rows)


def _report(history: History, scope: Scope) -> Any:
    day = history.filed_at.date()
    return report_build(scope, day - timedelta(days=1), day + timedelta(days=1))


def test_a_centre_report_gives_the_exact_figures(history: History) -> None:
    report = _report(history, Scope(health_center_id=history.center.id))
    weeks = _rows(report, "weekly")
    assert sum(row["count"] for row in weeks if isinstance(row["count"], int)) == 11
    assert [row["count"] for row in weeks if row["count"]] == [11]

    assert _rows(report, "needs") == [{"need": "Isolement", "code": "isolation", "count": 11}]
    assert "centers" not in report.tables  # a centre sees itself only

    funnel = [(row["count"], row["lost"], row["share"]) for row in _rows(report, "funnel")]
    assert funnel == [
        (11, None, 100.0),
        (6, 5, 54.5),  # 5 found nothing
        (6, 0, 54.5),
        (6, 0, 54.5),
        (6, 0, 54.5),
        (6, 0, 54.5),
    ]

    slip, answer = _rows(report, "delays")
    assert (slip["count"], slip["median_seconds"], slip["p90_seconds"]) == (6, 35, 60)
    assert (answer["count"], answer["median_seconds"], answer["p90_seconds"]) == (6, 12600, 21600)

    assert _rows(report, "rejections") == [
        {"reason": "Plus de places", "code": "no-capacity", "count": 6}
    ]
    activities = _rows(report, "activities")
    total = Placement.objects.filter(referral__health_center=history.center).count()
    counted = [row["count"] for row in activities]
    assert len(activities) <= 10
    assert all(c == SUPPRESSED or c >= 5 for c in counted)
    assert sum(c for c in counted if isinstance(c, int)) <= total

    assert _rows(report, "unmet") == [
        {"area": "29200", "need": "Isolement", "code": "isolation", "count": 5}
    ]
    # Brest is far from every activity: nothing near enough, for all five.
    assert _rows(report, "unmet_reasons") == [
        {"reason": "Rien d'assez proche", "code": "distance", "count": 5}
    ]

    wellbeing = {row["question"]: row for row in _rows(report, "wellbeing")}
    assert wellbeing["Satisfaction de vie"] == {
        "question": "Satisfaction de vie",
        "count": 6,
        "before": 4.0,
        "after": 6.0,
        "change": 2.0,
    }
    anxiety = next(row for row in wellbeing.values() if row["question"].startswith("Anxiété"))
    assert (anxiety["before"], anxiety["after"], anxiety["change"]) == (7.0, 4.0, -3.0)


def test_small_groups_are_suppressed_everywhere(history: History) -> None:
    """Centre B has 2 referrals: every count, share and statistic says "< 5"."""
    report = _report(history, Scope(health_center_id=history.other.id))
    first, matched, *_rest = _rows(report, "funnel")
    assert first["count"] == SUPPRESSED
    assert first["share"] == SUPPRESSED
    assert matched["count"] == SUPPRESSED
    slip = _rows(report, "delays")[0]
    assert slip["median_seconds"] == SUPPRESSED
    assert slip["p90_seconds"] == SUPPRESSED
    assert all(row["count"] in (0, SUPPRESSED) for row in _rows(report, "weekly"))
    # No figure between 1 and 4 anywhere in the report.
    for table in report.tables.values():
        for row in table.rows:
            for value in row.values():
                assert not (isinstance(value, int) and 0 < value < 5), (table.name, row)


def test_the_territory_report_has_every_centre(history: History) -> None:
    report = _report(history, Scope())
    # The territory's total is shown (13): Gerland's 11 beside it would give Vaise's 2.
    assert _rows(report, "centers") == [
        {"center": "Maison de santé Gerland", "count": HIDDEN, "slips": HIDDEN},
        {"center": "Centre de santé Vaise", "count": SUPPRESSED, "slips": SUPPRESSED},
    ]
    assert _rows(report, "funnel")[0]["count"] == 13


def test_an_organisation_sees_only_its_own_placements(history: History) -> None:
    organization = history.organization
    report = _report(history, Scope(organization_id=organization.id))
    assert "unmet" not in report.tables
    assert "centers" not in report.tables
    own = Placement.objects.filter(organization=organization)
    offered = own.count()
    funnel = _rows(report, "funnel")
    assert funnel[0]["count"] == (offered if offered >= 5 or offered == 0 else SUPPRESSED)
    completed = own.filter(status=Placement.Status.COMPLETED).count()
    assert completed >= 5  # the fixture's 6 people all completed with this organisation
    assert funnel[-1]["count"] in (completed, HIDDEN)
    assert _revealed([row["count"] for row in funnel]) == []
    names = {row["organization"] for row in _rows(report, "activities")}
    assert names == {organization.name}
    assert "wellbeing" not in report.tables


def test_charts_draw_the_numbers_of_their_tables(history: History) -> None:
    report = _report(history, Scope(health_center_id=history.center.id))
    for name in ("funnel", "weekly", "unmet"):
        table = report.tables[name]
        labels, values = chart_values(table)
        svg = chart_svg(table)
        root = ElementTree.fromstring(svg)  # well-formed SVG
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert "<script" not in svg
        drawn = [
            el.text
            for el in root.iter("{http://www.w3.org/2000/svg}desc")
            if el.get("class") == "value"
        ]
        # Horizontal bars are drawn from the bottom up: the table's last row first.
        in_order = values if name == "weekly" else values[::-1]
        assert drawn == [str(v) for v in in_order if v is not None], name
        if name == "funnel":
            assert values == [11, 6, 6, 6, 6, 6]
            assert labels[0] == "Orientations déposées"
        if name == "unmet":
            assert values == [5]


def test_every_table_exports_as_csv(history: History) -> None:
    report = _report(history, Scope(health_center_id=history.center.id))
    for table in report.tables.values():
        rows = list(csv.reader(io.StringIO(table_csv(table))))
        assert rows[0] == [str(c.label) for c in table.columns]
        assert len(rows) == len(table.rows) + 1
    funnel = list(csv.reader(io.StringIO(table_csv(report.tables["funnel"]))))
    assert funnel[2][1:] == ["6", "5", "54.5"]


def test_the_api_scopes_each_key(history: History) -> None:
    day = history.filed_at.date()
    period = f"from={day - timedelta(days=1)}&to={day + timedelta(days=1)}"
    mine = history.api.get(f"/api/v1/reports?{period}")
    assert mine.status_code == 200
    body = mine.json()
    assert body["scope"]["health_center_id"] == str(history.center.id)
    assert body["min_cell"] == 5
    assert body["tables"]["funnel"]["rows"][0]["count"] == 11
    assert body["tables"]["funnel"]["title"] == "From filing to taking part"

    french = history.api.get(f"/api/v1/reports?{period}&lang=fr").json()
    assert french["tables"]["funnel"]["title"] == "Du dépôt à la participation"

    refused = history.api.get(f"/api/v1/reports?{period}&health_center_id={history.other.id}")
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["field"] == "health_center_id"

    operator = ApiClient(api_key_create())
    territory = operator.get(f"/api/v1/reports?{period}").json()
    assert territory["tables"]["funnel"]["rows"][0]["count"] == 13
    one = operator.get(f"/api/v1/reports?{period}&health_center_id={history.other.id}").json()
    assert one["tables"]["funnel"]["rows"][0]["count"] == SUPPRESSED
    assert operator.get(f"/api/v1/reports?health_center_id={uuid.uuid4()}").status_code == 404

    org = organization_key(history.organization).get(f"/api/v1/reports?{period}").json()
    # No wellbeing for organisations: periods of their choosing would single people out.
    assert set(org["tables"]) == {
        "weekly",
        "needs",
        "funnel",
        "delays",
        "rejections",
        "activities",
    }

    backwards = history.api.get(f"/api/v1/reports?from={day}&to={day - timedelta(days=1)}")
    assert backwards.status_code == 422
    assert backwards.json()["error"]["fields"][0]["field"] == "from"
    assert history.api.get("/api/v1/reports?to=2026-99-01").status_code == 422
    far = history.api.get("/api/v1/reports?from=9999-12-01&to=9999-12-31")
    assert far.status_code == 422
    assert far.json()["error"]["fields"][0]["field"] == "from"

    exported = history.api.get(f"/api/v1/reports/funnel.csv?{period}")
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("text/csv")
    assert exported.content.decode().splitlines()[1].startswith("Referrals filed,11,")
    assert history.api.get(f"/api/v1/reports/nothing.csv?{period}").status_code == 404
    assert Client().get("/api/v1/reports").status_code == 401


def test_the_reports_page_for_each_role(history: History) -> None:
    day = history.filed_at.date()
    period = f"start={day - timedelta(days=1)}&end={day + timedelta(days=1)}"
    clinician = signed_in("c.martin", create_user("c.martin", "--center", history.center.name))
    page = clinician.get(f"/app/reports/?{period}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Maison de santé Gerland" in html
    assert html.count("<svg") == 3  # funnel, weeks, unmet needs
    assert "Centre de santé Vaise" not in html
    assert "« &lt; 5 »" in html  # the rule, said once at the top
    assert "35 secondes" in html  # the slip's median delay, in words
    exported = clinician.get(f"/app/reports/funnel.csv?{period}")
    assert exported.status_code == 200
    assert exported.content.decode().splitlines()[1].startswith("Orientations déposées,11,")
    assert clinician.get(f"/app/reports/nothing.csv?{period}").status_code == 404

    member = signed_in("o.rey", create_user("o.rey", "--org", history.organization.name))
    org_html = member.get(f"/app/reports/?{period}").content.decode()
    assert "Besoins sans activité" not in org_html

    staff = User.objects.create_user("operator", password="x-1234-long-password", is_staff=True)
    operator = Client()
    operator.force_login(staff)
    territory = operator.get(f"/app/reports/?{period}").content.decode()
    assert "Centre de santé Vaise" in territory
    one = operator.get(f"/app/reports/?{period}&center={history.other.id}")
    assert "Maison de santé Gerland</th>" not in one.content.decode()
    assert "<td>&lt; 5</td>" in one.content.decode()  # Vaise's two referrals

    nobody = User.objects.create_user("nobody", password="x-1234-long-password")
    stranger = Client()
    stranger.force_login(nobody)
    assert stranger.get("/app/reports/").status_code == 403
    assert Client().get("/app/reports/").status_code == 302  # to sign in


def _revealed(shown: list[Any]) -> list[tuple[Any, Any]]:
    """Pairs of counts shown exactly whose difference is a group of 1 to 4."""
    exact = [v for v in shown if isinstance(v, int)]
    return [(a, b) for a in exact for b in exact if 0 < a - b < 5]


def test_no_small_group_can_be_worked_out_by_subtraction() -> None:
    steps = [
        ("filed", set(range(10))),
        ("found", set(range(8))),  # 2 lost: showing 8 beside 10 would give them away
        ("slip", set(range(8))),
        ("accepted", set(range(3))),
        ("completed", set()),
    ]
    funnel = funnel_table(steps, "people").rows
    counts = [row["count"] for row in funnel]
    assert counts == [10, HIDDEN, HIDDEN, SUPPRESSED, 0]
    assert [row["lost"] for row in funnel] == [None, HIDDEN, HIDDEN, HIDDEN, HIDDEN]
    assert [row["share"] for row in funnel] == [100.0, HIDDEN, HIDDEN, SUPPRESSED, 0.0]
    assert _revealed(counts) == []

    # Rows that add up to a known total: a lone "< 5" takes the smallest other count
    # with it; small ones that add up to fewer than five too.
    def protected(values: list[int]) -> list[Any]:
        table = Table("t", "t", [], rows=[{"count": v} for v in values])
        return [row["count"] for row in protect(table, ("count",)).rows]

    assert protected([10, 3, 7, 0]) == [10, SUPPRESSED, HIDDEN, 0]
    assert protected([1, 1, 20]) == [SUPPRESSED, SUPPRESSED, HIDDEN]
    assert protected([2, 3, 9]) == [SUPPRESSED, SUPPRESSED, 9]  # 5 together: safe
    assert protected([12, 9, 0]) == [12, 9, 0]


def test_a_hidden_count_is_a_hatched_bar_that_says_so() -> None:
    """Issue 26: a suppressed cell was drawn as nothing (read as zero); it is a hatched
    bar labelled "hidden (small number)" now, whose length says nothing of the count."""
    from reports.report_model import HIDDEN, SUPPRESSED, Column, Table

    table = Table(
        "funnel",
        "Funnel",
        [Column("step", "Step"), Column("count", "People", "count")],
        rows=[
            {"step": "Filed", "count": 40},
            {"step": "Found", "count": HIDDEN},
            {"step": "Went", "count": SUPPRESSED},
        ],
    )
    svg = chart_svg(table)
    root = ElementTree.fromstring(svg)
    hatched = [el for el in root.iter() if "url(#hidden-hatch)" in (el.get("style") or "")]
    assert len(hatched) == 2
    labels = [
        el.text
        for el in root.iter("{http://www.w3.org/2000/svg}desc")
        if el.get("class") == "value"
    ]
    assert labels.count("masqué (petit nombre)") == 2
    assert "40" in labels
    assert "<pattern" in svg
