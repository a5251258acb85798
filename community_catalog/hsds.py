"""HSDS 3.0 documents: reading and checking an imported file.

A document is read in three steps:
1. `hsds_records` finds the services in it: one service, a list of services, a page of
   services (`{"contents": [...]}`, the shape HSDS's API returns), an organization with
   its `services`, or a service_at_location with its `service`;
2. each service is checked against the official HSDS 3.0 JSON Schema (types, required
   fields, enumerations, uuid/e-mail/date formats);
3. each service is read into the pydantic models below, which add Tisser's own rules
   (coordinates in range, times in order, ISO codes, phone numbers normalised) and give
   the values the database stores.

Every problem is reported with the record's index and the field's path; only the first
`PROBLEMS_LISTED` of a document are, and after them each record is checked only as far
as its first problem, which is enough to know it is invalid: a file of a million
mistakes costs a million cheap checks, not a million messages.

A caller within a request gives `hsds_read` a deadline: past it, checking stops
(`CheckTimeExceeded`) rather than hold the request for as long as the file asks.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticSerializationError, to_json

from community_catalog.hsds_records import HsdsService, deadline_check
from core.bodies import DocumentError, field_path, validation_problems
from core.collector import collection_paused

SCHEMA_DIR = Path(__file__).resolve().parent / "hsds_schema"
# Problems listed for one document; the invalid records past them are counted, not
# described.
PROBLEMS_LISTED = 100


@dataclass(frozen=True)
class RecordProblem:
    record: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        path = f"[{self.record}]" + (f".{self.field}" if self.field else "")
        return {"record": self.record, "field": path, "message": self.message}


@dataclass
class ReadResult:
    records: list[tuple[int, HsdsService]] = field(default_factory=list)
    # The first problems (at most PROBLEMS_LISTED), in record order.
    errors: list[RecordProblem] = field(default_factory=list)
    # Every invalid record, its problems listed or not.
    invalid: set[int] = field(default_factory=set)
    warnings: list[RecordProblem] = field(default_factory=list)
    # index → (id, name) as written in the file, to name invalid records in reports
    labels: dict[int, tuple[str, str]] = field(default_factory=dict)

    def refuse(self, index: int, problems: list[tuple[str, str]], *, listed: int) -> None:
        """Record `index` is invalid; its problems are listed while fewer than `listed`
        are."""
        self.invalid.add(index)
        room = max(listed - len(self.errors), 0)
        self.errors.extend(
            RecordProblem(index, _short(f, 200), _short(m, 300)) for f, m in problems[:room]
        )


def _short(text: str, limit: int) -> str:
    """A path or message cut to `limit` characters: they quote the file, which may hold
    long keys and values."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Reading a document --------------------------------------------------------------


@cache
def service_schema_fast() -> jsonschema_rs.Validator:
    """The same schema, compiled (jsonschema-rs): a hundred times quicker to say that a
    record is valid. It is stricter on formats than `service_schema_validator` (e-mail
    addresses), never looser, so a record it refuses is read again by the latter, which
    says why, or lets it through."""
    schema = json.loads((SCHEMA_DIR / "service.json").read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def _known_valid(raw: dict[str, Any]) -> bool:
    """Valid by the compiled schema. It cannot read every string Python can (a lone
    UTF-16 surrogate, which JSON may escape): those go to the slower checker."""
    try:
        return bool(service_schema_fast().is_valid(raw))
    except (ValueError, UnicodeError):
        return False


@cache
def service_schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMA_DIR / "service.json").read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


# Fields whose format (HSDS: e-mail, URI, date-time; Tisser: dates) an empty string fails.
_EMPTY_MEANS_NOT_GIVEN = frozenset(
    {
        "email",
        "assurer_email",
        "url",
        "website",
        "uri",
        "logo",
        "term_uri",
        "schedule_link",
        "last_modified",
        "assured_date",
        "valid_from",
        "valid_to",
        "dtstart",
        "until",
        "updated",
    }
)


