"""Catalogue search reads the matching index: each point learns the days its live
schedules meet on (filled here for the points already built), and on PostgreSQL the
position index covers what search reads."""

from datetime import timedelta

from django.db import migrations, models
from django.utils import timezone

_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def weekdays_fill(apps, schema_editor):
    MatchPoint = apps.get_model("matching", "MatchPoint")
    ServiceAtLocation = apps.get_model("community_catalog", "ServiceAtLocation")
    Schedule = apps.get_model("community_catalog", "Schedule")
    today = timezone.localdate()  # as matching.index builds points
    days: dict = {}
    ends: dict = {}
    for sal_id, service_id, weekdays, until, valid_to in Schedule.objects.values_list(
        "service_at_location_id", "service_id", "weekdays", "until", "valid_to"
    ).iterator():
        # A place's own schedules, else its service's (keyed apart: ids may repeat).
        owner = ("sal", sal_id) if sal_id else ("service", service_id)
        for end in (until, valid_to):
            if end is not None and end >= today:
                ends[owner] = min(ends.get(owner, end), end)
        if not weekdays or any(end and end < today for end in (until, valid_to)):
            continue
        days.setdefault(owner, set()).update(weekdays.split(","))
    has_own = set(
        Schedule.objects.exclude(service_at_location=None)
        .values_list("service_at_location_id", flat=True)
        .distinct()
    )
    points = []
    for sal_id, service_id in ServiceAtLocation.objects.filter(match_point__isnull=False).values_list(
        "id", "service_id"
    ).iterator():
        owner = ("sal", sal_id) if sal_id in has_own else ("service", service_id)
        found = days.get(owner, set())
        text = ",".join(d for d in _DAYS if d in found)
        end = ends.get(owner)
        if text or end:
            points.append(
                MatchPoint(
                    service_at_location_id=sal_id,
                    weekdays=f",{text}," if text else "",
                    refresh_on=end + timedelta(days=1) if end else None,
                )
            )
    MatchPoint.objects.bulk_update(points, ["weekdays", "refresh_on"], batch_size=500)


_COVERED = (
    "service_at_location_id",
    "active",
    "code_bits",
    "codes",
    "languages",
    "interpretation",
    "weekdays",
    "cost",
    "organization_key",
    "name",
)


def sqlite_covering(apps, schema_editor):
    """SQLite has no INCLUDE: the same index holds the covered columns as keys."""
    if schema_editor.connection.vendor != "sqlite":
        return
    schema_editor.execute("DROP INDEX match_point_position_idx")
    schema_editor.execute(
        "CREATE INDEX match_point_position_idx ON community_catalog_matchpoint "
        f"(latitude, longitude, {', '.join(_COVERED)})"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("matching", "0001_initial"),
        ("community_catalog", "0013_serviceprovenance"),
    ]

    operations = [
        migrations.AddField(
            model_name="matchpoint",
            name="weekdays",
            field=models.CharField(
                default="",
                help_text="Days its schedules still meet on, times known or not: ',TU,TH,'",
                max_length=30,
            ),
        ),
        migrations.AddField(
            model_name="matchpoint",
            name="refresh_on",
            field=models.DateField(null=True),
        ),
        migrations.AddIndex(
            model_name="matchpoint",
            index=models.Index(fields=["refresh_on"], name="match_point_refresh_on_idx"),
        ),
        migrations.RunPython(weekdays_fill, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="matchpoint", name="match_point_position_idx"),
        migrations.AddIndex(
            model_name="matchpoint",
            index=models.Index(
                fields=["latitude", "longitude"],
                include=("service_at_location", *_COVERED[1:]),
                name="match_point_position_idx",
            ),
        ),
        migrations.RunPython(sqlite_covering, migrations.RunPython.noop),
    ]
