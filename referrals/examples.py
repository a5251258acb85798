"""Examples of the referrals API's bodies, shown in the OpenAPI document (each schema of
`referrals.schemas` names its own), and of the refusals its operations answer with, as
the views raise them. tests/config/test_openapi.py checks each against its schema.

The people, names and numbers are made up: names say "Exemple", and phone numbers are
in the ranges ARCEP keeps for fiction (01 99 00 xx xx to 01 99 99 xx xx, 06 39 98 xx xx)."""

from __future__ import annotations

from typing import Any

from core.schemas import refusal

REFERRAL_ID = "9549f7b6-2fa0-4166-982c-86008421b03d"
PLACEMENT_ID = "f0bbc074-80a2-4877-ba89-200a94e2cf3b"
SERVICE_ID = "3edd078f-4d43-53ca-bf48-e77fa76ae363"
SAL_ID = "1929906b-4adb-5d04-8819-3c4dd9e3b687"
ORGANIZATION_ID = "7a27f858-e8ef-5754-b98e-8dc1877e8d2d"
_BASE = f"/api/v1/referrals/{REFERRAL_ID}"

WELLBEING_SCORES = {"life_satisfaction": 5, "worthwhile": 6, "happiness": 4, "anxiety": 7}

REFERRAL_IN: dict[str, Any] = {
    "patient_ref": "pt-exemple-0001",
    "first_name": "Camille",
    "year_of_birth": 1948,
    "preferred_language": "fr",
    "location": {"latitude": 45.7578, "longitude": 4.832},
    "needs": ["isolation"],
    "availability": [{"weekday": "WE", "start": "14:00", "end": "18:00"}],
    "max_distance_km": 4,
    "accessibility_needs": ["step-free"],
    "note_for_patient": "Allez-y une première fois, sans engagement.",
    "clinical_reason": "Se sent isolée depuis un déménagement.",
    "clinician_name": "Dr Exemple",
    "consent": {"given": True, "method": "verbal", "at": "2026-11-25T10:00:00+01:00"},
    "contact": {
        "email": "josiane.m@example.org",
        "messages_consent": {"given": True, "method": "verbal", "at": "2026-11-25T10:00:00+01:00"},
    },
}

LINKS = {
    "self": _BASE,
    "slip": f"{_BASE}/slip.pdf",
    "slip_html": f"{_BASE}/slip.html",
    "events": f"{_BASE}/events",
    "fhir": f"{_BASE}/fhir",
    "cancel": f"{_BASE}/cancel",
}

REFERRAL_ACCEPTED: dict[str, Any] = {
    "id": REFERRAL_ID,
    "code": "GM9-KXC",
    "stage": "submitted",
    "slip_languages": ["fr"],
    "links": LINKS,
}

PLACEMENT: dict[str, Any] = {
    "id": PLACEMENT_ID,
    "status": "requested",
    "status_reason": None,
    "note": "",
    "cancel_reason": "",
    "rank": 1,
    "organization": "Marche Solidaire Lyon",
    "organization_id": ORGANIZATION_ID,
    "service_id": SERVICE_ID,
    "activity": "Balade des berges",
    "requested_at": "2026-11-25T10:00:04Z",
    "updated_at": "2026-11-25T10:00:04Z",
    "reminded_at": None,
    "allowed_actions": ["cancel"],
    "chosen_session": "2026-12-09T14:00:00+01:00",
    "patient_report": None,
}

REFERRAL: dict[str, Any] = {
    "id": REFERRAL_ID,
    "code": "GM9-KXC",
    "stage": "slip_ready",
    "created_at": "2026-11-25T10:00:02Z",
    "updated_at": "2026-11-25T10:00:06Z",
    "preferred_language": "fr",
    "needs": ["isolation"],
    "postcode": "",
    "max_distance_km": 4.0,
    "availability": [{"weekday": "WE", "start": "14:00:00", "end": "18:00:00"}],
    "accessibility_needs": ["step-free"],
    "free_only": False,
    "large_print": False,
    "do_not_contact": False,
    "preferred_contact": None,
    "status": "active",
    "closed_at": None,
    "consent_withdrawn_at": None,
    "personal_data_erased_at": None,
    "cancel_reason": "",
    "matches": [
        {
            "rank": 1,
            "service_id": SERVICE_ID,
            "service_at_location_id": SAL_ID,
            "activity": "Balade des berges",
            "organization": "Marche Solidaire Lyon",
            "place": "Berges du Rhône, pont de la Guillotière",
            "distance_km": 0.69,
            "score": 0.9492,
            "reasons": [
                "Répond à : groupe de marche",
                "À 9 min à pied de chez vous",
                "Le mercredi après-midi",
                "Gratuit",
            ],
        }
    ],
    "unmatched_explanation": None,
    "placements": [PLACEMENT],
    "slip_languages": ["fr"],
    "contact": {
        "email": True,
        "phone": False,
        "messages": "on",
        "channel": "email",
        "personal_page": "open",
        "other_wanted_at": None,
    },
    "slip_ready": True,
    "slip_version": 1,
    "links": LINKS,
}

