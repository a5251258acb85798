"""Matching, first version: activities tagged with one of the person's needs, nearest first.

Plain functions over the catalogue: testable without a broker. The actor only calls
`referral_match`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings

from community_catalog.models import ServiceAtLocation, TaxonomyTerm
from community_catalog.selectors import (
    distance_km,
    public_position,
    service_at_locations_near,
)
from referrals.lifecycle import (
    ProposedMatch,
    capacity_full_reject,
    referral_rematch_record,
    referrals_waiting_near,
    rematch_wanted,
    services_offered,
)
from referrals.models import Event, Placement, Referral
from referrals.outbox import event_mark_processed
from referrals.services import referral_matches_record, referral_matching_start

WALKING_KM_PER_HOUR = 4.5


@dataclass(frozen=True)
class Candidate:
    service_at_location: ServiceAtLocation
    distance_km: float


def candidates_for(referral: Referral, need_codes: list[str]) -> list[Candidate]:
    """Activities answering one of `need_codes` within the referral's travel distance,
    nearest first; ties broken by id so every run gives the same order."""
    nearby = service_at_locations_near(
        taxonomy_codes=need_codes,
        latitude=referral.latitude,
        longitude=referral.longitude,
        radius_km=referral.max_distance_km,
    )
    candidates = []
    for sal in nearby:
        lat, lon = sal.location.latitude, sal.location.longitude
        if lat is None or lon is None:
            continue
        position = public_position(lat, lon, sal.location.is_confidential)
        km = distance_km(referral.latitude, referral.longitude, *position)
        if km <= referral.max_distance_km:
            candidates.append(Candidate(sal, km))
    return sorted(candidates, key=lambda c: (c.distance_km, str(c.service_at_location.id)))


def distance_reason(km: float) -> dict[str, str]:
    minutes = max(1, round(km / WALKING_KM_PER_HOUR * 60))
    if minutes <= 45:
        return {
            "code": "distance",
            "fr": f"À {minutes} min à pied de chez vous",
            "en": f"A {minutes}-minute walk from home",
        }
    return {
        "code": "distance",
        "fr": f"À {km:.1f} km de chez vous".replace(".", ","),
        "en": f"{km:.1f} km from home",
    }


def need_reason(sal: ServiceAtLocation, need_codes: list[str]) -> dict[str, str] | None:
    for term in sal.service.taxonomy_terms.all():
        if term.code in need_codes:
            return {
                "code": "need",
                "fr": f"Répond à : {term.name.lower()}",
                "en": f"Answers: {term.name_en.lower()}",
            }
    return None


def proposals_for(
    referral: Referral, *, exclude_services: set[uuid.UUID] | None = None, count: int | None = None
) -> list[ProposedMatch]:
    """The best `count` activities for the referral (default: the usual number), one per
    service, leaving out `exclude_services` (those already offered)."""
    count = settings.TISSER_MATCHES_PER_REFERRAL if count is None else count
    exclude = set(exclude_services or ())
    # The person's needs, read once for the whole ranking.
    need_codes = [t.code for t in referral.needs.all()]
    chosen: list[Candidate] = []
    for candidate in candidates_for(referral, need_codes):
        service_id = candidate.service_at_location.service_id
        if service_id in exclude:
            continue
        exclude.add(service_id)
        chosen.append(candidate)
        if len(chosen) >= count:
            break
    proposals = []
    for candidate in chosen:
        reasons = [distance_reason(candidate.distance_km)]
        need = need_reason(candidate.service_at_location, need_codes)
        if need:
            reasons.insert(0, need)
        proposals.append(
            ProposedMatch(
                service_at_location=candidate.service_at_location,
                # Closer is better; 1.0 at the door, 0.0 at the edge of the travel distance.
                score=round(1 - candidate.distance_km / referral.max_distance_km, 4),
                distance_km=candidate.distance_km,
                reasons=reasons,
            )
        )
    return proposals


def referral_match(*, referral_id: uuid.UUID, event_id: int) -> None:
    """Match a submitted referral and record the result. Safe to run twice."""
    referral = referral_matching_start(referral_id=referral_id, event_id=event_id)
    if referral is None:
        return
    referral_matches_record(
        referral_id=referral_id, event_id=event_id, proposals=proposals_for(referral)
    )


def referral_rematch(*, referral_id: uuid.UUID, event_id: int | None) -> None:
    """Offer the next best activities after a placement was rejected or expired, never a
    service already offered to this referral. Safe to run twice: under the referral's
    lock, only as many are offered as are still wanted."""
    referral = Referral.objects.filter(id=referral_id).first()
    if referral is None:
        if event_id is not None:
            event_mark_processed(event_id)
        return
    wanted = rematch_wanted(referral)
    proposals = (
        proposals_for(referral, exclude_services=services_offered(referral), count=wanted)
        if wanted
        else []
    )
    referral_rematch_record(referral_id=referral_id, event_id=event_id, proposals=proposals)


def placement_rematch(*, placement_id: uuid.UUID, event_id: int) -> None:
    referral_id = (
        Placement.objects.filter(id=placement_id).values_list("referral_id", flat=True).first()
    )
    if referral_id is None:
        event_mark_processed(event_id)
        return
    referral_rematch(referral_id=referral_id, event_id=event_id)


def capacity_changed(*, event_id: int) -> None:
    """A place filled up: its waiting placements are rejected (`no-capacity`), and each
    rejection re-matches its referral. A place opened up: referrals near it that have
    nothing on offer and need what it offers are matched again."""
    event = Event.objects.filter(id=event_id).first()
    if event is None:
        return
    # One place (the capacity endpoint), or every place of the service (an import).
    sal_id = (event.payload or {}).get("service_at_location_id")
    sals = ServiceAtLocation.objects.select_related("location").filter(
        **({"id": sal_id} if sal_id else {"service_id": event.aggregate_id})
    )
    for sal in sals:
        if sal.capacity_status == ServiceAtLocation.CapacityStatus.NO_CAPACITY:
            capacity_full_reject(service_at_location_id=sal.id)
        elif (
            sal.capacity_status == ServiceAtLocation.CapacityStatus.HAS_CAPACITY
            and sal.location.latitude is not None
            and sal.location.longitude is not None
        ):
            codes = list(
                TaxonomyTerm.objects.filter(services=sal.service_id).values_list("code", flat=True)
            )
            for referral_id in referrals_waiting_near(
                latitude=sal.location.latitude,
                longitude=sal.location.longitude,
                taxonomy_codes=codes,
            ):
                referral_rematch(referral_id=referral_id, event_id=None)
    event_mark_processed(event_id)
