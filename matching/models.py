"""matching models."""

from __future__ import annotations

from django.db import models


class MatchPoint(models.Model):
    """What matching needs of one service at one place, in one narrow row: the matching
    index. Derived from the tables above, never edited by hand.

    Matching reads the points in a bounding box with every hard filter in the same
    query, without joins: on SQLite, joining a thousand places to their services costs
    more than the whole matching budget. The outbox refreshes a service's points in the
    transaction of every change it announces (`matching.index`), so they
    are never out of date; `tisser rebuild-match-index` rebuilds them all.
    """

    service_at_location = models.OneToOneField(
        "community_catalog.ServiceAtLocation",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="match_point",
    )
    # Ids as text: read in the thousands per referral, and only a few are needed as UUIDs.
    service_key = models.CharField(max_length=36, db_index=True)
    organization_key = models.CharField(max_length=36)
    location_key = models.CharField(max_length=36)
    # The public position: a confidential place is at the centre of its grid cell.
    latitude = models.FloatField()
    longitude = models.FloatField()
    active = models.BooleanField()
    open = models.BooleanField(help_text="Places left (not no-capacity, not 0 available).")
    capacity_status = models.CharField(max_length=24)
    cost = models.CharField(max_length=10, help_text="free, paid or not-stated")
    assured_date = models.DateField(null=True)
    minimum_age = models.PositiveSmallIntegerField(null=True)
    maximum_age = models.PositiveSmallIntegerField(null=True)
    codes = models.CharField(max_length=500, help_text="Taxonomy codes: ',talk-group,isolation,'")
    code_bits = models.BigIntegerField(
        help_text="One bit per code (`code_bit`): the database's quick prefilter on codes."
    )
    languages = models.CharField(max_length=200, help_text="',fr,en,'; '*': none named")
    interpretation = models.BooleanField()
    slots = models.CharField(
        max_length=500, help_text="Weekly slots: 'TU 14:00 16:30 W;FR 09:00 11:00 M'"
    )
    weekdays = models.CharField(
        max_length=30,
        default="",
        help_text="Days its schedules still meet on, times known or not: ',TU,TH,'",
    )
    # The day after one of its schedules ends, when its weekdays and slots change: the
    # relay's daily pass rebuilds it then (`match_points_daily`).
    refresh_on = models.DateField(null=True)
    # When it meets (`community_catalog.schedules.OfferRun`): the current run of
    # sessions, from its first (or the day the point was built, once begun) to its last
    # (none: it goes on). Offered while `run_from` is within TISSER_OFFER_HORIZON_DAYS
    # and `run_until` is not past. `undated`: no dated schedule at all (call for times).
    run_from = models.DateField(null=True)
    run_until = models.DateField(null=True)
    undated = models.BooleanField(default=False)
    # The run begins after a break (a seasonal activity, "Resumes on 2 March") or for
    # the first time ("Starts on 2 March").
    resumes_on = models.DateField(null=True)
    starts_on = models.DateField(null=True)
    # Carries a term of another taxonomy that no crosswalk maps yet.
    unmapped = models.BooleanField(default=False)
    name = models.CharField(max_length=200)

    class Meta:
        db_table = "community_catalog_matchpoint"  # kept from before the move to matching
        indexes = [
            # On PostgreSQL it covers what catalogue search reads: the points in a box
            # come from the index alone, not from a thousand table pages.
            models.Index(
                fields=["latitude", "longitude"],
                include=[
                    "service_at_location",
                    "active",
                    "code_bits",
                    "codes",
                    "languages",
                    "interpretation",
                    "weekdays",
                    "cost",
                    "organization_key",
                    "name",
                ],
                name="match_point_position_idx",
            ),
            # The relay's daily check: runs that ended, to find the next one.
            models.Index(fields=["run_until"], name="match_point_run_until_idx"),
            models.Index(fields=["refresh_on"], name="match_point_refresh_on_idx"),
        ]

    def __str__(self) -> str:
        return self.name
