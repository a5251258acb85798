"""Matching, first version: activities tagged with one of the person's needs, nearest first.

Plain functions over the catalogue: testable without a broker. The actor only calls
`referral_match`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings

from community_catalog.models import ServiceAtLocation
from community_catalog.selectors import (
    distance_km,
    public_position,
    service_at_locations_near,
)
from referrals.models import Referral
from referrals.services import (
    ProposedMatch,
    referral_matches_record,
    referral_matching_start,
)

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


def proposals_for(referral: Referral) -> list[ProposedMatch]:
    # The person's needs, read once for the whole ranking.
    need_codes = [t.code for t in referral.needs.all()]
    proposals = []
    for candidate in candidates_for(referral, need_codes)[: settings.TISSER_MATCHES_PER_REFERRAL]:
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