REFERRAL_LIST = {"items": [REFERRAL], "total": 1, "limit": 50, "offset": 0}

MATCHES: dict[str, Any] = {
    "items": [
        {
            "rank": 1,
            "service_id": SERVICE_ID,
            "service_at_location_id": SAL_ID,
            "activity": "Balade des berges",
            "organization": "Marche Solidaire Lyon",
            "place": "Berges du Rhône, pont de la Guillotière",
            "distance_km": 0.69,
            "travel": {"mode": "walk", "minutes": 9},
            "score": 0.9492,
            "parts": [
                {"name": "distance", "score": 0.828, "weight": 3.0, "contribution": 0.2258},
                {"name": "schedule", "score": 0.9786, "weight": 2.0, "contribution": 0.1779},
                {"name": "language", "score": 1.0, "weight": 1.5, "contribution": 0.1364},
                {"name": "cost", "score": 1.0, "weight": 1.0, "contribution": 0.0909},
                {"name": "accessibility", "score": 1.0, "weight": 2.0, "contribution": 0.1818},
                {"name": "freshness", "score": 1.0, "weight": 0.5, "contribution": 0.0455},
                {"name": "capacity", "score": 1.0, "weight": 1.0, "contribution": 0.0909},
            ],
            "reasons": [
                {
                    "code": "need",
                    "fr": "Répond à : groupe de marche",
                    "en": "Answers: walking group",
                },
                {
                    "code": "distance",
                    "fr": "À 9 min à pied de chez vous",
                    "en": "A 9-minute walk from home",
                },
                {"code": "cost", "fr": "Gratuit", "en": "Free"},
            ],
            "placement_status": "requested",
        }
    ],
    "unmatched_explanation": None,
}

CANCEL_IN = {"reason": "The person moved away."}

WELLBEING_RECORD_IN = {
    "timepoint": "follow_up",
    "placement_id": PLACEMENT_ID,
    **WELLBEING_SCORES,
}

WELLBEING = {
    "timepoint": "follow_up",
    "placement_id": PLACEMENT_ID,
    **WELLBEING_SCORES,
    "recorded_by": "health_center",
    "recorded_at": "2027-02-10T09:30:00Z",
}

PLACEMENT_ACTION_IN = {"note": "We expect her on Wednesday at 2 pm."}

INBOX_PLACEMENT: dict[str, Any] = {
    "id": PLACEMENT_ID,
    "status": "accepted",
    "status_reason": None,
    "note": "We expect her on Wednesday at 2 pm.",
    "referral_code": "GM9-KXC",
    "health_center": "Maison de santé Gerland",
    "health_center_phone": "+33199001234",
    "person": {
        "first_name": "Camille",
        "preferred_language": "fr",
        "needs": ["isolation"],
        "needs_labels": ["Isolement"],
        "accessibility_needs": ["step-free"],
        "do_not_contact": False,
        "note_for_organization": "",
    },
    "activity": {
        "service_id": SERVICE_ID,
        "service_at_location_id": SAL_ID,
        "name": "Balade des berges",
        "place": "Berges du Rhône, pont de la Guillotière",
    },
    "requested_at": "2026-11-25T10:00:04Z",
    "updated_at": "2026-11-26T08:12:40Z",
    "respond_by": None,
    "chosen_session": None,
    "patient_report": None,
    "allowed_actions": ["start", "hold", "complete", "fail"],
}

INBOX_PAGE = {"items": [INBOX_PLACEMENT], "total": 1, "limit": 50, "offset": 0}