# The keys above as they read in JSON text.
_EMPTY_KEYS_JSON = frozenset(key.encode() for key in _EMPTY_MEANS_NOT_GIVEN)


def _pruned(node: Any) -> Any:
    """`null`, and `""` where a format is expected, read as "not given": clients send
    them for empty fields (Tisser's own responses do). What has none of them is given
    back as it is, not copied (most of a large file); the rest is walked."""
    try:
        text = to_json(node)
    except (PydanticSerializationError, ValueError):
        # Not writable as JSON (a lone surrogate, which JSON may escape): walked.
        return _pruned_walk(node)
    return _pruned_walk(node) if _prunable(text) else node


def _prunable(text: bytes) -> bool:
    """Whether `text`, a value written as compact JSON, holds what `_pruned` drops: a
    `null`, or a `""` under one of `_EMPTY_MEANS_NOT_GIVEN`'s keys, found by searching
    the text at C speed. Never wrong when it says no; it may say yes for nothing (the
    word "null" in a string value, an escaped quote in a key), and the walk then finds
    nothing to drop."""
    if b"null" in text:
        return True
    end = text.find(b'":""')
    while end != -1:
        # The key's opening quote: keys of the list hold no quote of their own.
        start = text.rfind(b'"', 0, end)
        if text[start + 1 : end] in _EMPTY_KEYS_JSON:
            return True
        end = text.find(b'":""', end + 4)
    return False


def _pruned_walk(node: Any) -> Any:
    if isinstance(node, dict):
        values = node.values()
        if None in values or "" in values:
            return _dict_pruned(node)
        # Nothing to drop here (the usual case, checked above at C speed): only what
        # is nested may change.
        nested = [(k, v) for k, v in node.items() if isinstance(v, (dict, list))]
        copy = None
        for key, value in nested:
            pruned = _pruned_walk(value)
            if pruned is not value:
                copy = copy or dict(node)
                copy[key] = pruned
        return node if copy is None else copy
    if isinstance(node, list):
        items = [_pruned_walk(item) if isinstance(item, (dict, list)) else item for item in node]
        return items if any(a is not b for a, b in zip(items, node, strict=True)) else node
    return node


def _dict_pruned(node: dict[str, Any]) -> dict[str, Any]:
    kept = {}
    changed = False
    for key, value in node.items():
        if value is None or (value == "" and key in _EMPTY_MEANS_NOT_GIVEN):
            changed = True
            continue
        if isinstance(value, (dict, list)):
            pruned = _pruned_walk(value)
            changed = changed or pruned is not value
            value = pruned
        kept[key] = value
    return kept if changed else node


def _as_service(item: Any) -> Any:
    """A service_at_location with its nested `service` becomes that service, at that place."""
    if isinstance(item, dict) and isinstance(item.get("service"), dict) and "location" in item:
        at = {k: v for k, v in item.items() if k != "service"}
        return {**item["service"], "service_at_locations": [at]}
    return item


def hsds_services_in(document: Any) -> list[Any]:
    """The service objects in a document, each carrying its organization."""
    if isinstance(document, list):
        return [_as_service(item) for item in document]
    if not isinstance(document, dict):
        raise DocumentError("expected a JSON object or array of HSDS services")
    if isinstance(document.get("contents"), list):
        return hsds_services_in(document["contents"])
    if isinstance(document.get("services"), list):
        # An organization with its services.
        organization = {k: v for k, v in document.items() if k not in ("services", "locations")}
        return [
            {**s, "organization": s.get("organization") or organization}
            if isinstance(s, dict)
            else s
            for s in document["services"]
        ]
    if "name" in document and "status" in document:
        return [document]
    if isinstance(document.get("service"), dict):
        return [_as_service(document)]
    raise DocumentError(
        "expected HSDS services: a service, a list of services, a page of services "
        "('contents'), an organization with 'services', or a service_at_location"
    )


