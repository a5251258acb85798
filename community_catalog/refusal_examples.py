"""What the catalogue's operations answer when they refuse, as the OpenAPI document shows
it (see community_catalog.examples for what they answer when they succeed)."""

from __future__ import annotations

from community_catalog.examples import SAL_ID, SERVICE_ID
from core.schemas import refusal

# --- Refusals ------------------------------------------------------------------------

SEARCH_INVALID = refusal(
    "A `need` is not a taxonomy code, the postcode is unknown, `lat` comes without `lon` "
    "(or with a postcode), the language is not ISO 639-1, or a parameter is out of range: "
    "`fields` names each.",
    "validation_error",
    "The search is not valid.",
    [("need[0]", "unknown taxonomy code 'isolement'")],
)
IMPORT_NOT_JSON = refusal(
    "The file is not JSON, or nests more than 32 levels deep.",
    "invalid_json",
    "The file is not JSON: lexical error: invalid string in json text.",
    [("body", "not JSON")],
)
IMPORT_INVALID = refusal(
    "Some records are invalid: nothing was imported (`invalid_records`, the first 100 "
    "problems in `fields`, the records in `records`). Fix them, or import the rest with "
    "`skip_invalid=true`. Also `validation_error` when the document is not HSDS services.",
    "invalid_records",
    "1 record(s) are invalid; nothing was imported. Fix them, or import the rest with "
    "skip_invalid=true.",
    [("[0].status", "Field required")],
    records=[
        {"record": 0, "id": SERVICE_ID, "name": "Marche nature à Parilly", "action": "skipped"}
    ],
    more_invalid_records=0,
)

TERM_EXISTS = refusal(
    "A term with this code exists (codes are for good): change that term instead.",
    "conflict",
    "The code 'walking-group' exists: change that term instead.",
    [("code", "already exists")],
)
TERM_NOT_FOUND = refusal(
    "No term with this code (codes are never renamed).",
    "not_found",
    "No term 'walking-gruop'.",
)
TERM_CREATE_INVALID = refusal(
    "The code is not lower-case words joined by hyphens, the kind is unknown, a label is "
    "missing or too long, the parent is unknown or of another kind, or `activities` names "
    "something that is not a kind of activity.",
    "validation_error",
    "Unknown parent.",
    [("parent", "unknown code 'physical-activities'")],
)
TERM_UPDATE_INVALID = refusal(
    "A label is empty or too long, the parent is unknown, of another kind or below the "
    "term, or `activities` names something that is not a kind of activity.",
    "validation_error",
    "A term's parent is of the same kind.",
    [("parent", "'isolation' is a need, not a activity")],
)
TERM_IN_USE = refusal(
    "The term is in use (by services, referrals, child terms, crosswalks or needs; `uses` "
    'counts them): deactivate it with `"active": false` instead.',
    "conflict",
    "'walking-group' is in use (6 services, 2 needs): deactivate it instead.",
    [("code", "in use: set active to false")],
    uses={"services": 6, "needs": 2},
)
CROSSWALK_INVALID = refusal(
    "A Tisser code is unknown or no longer in use, or the term is not valid (no code, too "
    "long, or already a Tisser code): `fields` names each.",
    "validation_error",
    "Unknown Tisser codes: 'isolement'",
    [("tisser_codes[0]", "unknown Tisser code 'isolement'")],
)
CROSSWALK_NOT_FOUND = refusal(
    "No crosswalk row with this id (an automatic mapping has none, and cannot be removed).",
    "not_found",
    "No such crosswalk.",
)