# A referral as FHIR: its ServiceRequest, the person, the parties and one Task per offer.
FHIR_BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "id": "a567ac1c-72a4-4192-8851-5db7c67678c0",
    "type": "collection",
    "timestamp": "2026-11-25T10:05:00Z",
    "entry": [
        {
            "fullUrl": "urn:uuid:9549f7b6-2fa0-4166-982c-86008421b03d",
            "resource": {
                "resourceType": "ServiceRequest",
                "id": "9549f7b6-2fa0-4166-982c-86008421b03d",
                "meta": {
                    "profile": [
                        "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ServiceRequest"
                    ]
                },
                "identifier": [{"system": "urn:tisser:referral-code", "value": "GM9-KXC"}],
                "status": "active",
                "intent": "order",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "urn:tisser:taxonomy",
                                "code": "isolation",
                                "display": "Loneliness and isolation",
                            }
                        ],
                        "text": "Loneliness and isolation",
                    }
                ],
                "code": {
                    "coding": [
                        {
                            "system": "http://snomed.info/sct",
                            "code": "306206005",
                            "display": "Referral to service",
                        }
                    ],
                    "text": "Social prescribing: referral to a community activity",
                },
                "subject": {"reference": "urn:uuid:58680500-a517-5323-959e-b47a4338160d"},
                "authoredOn": "2026-11-25T10:00:02Z",
                "requester": {
                    "reference": "urn:uuid:12259272-11dc-4079-b494-5b6280db1408",
                    "display": "Maison de santé Gerland",
                },
                "performer": [
                    {
                        "reference": "urn:uuid:7a27f858-e8ef-5754-b98e-8dc1877e8d2d",
                        "display": "Marche Solidaire Lyon",
                    }
                ],
                "reasonCode": [{"text": "Se sent isolée depuis un déménagement."}],
                "note": [{"text": "Allez-y une première fois, sans engagement."}],
            },
        },
        {
            "fullUrl": "urn:uuid:58680500-a517-5323-959e-b47a4338160d",
            "resource": {
                "resourceType": "Patient",
                "id": "58680500-a517-5323-959e-b47a4338160d",
                "identifier": [
                    {
                        "system": "urn:tisser:patient-ref:12259272-11dc-4079-b494-5b6280db1408",
                        "value": "pt-exemple-0001",
                    }
                ],
                "name": [{"given": ["Camille"]}],
                "birthDate": "1948",
                "communication": [
                    {
                        "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "fr"}]},
                        "preferred": True,
                    }
                ],
            },
        },
        {
            "fullUrl": "urn:uuid:12259272-11dc-4079-b494-5b6280db1408",
            "resource": {
                "resourceType": "Organization",
                "id": "12259272-11dc-4079-b494-5b6280db1408",
                "name": "Maison de santé Gerland",
            },
        },
        {
            "fullUrl": "urn:uuid:7a27f858-e8ef-5754-b98e-8dc1877e8d2d",
            "resource": {
                "resourceType": "Organization",
                "id": "7a27f858-e8ef-5754-b98e-8dc1877e8d2d",
                "name": "Marche Solidaire Lyon",
            },
        },
        {
            "fullUrl": "urn:uuid:f0bbc074-80a2-4877-ba89-200a94e2cf3b",
            "resource": {
                "resourceType": "Task",
                "id": "f0bbc074-80a2-4877-ba89-200a94e2cf3b",
                "meta": {
                    "profile": [
                        "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-TaskForReferralManagement"
                    ]
                },
                "status": "requested",
                "intent": "order",
                "code": {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/CodeSystem/task-code",
                            "code": "fulfill",
                            "display": "Fulfill the focal request",
                        }
                    ]
                },
                "description": "Balade des berges",
                "focus": {"reference": "urn:uuid:9549f7b6-2fa0-4166-982c-86008421b03d"},
                "for": {"reference": "urn:uuid:58680500-a517-5323-959e-b47a4338160d"},
                "authoredOn": "2026-11-25T10:00:04Z",
                "lastModified": "2026-11-25T10:00:04Z",
                "requester": {"reference": "urn:uuid:12259272-11dc-4079-b494-5b6280db1408"},
                "owner": {
                    "reference": "urn:uuid:7a27f858-e8ef-5754-b98e-8dc1877e8d2d",
                    "display": "Marche Solidaire Lyon",
                },
                "restriction": {"period": {"end": "2026-12-09T10:00:04Z"}},
            },
        },
    ],
}