@collection_paused()
def hsds_read(
    document: Any, *, listed: int = PROBLEMS_LISTED, deadline: float | None = None
) -> ReadResult:
    """Check every service in `document`; return the valid records, every invalid one,
    and its first `listed` problems. Past `deadline` (a `time.monotonic()` instant),
    raise `CheckTimeExceeded`: between records, and before a schedule's rule is walked.

    The document comes from a reader that bounded its depth (`json_parse`,
    `hsds_document_load`, `json_depth_check`): the checks below recurse into it."""
    result = ReadResult()
    validator = service_schema_validator()
    seen_services: dict[uuid.UUID, int] = {}
    seen_sals: dict[uuid.UUID, int] = {}
    today = timezone.localdate()
    for index, raw in enumerate(hsds_services_in(document)):
        if not isinstance(raw, dict):
            result.refuse(index, [("", "expected a JSON object (a service)")], listed=listed)
            continue
        deadline_check(deadline, index)
        raw = _pruned(raw)
        result.labels[index] = (str(raw.get("id", "")), str(raw.get("name", "")))
        warnings: list[tuple[str, str]] = []
        context = {"warnings": warnings, "deadline": deadline, "record": index, "today": today}
        if len(result.errors) < listed:
            record, problems = _record_read(raw, validator, context, listed - len(result.errors))
        else:
            record, problems = _record_valid(raw, validator, context)
        if record is None:
            result.refuse(index, problems, listed=listed)
            continue
        repeated = _repeats(index, record, seen_services, seen_sals)
        if repeated:
            result.refuse(index, repeated, listed=listed)
            continue
        result.warnings.extend(RecordProblem(index, f, m) for f, m in warnings)
        result.records.append((index, record))
    return result


def _record_read(
    raw: dict[str, Any],
    validator: jsonschema.protocols.Validator,
    context: dict[str, Any],
    room: int,
) -> tuple[HsdsService | None, list[tuple[str, str]]]:
    """A record and its problems, at most `room` of them (the schema's first, then
    Tisser's rules on other fields). `context` is pydantic's: the list where warnings
    go, the deadline."""
    problems = {}
    if not _known_valid(raw):
        first = islice(validator.iter_errors(raw), room)
        problems = {
            field_path(err.absolute_path): err.message
            for err in sorted(first, key=lambda e: list(e.absolute_path))
        }
    try:
        record = HsdsService.model_validate(raw, context=context)
    except PydanticValidationError as exc:
        for path, message in validation_problems(exc):
            problems.setdefault(path, message)
        record = None
    if problems:
        return None, list(problems.items())[:room]
    return record, []


def _record_valid(
    raw: dict[str, Any], validator: jsonschema.protocols.Validator, context: dict[str, Any]
) -> tuple[HsdsService | None, list[tuple[str, str]]]:
    """A record, or None at its first problem: once the list of problems is full, that
    a record is invalid is all there is to know, and the first problem costs the least
    to find."""
    if not _known_valid(raw) and next(validator.iter_errors(raw), None):
        return None, []
    try:
        return HsdsService.model_validate(raw, context=context), []
    except PydanticValidationError:
        return None, []


def _repeats(
    index: int, record: HsdsService, services: dict[uuid.UUID, int], sals: dict[uuid.UUID, int]
) -> list[tuple[str, str]]:
    """Ids this record shares with an earlier record of the same document."""
    found = []
    if record.id in services:
        found.append(("id", f"the same id as record {services[record.id]}"))
    for i, sal in enumerate(record.service_at_locations):
        if sal.id in sals:
            found.append(
                (f"service_at_locations[{i}].id", f"the same id as in record {sals[sal.id]}")
            )
    services.setdefault(record.id, index)
    for sal in record.service_at_locations:
        sals.setdefault(sal.id, index)
    return found