SERVICE_NOT_FOUND = refusal(
    "No service with this id in your organisation (another organisation's answers the same).",
    "not_found",
    "No such service in your organisation.",
)
SERVICE_EXISTS = refusal(
    "A service with the `id` given exists: change it with PATCH.",
    "conflict",
    "A service with this id exists; change it with PATCH.",
    [("id", "already exists")],
)
# From `hsds_import`, when the service as changed would touch what it cannot.
CHANGE_CONFLICT = refusal(
    "The change would touch data that is not this service's: an id given is another "
    "service's or organisation's, or a service_at_location would move to another "
    "location. `fields` names each.",
    "conflict",
    "The change would touch data it cannot.",
    [("service_at_locations[0].id", "this id belongs to another service")],
)
SAL_REFERRED = refusal(
    "People were referred to this service_at_location: it stays, so that their referrals "
    "keep what they were offered (close the service, or set its capacity, instead).",
    "conflict",
    "The change would touch data it cannot.",
    [
        (
            "service_at_locations",
            f"service_at_location {SAL_ID} is missing, but people were referred to it: "
            "keep it in the file (set the service's status to end it)",
        )
    ],
)
SERVICE_CREATE_INVALID = refusal(
    "The service is not valid HSDS (a required field missing, a wrong value), or "
    "`taxonomy` names unknown codes: `fields` names each problem.",
    "validation_error",
    "Unknown taxonomy codes.",
    [("taxonomy[0]", "unknown taxonomy code 'walking'")],
)
SERVICE_UPDATE_INVALID = refusal(
    "A field's new value is not valid HSDS, a field is Tisser's to set (`id`, "
    "`organization`, `last_modified`…), or `taxonomy` names unknown codes: `fields` names "
    "each problem.",
    "validation_error",
    "The service is not valid.",
    [("status", "'open' is not one of ['active', 'inactive', 'defunct', 'temporarily closed']")],
)
CLOSE_INVALID = refusal(
    "The body does not fit `CloseIn` (`alert` is text), or the id is not a UUID.",
    "validation_error",
    "The request is not valid.",
    [("alert", "Input should be a valid string")],
)
SAL_NOT_FOUND = refusal(
    "No service_at_location with this id among your organisation's services.",
    "not_found",
    "No such service_at_location in your organisation.",
)
SAL_EXISTS = refusal(
    "The service is already offered at this location: change that service_at_location.",
    "conflict",
    "The service is already offered at this location.",
    [("location_id", "already linked to this service")],
)
SAL_CREATE_INVALID = refusal(
    "`location_id` is missing, not a UUID or not one of your locations, or a schedule or "
    "the capacity is not valid: `fields` names each problem.",
    "validation_error",
    "No such location in your organisation.",
    [("location_id", "no such location in your organisation")],
)
SAL_UPDATE_INVALID = refusal(
    "The change names another location (create another service_at_location instead), or "
    "a value is not valid HSDS.",
    "validation_error",
    "The location of a service_at_location cannot change; create another one.",
    [("location_id", "cannot change")],
)
CAPACITY_INVALID = refusal(
    "`available` exceeds `maximum` (given now or before), or a value is out of range.",
    "validation_error",
    "available cannot exceed maximum.",
    [("available", "exceeds maximum")],
)
SCHEDULE_NOT_FOUND = refusal(
    "No schedule with this id under this service_at_location (or the service_at_location "
    'is not your organisation\'s: "No such service_at_location in your organisation.").',
    "not_found",
    "No such schedule.",
)
SCHEDULE_INVALID = refusal(
    "The schedule is not valid HSDS: an unknown `freq`, `closes_at` before `opens_at`, a "
    "rule no date matches… `fields` names each problem.",
    "validation_error",
    "The service is not valid.",
    [("service_at_locations[0].schedules[1]", "closes_at must be after opens_at")],
)
LOCATION_NOT_FOUND = refusal(
    "No location with this id in your organisation (another organisation's answers the same).",
    "not_found",
    "No such location in your organisation.",
)
LOCATION_INVALID = refusal(
    "The location is not valid HSDS (e.g. a latitude without a longitude, a position "
    "outside the map), or it sets `id`: `fields` names each problem.",
    "validation_error",
    "The location is not valid.",
    [("body", "latitude and longitude go together: give both or neither")],
)
LOCATION_IN_USE = refusal(
    "Services still meet at this location (`services` names them): remove them from it first.",
    "conflict",
    "Services still meet here: Marche nature à Parilly. Remove them from this location first.",
    services=["Marche nature à Parilly"],
)
