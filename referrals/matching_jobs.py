"""The matching jobs: match a submitted referral, offer the next best activities after a
rejection or an expiry, and follow a place that fills up or opens. The actors call
these; matching itself (scoring, candidates, reasons) is in the matching app."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

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
from matching.reasons import Message, bilingual, language_names, need_reason
from matching.scoring import Person, match
from referrals.lifecycle import (
    ProposedMatch,
    capacity_full_reject,
    referral_rematch_record,
    referrals_waiting_near,
    rematch_wanted,
    services_offered,
)
from referrals.models import Placement, Referral
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
    """Why nothing was found, in words a clinician can act on: the first hard filter
    that leaves nothing, and what relaxing it would find. Counts are of activities the
    person could attend but for that one filter. In order: distance (or, with nothing
    of the kind near, activities whose other directory's terms are not mapped yet), no
    session soon, language, age, cost, places left, already offered."""
    person = Person.of(referral)
    base = person.filters(services_offered(referral))
    km, wider = person.max_distance_km, max(person.max_distance_km * 2, 10.0)
    taxonomy = taxonomy_current()
    retired = [need for need in person.needs if not taxonomy.active(need)]
    if retired and not person.codes:
        names = {lang: [taxonomy.terms[n].label(lang) for n in retired] for lang in ("fr", "en")}
        return _explained(
            "needs",
            0,
            _("These needs are no longer in use: %(needs)s. File the referral with others."),
            needs=lambda lang: ", ".join(names[lang]),
        )
    said = {"km": f"{km:g}", "wider": f"{wider:g}"}
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
            return _explained(
                "distance",
                farther,
                _("Nothing within %(km)s km; %(count)s within %(wider)s km."),
                count=farther,
                **said,
            )
        unmapped = _unmapped_near(person)
        if unmapped:
            return _explained(
                "unmapped",
                unmapped,
                ngettext_lazy(
                    "Nothing nearby is known to answer these needs, but %(count)s activity "
                    "within %(km)s km may: it is classed in a directory's terms that are not "
                    "mapped yet, and the territory's coordinator can map them.",
                    "Nothing nearby is known to answer these needs, but %(count)s activities "
                    "within %(km)s km may: they are classed in a directory's terms that are "
                    "not mapped yet, and the territory's coordinator can map them.",
                    "count",
                ),
                count=unmapped,
                **said,
            )
        return _explained(
            "distance", 0, _("Nothing within %(wider)s km either: try other needs."), **said
        )
    timed = replace(anything, check_time=True)
    if not count(timed):
        rows = match_candidate_rows(anything)
        later = sorted(r.run_from for r in rows if r.run_from is not None)
        weeks = f"{settings.TISSER_OFFER_HORIZON_DAYS / 7:g}"
        if later:
            return _explained(
                "schedule",
                len(later),
                _(
                    "Nothing within %(km)s km meets in the next %(weeks)s weeks; "
                    "%(count)s start again later, the first on %(date)s."
                ),
                count=len(later),
                weeks=weeks,
                date=later[0],
                **said,
            )
        return _explained(
            "schedule",
            0,
            _(
                "Nothing within %(km)s km meets in the next %(weeks)s weeks: the "
                "%(count)s activities found have ended."
            ),
            count=len(rows),
            weeks=weeks,
            **said,
        )
    spoken = replace(timed, check_language=True)
    if not count(spoken):
        others = count(timed)
        return _explained(
            "language",
            others,
            _("Nothing in %(language)s within %(km)s km; %(count)s in other languages."),
            count=others,
            language=lambda lang: language_names(person.language)[0 if lang == "fr" else 1],
            **said,
        )
    allowed = replace(spoken, check_age=True)
    if not count(allowed):
        others = count(spoken)
        return _explained(
            "age",
            others,
            _("Nothing open to this age within %(km)s km; %(count)s for other ages."),
            count=others,
            **said,
        )
    if person.free_only and not count(replace(allowed, free_only=True)):
        paid = count(allowed)
        return _explained(
            "cost",
            paid,
            _("Nothing free within %(km)s km; %(count)s with a fee."),
            count=paid,
            **said,
        )
    affordable = replace(allowed, free_only=person.free_only)
    if not count(replace(affordable, check_capacity=True)):
        full = count(affordable)
        return _explained(
            "capacity",
            full,
            _("The %(count)s suitable activities within %(km)s km are full."),
            count=full,
            **said,
        )
    return _explained(
        "offered", 0, _("Everything suitable within %(km)s km has already been offered."), **said
    )


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


def _explained(code: str, alternatives: int, message: Message, **params: Any) -> dict[str, Any]:
    return {"alternatives": alternatives, **bilingual(code, message, **params)}


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
