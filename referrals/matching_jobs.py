"""The matching jobs: match a submitted referral, offer the next best activities after a
rejection or an expiry, and follow a place that fills up or opens. The actors call
these; matching itself (scoring, candidates, reasons) is in the matching app."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from django.conf import settings

from community_catalog.crosswalks import code_suggestions
from community_catalog.models import Service, ServiceAtLocation
from community_catalog.selectors import (
    bounding_box,
    distance_km,
)
from community_catalog.service_codes import service_codes
from community_catalog.taxonomy import taxonomy_current
from events.models import Event
from events.outbox import event_mark_processed
from matching.candidates import (
    MatchFilters,
    match_candidate_rows,
)
from matching.models import MatchPoint
from matching.reasons import explanation, need_reason
from matching.scoring import Person, match
from referrals.lifecycle import (
    ProposedMatch,
    referral_rematch_record,
    rematch_wanted,
    services_offered,
)
from referrals.models import Placement, Referral
from referrals.placement_checks import capacity_full_reject, referrals_waiting_near
from referrals.services import referral_matches_record, referral_to_match

# --- Proposals and the unmatched explanation -----------------------------------------


def proposals_for(
    referral: Referral, *, exclude_services: set[uuid.UUID] | None = None, count: int | None = None
) -> list[ProposedMatch]:
    """The ranked proposals, ready to store, reasons complete. Everything recording them
    needs comes with the matching index's rows: nothing more is read."""
    person = Person.of(referral)
    chosen = match(referral, exclude_services=exclude_services or (), count=count, person=person)
    proposals = []
    for candidate in chosen:
        reasons = list(candidate.reasons)
        need = need_reason(candidate.row.codes, person)
        if need:
            reasons.insert(0, need)
        proposals.append(
            ProposedMatch(
                service_at_location_id=uuid.UUID(candidate.row.id),
                service_id=uuid.UUID(candidate.row.service_id),
                organization_id=uuid.UUID(candidate.row.organization_id),
                score=round(candidate.total, 4),
                distance_km=candidate.row.distance_km,
                reasons=reasons,
                parts={name: round(score, 4) for name, score in candidate.parts.items()},
            )
        )
    return proposals


def unmatched_explanation(referral: Referral) -> dict[str, Any]:
    """Why nothing was found, for a clinician to act on: the first hard filter that
    leaves nothing, and what relaxing it would find. Counts are of activities the person
    could attend but for that one filter. In order: distance (or, with nothing of the
    kind near, activities whose other directory's terms are not mapped yet), no session
    soon, language, age, cost, places left, already offered. Stored as a code and the
    message's parameters; `matching.reasons.explanation_text` puts it in words."""
    person = Person.of(referral)
    base = person.filters(services_offered(referral))
    km, wider = person.max_distance_km, max(person.max_distance_km * 2, 10.0)
    taxonomy = taxonomy_current()
    retired = [need for need in person.needs if not taxonomy.active(need)]
    if retired and not person.codes:
        return explanation("needs", 0, needs=retired)
    said = {"km": km, "wider": wider}
    # Everything of the kind wanted nearby, whatever the other filters say.
    anything = replace(
        base,
        check_language=False,
        check_age=False,
        check_capacity=False,
        check_time=False,
        free_only=False,
        exclude_services=frozenset(),
    )

    def count(filters: MatchFilters) -> int:
        return len(match_candidate_rows(filters))

    if not count(anything):
        farther = count(replace(base, radius_km=wider))
        if farther:
            # "Nothing within 5 km; 2 within 10 km."
            return explanation("distance", farther, count=farther, **said)
        unmapped = _unmapped_near(person)
        if unmapped:
            return explanation("unmapped", unmapped, count=unmapped, **said)
        # No count: "Nothing within 10 km either: try other needs."
        return explanation("distance", 0, **said)
    timed = replace(anything, check_time=True)
    if not count(timed):
        rows = match_candidate_rows(anything)
        later = sorted(r.run_from for r in rows if r.run_from is not None)
        weeks = settings.TISSER_OFFER_HORIZON_DAYS / 7
        if later:
            # With the first date: some start again later.
            return explanation(
                "schedule",
                len(later),
                count=len(later),
                weeks=weeks,
                date=later[0].isoformat(),
                **said,
            )
        # Without a date: everything found has ended.
        return explanation("schedule", 0, count=len(rows), weeks=weeks, **said)
    spoken = replace(timed, check_language=True)
    if not count(spoken):
        others = count(timed)
        return explanation("language", others, count=others, language=person.language, **said)
    allowed = replace(spoken, check_age=True)
    if not count(allowed):
        others = count(spoken)
        return explanation("age", others, count=others, **said)
    if person.free_only and not count(replace(allowed, free_only=True)):
        paid = count(allowed)
        return explanation("cost", paid, count=paid, **said)
    affordable = replace(allowed, free_only=person.free_only)
    if not count(replace(affordable, check_capacity=True)):
        full = count(affordable)
        return explanation("capacity", full, count=full, **said)
    return explanation("offered", 0, **said)


def _unmapped_near(person: Person) -> int:
    """Active places within the person's distance whose service carries a term of
    another taxonomy that no crosswalk maps yet, and that may be what they need: one of
    the codes suggested from the term's label answers their needs."""
    lat_range, lon_range = bounding_box(person.latitude, person.longitude, person.max_distance_km)
    services = {
        service_key
        for service_key, latitude, longitude in MatchPoint.objects.filter(
            latitude__range=lat_range, longitude__range=lon_range, active=True, unmapped=True
        ).values_list("service_key", "latitude", "longitude")
        if distance_km(person.latitude, person.longitude, latitude, longitude)
        <= person.max_distance_km
    }
    if not services:
        return 0
    taxonomy = taxonomy_current()
    relevant: dict[tuple[str, str], bool] = {}
    found = set()
    for service_id, term_taxonomy, code, label in Service.foreign_terms.through.objects.filter(
        service_id__in=[uuid.UUID(s) for s in services]
    ).values_list("service_id", "foreignterm__taxonomy", "foreignterm__code", "foreignterm__label"):
        key = (term_taxonomy, code)
        if taxonomy.mapping(*key) is not None:
            continue
        if key not in relevant:
            suggested = set(code_suggestions(label, code))
            relevant[key] = bool(taxonomy.codes_under(suggested) & person.codes)
        if relevant[key]:
            found.add(service_id)
    return len(found)


# --- Jobs ----------------------------------------------------------------------------


def referral_match(*, referral_id: uuid.UUID, event_id: int) -> None:
    """Match a submitted referral and record the result. Safe to run twice.

    Matching reads the referral without a lock and records what it found in one
    transaction: whatever happened meanwhile (a cancellation, a consent withdrawal,
    another run of the job) is checked there, under the referral's lock."""
    referral = referral_to_match(referral_id=referral_id, event_id=event_id)
    if referral is None:
        return
    proposals = proposals_for(referral)
    explanation = {} if proposals else unmatched_explanation(referral)
    referral_matches_record(
        referral=referral, event_id=event_id, proposals=proposals, explanation=explanation
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
    explanation = unmatched_explanation(referral) if wanted and not proposals else None
    referral_rematch_record(
        referral_id=referral_id, event_id=event_id, proposals=proposals, explanation=explanation
    )


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
            codes = list(service_codes([sal.service_id])[sal.service_id].codes)
            for referral_id in referrals_waiting_near(
                latitude=sal.location.latitude,
                longitude=sal.location.longitude,
                taxonomy_codes=codes,
            ):
                referral_rematch(referral_id=referral_id, event_id=None)
    event_mark_processed(event_id)
