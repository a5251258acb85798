"""The referral as FHIR (R4): a Bundle with the ServiceRequest and one Task per placement,
shaped after the HL7 SDOH Clinical Care profiles.

- ServiceRequest follows SDOHCC-ServiceRequest: status, intent `order`, the needs as
  categories, a referral code, the patient, who asked and when, the offered performers.
- Each placement is a Task following SDOHCC-TaskForReferralManagement: intent `order`,
  code `fulfill`, `focus` the ServiceRequest, `for` the patient, `requester` the health
  centre, `owner` the organisation, the status and its reason.
- The Patient carries only the pseudonymous reference, first name and year of birth
  Tisser holds; never a national health number.

The document is checked against the FHIR R4B models of `fhir.resources` before it is
returned, so a shape error fails loudly here and never reaches a client.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from referrals.models import Placement, Referral

SDOHCC = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition"
SERVICE_REQUEST_PROFILE = f"{SDOHCC}/SDOHCC-ServiceRequest"
TASK_PROFILE = f"{SDOHCC}/SDOHCC-TaskForReferralManagement"
SNOMED = "http://snomed.info/sct"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
# Tisser's own code systems, as URNs (a deployment has no canonical web address).
NEEDS_SYSTEM = "urn:tisser:taxonomy"
REFERRAL_CODE_SYSTEM = "urn:tisser:referral-code"
PLACEMENT_REASON_SYSTEM = "urn:tisser:placement-reason"
_PATIENT_NAMESPACE = uuid.UUID("6f1c7f0e-4d8b-4b7e-9a51-3a1d2c5e7b90")


def _urn(value: uuid.UUID) -> str:
    return f"urn:uuid:{value}"


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": _urn(uuid.UUID(resource["id"])), "resource": resource}


def referral_bundle(referral: Referral) -> dict[str, Any]:
    """The referral, its patient, the organisations involved and its placements."""
    patient_id = uuid.uuid5(_PATIENT_NAMESPACE, str(referral.id))
    center = referral.health_center
    placements = list(
        referral.placements.select_related(
            "organization", "match__service_at_location__service"
        ).order_by("match__rank")
    )
    needs = list(referral.needs.all())

    patient = {
        "resourceType": "Patient",
        "id": str(patient_id),
        "identifier": [
            {
                "system": f"urn:tisser:patient-ref:{center.id}",
                "value": referral.patient_ref,
            }
        ],
        "name": [{"given": [referral.first_name]}] if referral.first_name else [],
        # FHIR dates may be a year alone: that is all Tisser keeps.
        "birthDate": f"{referral.year_of_birth:04d}" if referral.year_of_birth else None,
        "communication": [
            {
                "language": {
                    "coding": [{"system": "urn:ietf:bcp:47", "code": referral.preferred_language}]
                },
                "preferred": True,
            }
        ],
    }
    organizations = {
        center.id: {
            "resourceType": "Organization",
            "id": str(center.id),
            "name": center.name,
            "telecom": [{"system": "phone", "value": center.phone}] if center.phone else [],
        }
    }
    for placement in placements:
        organizations.setdefault(
            placement.organization_id,
            {
                "resourceType": "Organization",
                "id": str(placement.organization_id),
                "name": placement.organization.name,
            },
        )

    service_request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(referral.id),
        "meta": {"profile": [SERVICE_REQUEST_PROFILE]},
        "identifier": [{"system": REFERRAL_CODE_SYSTEM, "value": referral.code}],
        "status": referral.status,
        "intent": "order",
        "category": [
            {
                "coding": [{"system": NEEDS_SYSTEM, "code": term.code, "display": term.name_en}],
                "text": term.name_en,
            }
            for term in needs
        ],
        "code": {
            "coding": [{"system": SNOMED, "code": "306206005", "display": "Referral to service"}],
            "text": "Social prescribing: referral to a community activity",
        },
        "subject": {"reference": _urn(patient_id)},
        "authoredOn": referral.created_at.isoformat(),
        "requester": {"reference": _urn(center.id), "display": center.name},
        "performer": [
            {"reference": _urn(org_id), "display": organizations[org_id]["name"]}
            for org_id in dict.fromkeys(p.organization_id for p in placements)
        ],
        "reasonCode": [{"text": referral.clinical_reason}] if referral.clinical_reason else [],
        "note": [{"text": referral.note_for_patient}] if referral.note_for_patient else [],
    }
    if referral.clinician_name:
        service_request["requester"]["display"] = f"{referral.clinician_name}, {center.name}"

    tasks = [_task(p, referral, patient_id) for p in placements]
    document = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": timezone.now().isoformat(),
        "entry": [
            _entry(service_request),
            _entry(patient),
            *(_entry(o) for o in organizations.values()),
            *(_entry(t) for t in tasks),
        ],
    }
    return Bundle.model_validate(_pruned(document)).model_dump(mode="json", exclude_none=True)


def _task(placement: Placement, referral: Referral, patient_id: uuid.UUID) -> dict[str, Any]:
    service = placement.match.service_at_location.service
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(placement.id),
        "meta": {"profile": [TASK_PROFILE]},
        "status": placement.status,
        "intent": "order",
        "code": {
            "coding": [
                {"system": TASK_CODE, "code": "fulfill", "display": "Fulfill the focal request"}
            ]
        },
        "description": service.name,
        "focus": {"reference": _urn(referral.id)},
        "for": {"reference": _urn(patient_id)},
        "authoredOn": placement.requested_at.isoformat(),
        "lastModified": placement.updated_at.isoformat(),
        "requester": {"reference": _urn(referral.health_center_id)},
        "owner": {
            "reference": _urn(placement.organization_id),
            "display": placement.organization.name,
        },
    }
    if placement.status_reason:
        task["statusReason"] = {
            "coding": [
                {
                    "system": PLACEMENT_REASON_SYSTEM,
                    "code": placement.status_reason,
                    "display": placement.get_status_reason_display(),
                }
            ],
            "text": placement.get_status_reason_display(),
        }
    if placement.note:
        task["note"] = [{"text": placement.note}]
    if placement.status == Placement.Status.REQUESTED:
        # The time the organisation has to answer before the placement expires.
        task["restriction"] = {
            "period": {
                "end": (
                    placement.requested_at + timedelta(days=settings.TISSER_PLACEMENT_EXPIRY_DAYS)
                ).isoformat()
            }
        }
    return task


def _pruned(value: Any) -> Any:
    """Without empty lists, empty strings and None: FHIR forbids empty elements."""
    if isinstance(value, dict):
        pruned = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [v for v in (_pruned(v) for v in value) if v not in (None, "", [], {})]
    return value
