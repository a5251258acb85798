"""Writes on referrals. Each state change writes its event in the same transaction."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import HealthCenter
from community_catalog.models import TaxonomyTerm
from community_catalog.selectors import postcode_position, taxonomy_terms_by_code
from core.errors import Conflict, FieldProblem, InvalidInput
from events.outbox import event_mark_processed
from referrals.lifecycle import (
    ProposedMatch,
    matches_offer,
    referral_event,
    referral_event_draft,
)
from referrals.models import Contact, IdempotencyKey, Referral
from referrals.schemas import ContactIn, ReferralIn

# Letters and digits nobody confuses when reading a slip aloud: no 0/O, 1/I/L, 2/Z, 5/S, 8/B.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY3479"


def referral_code_generate() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
    return f"{raw[:3]}-{raw[3:]}"


def referral_submit(*, health_center: HealthCenter, data: ReferralIn) -> Referral:
    """Accept a referral: store it and announce it (`referral.submitted`) for matching."""
    terms = taxonomy_terms_by_code(data.needs)
    unknown = [
        FieldProblem(f"needs[{i}]", f"unknown taxonomy code {code!r}")
        if code not in terms
        else FieldProblem(f"needs[{i}]", f"taxonomy code {code!r} is no longer in use")
        for i, code in enumerate(data.needs)
        if code not in terms or not terms[code].active
    ]
    if unknown:
        raise InvalidInput("Some needs are not taxonomy codes.", fields=unknown)
    if data.location is not None:
        position = (data.location.latitude, data.location.longitude)
    else:
        found = postcode_position(data.postcode)
        if found is None:
            raise InvalidInput(
                "Unknown postcode.",
                fields=[
                    FieldProblem(
                        "postcode",
                        f"unknown postcode {data.postcode!r}; give location, or load "
                        "postcodes with tisser load-postcodes",
                    )
                ],
            )
        position = found
    if data.wellbeing is not None and not health_center.records_wellbeing:
        raise InvalidInput(
            "This health centre does not record wellbeing; an operator can turn it on.",
            fields=[FieldProblem("wellbeing", "this health centre does not record wellbeing")],
        )

    for attempt in range(5):
        code = referral_code_generate()
        try:
            # No savepoint around the INSERT: a code already taken (one chance in
            # millions) rolls this transaction (or the caller's savepoint) back, and the
            # referral is filed again with another code.
            with transaction.atomic():
                referral = _referral_insert(
                    health_center=health_center, data=data, position=position, code=code
                )
                _needs_insert(referral, list(dict.fromkeys(data.needs)))
                if data.contact is not None:
                    _contact_insert(referral, data.contact)
                referral_event(referral, "referral.submitted")
                if data.wellbeing is not None:
                    from referrals.wellbeing import wellbeing_record

                    wellbeing_record(
                        referral=referral,
                        scores=data.wellbeing,
                        timepoint="baseline",
                        recorded_by="health_center",
                    )
            return referral
        except IntegrityError:
            if attempt == 4 or not Referral.objects.filter(code=code).exists():
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool


def referral_submit_once(
    *,
    health_center: HealthCenter,
    data: ReferralIn,
    key: str,
    body: bytes,
    respond: Callable[[Referral], dict[str, Any]],
) -> Answer:
    """`referral_submit` under an `Idempotency-Key`: the first request with `key` files
    the referral and keeps its answer; a retry with the same body gets that answer and
    creates nothing; a retry with another body is refused (409).

    The key row is inserted first, in the referral's transaction: a concurrent retry's
    INSERT waits on the unique constraint until this transaction ends, then fails, and
    reads the answer committed here.
    """
    request_hash = hashlib.sha256(_canonical(body)).hexdigest()
    try:
        with transaction.atomic():
            record = IdempotencyKey.objects.create(
                health_center=health_center,
                key=key,
                request_hash=request_hash,
                status_code=202,
                response={},
            )
            referral = referral_submit(health_center=health_center, data=data)
            record.referral = referral
            record.response = respond(referral)
            record.save(update_fields=["referral", "response"])
            return Answer(record.status_code, record.response, replayed=False)
    except IntegrityError:
        first = IdempotencyKey.objects.filter(health_center=health_center, key=key).first()
        if first is None:  # not a key collision: let it surface
            raise
    if first.request_hash != request_hash:
        raise Conflict(
            "This Idempotency-Key was used with another body; use a new key for a new referral.",
            code="idempotency_key_reused",
            fields=[FieldProblem("Idempotency-Key", "already used with a different body")],
        )
    return Answer(first.status_code, first.response, replayed=True)


def _canonical(body: bytes) -> bytes:
    """The same JSON however it is spaced or ordered."""
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        return body


def _needs_insert(referral: Referral, codes: list[str]) -> None:
    """A new referral's needs in one INSERT, the terms found by code in the statement
    itself: the codes were checked against the per-process copy of the taxonomy, whose
    ids this does not need to trust."""
    through = Referral.needs.through._meta
    term = TaxonomyTerm._meta
    quote = connection.ops.quote_name

    def column(meta: Any, name: str) -> str:
        return quote(str(meta.get_field(name).column))

    placeholders = ", ".join(["%s"] * len(codes))
    referral_id = Referral._meta.get_field("id").get_db_prep_value(referral.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(through.db_table)} "  # noqa: S608 - names from models, values bound
            f"({column(through, 'referral')}, {column(through, 'taxonomyterm')}) "
            f"SELECT %s, {column(term, 'id')} FROM {quote(term.db_table)} "
            f"WHERE {column(term, 'code')} IN ({placeholders})",
            [referral_id, *codes],
        )


def _referral_insert(
    *,
    health_center: HealthCenter,
    data: ReferralIn,
    position: tuple[float, float],
    code: str,
) -> Referral:
    return Referral.objects.create(
        code=code,
        health_center=health_center,
        clinician_name=data.clinician_name,
        patient_ref=data.patient_ref,
        first_name=data.first_name,
        year_of_birth=data.year_of_birth,
        preferred_language=data.preferred_language,
        postcode=data.postcode,
        latitude=position[0],
        longitude=position[1],
        max_distance_km=data.max_distance_km,
        matches_wanted=data.matches_wanted,
        availability=[a.model_dump(mode="json") for a in data.availability],
        accessibility_needs=list(dict.fromkeys(data.accessibility_needs)),
        free_only=data.free_only,
        large_print=data.large_print,
        note_for_patient=data.note_for_patient,
        note_for_organization=data.note_for_organization,
        do_not_contact=data.do_not_contact,
        preferred_contact=data.preferred_contact or "",
        clinical_reason=data.clinical_reason,
        consent_given=data.consent.given,
        consent_method=data.consent.method,
        consent_at=data.consent.at,
        consent_scope=data.consent.scope,
    )


def _contact_insert(referral: Referral, contact: ContactIn) -> None:
    """The person's e-mail address and mobile number, and their consent to messages:
    with it comes their page's token (256 random bits, not derived from any id)."""
    consent = contact.messages_consent
    given = consent is not None and consent.given
    if not given:  # addresses come only with the consent (`ContactIn`)
        return
    Contact.objects.create(
        referral=referral,
        email=contact.email,
        phone=contact.phone,
        messages_consent=given,
        messages_consent_method=consent.method if consent is not None and given else "",
        messages_consent_at=consent.at if consent is not None and given else None,
        page_token=secrets.token_urlsafe(32) if given else None,
    )