# --- Refusals ------------------------------------------------------------------------

REFERRAL_NOT_FOUND = refusal(
    "No referral with this id for your health centre (another centre's referral answers the same).",
    "not_found",
    "No referral with this id.",
)
PLACEMENT_NOT_FOUND = refusal(
    "No offer with this id under this referral of your health centre.",
    "not_found",
    "No placement with this id.",
)
IDEMPOTENCY_KEY_REUSED = refusal(
    "The `Idempotency-Key` was used with another body: nothing was filed. Use a new key for "
    "a new referral (the same key with the same body answers as the first time).",
    "idempotency_key_reused",
    "This Idempotency-Key was used with another body; use a new key for a new referral.",
    [("Idempotency-Key", "already used with a different body")],
)
REFERRAL_INVALID = refusal(
    "The body does not fit the schema, a need is not a taxonomy code in use, the postcode is "
    "unknown, `wellbeing` is sent by a centre that does not record it, or the "
    "`Idempotency-Key` is not 1 to 200 visible ASCII characters: `fields` names each "
    "problem.",
    "validation_error",
    "Some needs are not taxonomy codes.",
    [("needs[0]", "unknown taxonomy code 'isolement'")],
)
REFERRAL_CLOSED = refusal(
    "The referral is already closed: cancelled before, or completed (every offer ended). "
    "`status` says which.",
    "referral_closed",
    "The referral is already cancelled.",
    status="revoked",
)
CANCEL_INVALID = refusal(
    "The body does not fit `CancelIn`, e.g. a `reason` over 200 characters, or the id is "
    "not a UUID.",
    "validation_error",
    "The request is not valid: reason: String should have at most 200 characters",
    [("reason", "String should have at most 200 characters")],
)
PLACEMENT_CLOSED = refusal(
    "The offer can no longer be withdrawn: it has ended (rejected, cancelled, expired, "
    "completed or failed). `status` says where it is; `allowed` is empty.",
    "illegal_transition",
    "A placement that is 'rejected' cannot become 'cancelled'. It is closed: nothing more "
    "can change.",
    status="rejected",
    allowed=[],
)
WELLBEING_NOT_FOUND = refusal(
    "No referral with this id for your health centre, or `placement_id` is not one of its "
    'placements ("No placement with this id for this referral.").',
    "not_found",
    "No referral with this id.",
)
WELLBEING_RECORDED = refusal(
    "These answers were already recorded: each timepoint is recorded once "
    "(`wellbeing_already_recorded`). Also 409 `placement_not_completed` when a "
    "`follow_up` names a placement that has not completed.",
    "wellbeing_already_recorded",
    "These answers were already recorded.",
    [("timepoint", "follow_up already recorded")],
)
WELLBEING_ERASED = refusal(
    "The person's data was erased (consent withdrawn, or the retention period ended): "
    "nothing more is recorded about them.",
    "personal_data_erased",
    "This person's data has been erased.",
)
WELLBEING_INVALID = refusal(
    "Your health centre does not record wellbeing (an operator turns it on), a score is "
    "not 0 to 10, or `placement_id` is missing with `follow_up` or given with `baseline`.",
    "validation_error",
    "This health centre does not record wellbeing; an operator can turn it on.",
    [("wellbeing", "this health centre does not record wellbeing")],
)
SLIP_NOT_READY = refusal(
    "The slip is not made yet: matching or printing is still under way. `stage` says where "
    "the referral is; ask again shortly (or follow `links.self` until `slip_ready`).",
    "slip_not_ready",
    "The slip is not ready yet; the referral is at stage 'matching'.",
    stage="matching",
)
SLIP_ERASED = refusal(
    "The referral's personal data was erased (consent withdrawn, or the retention period "
    "ended), and the slip with it.",
    "personal_data_erased",
    "The slip was erased with the referral's personal data (consent withdrawn, or the "
    "retention period ended).",
)
INBOX_PLACEMENT_NOT_FOUND = refusal(
    "No placement with this id addressed to your organisation (another organisation's "
    "answers the same).",
    "not_found",
    "No placement with this id.",
)