_BEFORE_MATCHING = (Referral.Stage.SUBMITTED, Referral.Stage.MATCHING)


def referral_to_match(*, referral_id: uuid.UUID, event_id: int) -> Referral | None:
    """The referral to match, read without a lock. None when there is nothing to do (the
    referral is gone, cancelled, or already matched), after marking the event processed.

    (`matching` is where referrals were left by versions that recorded it in a
    transaction of its own, before matching: a job that died there is taken up again.)"""
    referral = Referral.objects.filter(id=referral_id).first()
    if (
        referral is None
        or referral.status != Referral.Status.ACTIVE  # cancelled before matching
        or referral.stage not in _BEFORE_MATCHING
    ):
        event_mark_processed(event_id)
        return None
    return referral


def referral_matches_record(
    *,
    referral: Referral,
    event_id: int,
    proposals: list[ProposedMatch],
    explanation: dict[str, Any] | None = None,
) -> None:
    """Store the matches, offer each to its organisation (a `requested` placement), and
    move the referral to `matched` (or `unmatched`), in one transaction with the
    `referral.matching` event and the result's.

    The referral moves only from before matching and only while active: the stage is
    set by a conditional UPDATE, which waits for any other writer of the referral and
    then reads its committed state. Nothing changes when another run of the job recorded
    its result first, or when the referral was cancelled (or its consent withdrawn)
    while matching ran."""
    stage = Referral.Stage.MATCHED if proposals else Referral.Stage.UNMATCHED
    fields: dict[str, Any] = {"stage": stage, "updated_at": timezone.now()}
    if not proposals and explanation:
        fields["unmatched_explanation"] = explanation
    with transaction.atomic():
        moved = Referral.objects.filter(
            id=referral.id, stage__in=_BEFORE_MATCHING, status=Referral.Status.ACTIVE
        ).update(**fields)
        if not moved:
            event_mark_processed(event_id)
            return
        # A referral left in `matching` by an earlier version has its event already.
        started = referral.stage == Referral.Stage.SUBMITTED
        for name, value in fields.items():
            setattr(referral, name, value)
        # The stage's events around the placements' events, in one INSERT.
        matches_offer(
            referral,
            proposals,
            first=True,
            before=[referral_event_draft(referral, "referral.matching")] if started else [],
            then=[referral_event_draft(referral, f"referral.{stage}", {"matches": len(proposals)})],
        )
        event_mark_processed(event_id)
