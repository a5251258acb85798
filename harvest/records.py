"""A source's records as Tisser stores them: ids in the source's own namespace, a hash
of the whole record (equal: nothing to write) and of each field (to tell an edit made
in Tisser from one made at the source)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from community_catalog.services import NESTED_LISTS
from core.names import uuid5_text

# HSDS lists of nested objects that each carry an id, and nested single objects.
_NESTED_LISTS = frozenset(NESTED_LISTS)
_NESTED_OBJECTS = frozenset({"location", "taxonomy_term", "organization"})
# Fields whose changes say nothing about the service itself, or that Tisser keeps. The
# organisation and the places are shared by several services: they are compared as
# objects of their own (`shared_objects`, `object_hash`), each service's fields only
# naming them by id.
NOT_COMPARED = frozenset({"id", "last_modified", "organization", "organization_id"})
ORGANIZATION, LOCATION = "organization", "location"


@dataclass
class Entry:
    """One record of a source, as its listing gave it.

    `document` is the record as an HSDS service (None: the listing says it has not
    changed since it was last fetched); `problems` are why it cannot be read."""

    record_id: str
    modified: str = ""
    document: dict[str, Any] | None = None
    url: str = ""
    problems: list[tuple[str, str]] = field(default_factory=list)


def source_namespace(name: str) -> uuid.UUID:
    """The ids of a source's records, by its name: a source removed then added again
    under the same name takes its services, places and organisations back rather than
    making them twice. (A source's name cannot change.)"""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"tisser:harvest:{name}")


def namespaced(document: Any, namespace: uuid.UUID, *, path: str = "") -> Any:
    """A copy of `document` whose ids (`id`, `*_id`) are uuid5 in the source's namespace,
    and whose nested objects without an id get one made from their place in the record:
    the same record always gives the same ids, and no source can name (and so overwrite)
    a service, place or organisation that is not its own."""
    if isinstance(document, list):
        return [namespaced(item, namespace, path=f"{path}[{i}]") for i, item in enumerate(document)]
    if not isinstance(document, dict):
        return document
    copy: dict[str, Any] = {}
    for key, value in document.items():
        if key == "taxonomy_id" and _is_uuid(value):
            # A taxonomy is no one's to overwrite, and its crosswalks are keyed by it:
            # the same taxonomy from two sources is one.
            copy[key] = value
        elif (key == "id" or key.endswith("_id")) and isinstance(value, str | int) and value != "":
            copy[key] = uuid5_text(namespace, str(value))
        elif not isinstance(value, (dict, list)):
            copy[key] = value  # nothing in it to rename
        elif key in _NESTED_LISTS and isinstance(value, list):
            where = f"{path}.{key}"
            copy[key] = [
                _with_id(namespaced(item, namespace, path=f"{where}[{i}]"), namespace, where, i)
                for i, item in enumerate(value)
            ]
        elif key in _NESTED_OBJECTS and isinstance(value, dict):
            where = f"{path}.{key}"
            copy[key] = _with_id(namespaced(value, namespace, path=where), namespace, where, None)
        else:
            copy[key] = namespaced(value, namespace, path=f"{path}.{key}")
    return copy


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def _with_id(item: Any, namespace: uuid.UUID, where: str, index: int | None) -> Any:
    if isinstance(item, dict) and not item.get("id"):
        item["id"] = uuid5_text(namespace, f"{where}[{index}]")
    return item


# One encoder for every hash (`json.dumps` with options makes one for each call).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def _canonical(value: Any) -> bytes:
    return _ENCODER.encode(value).encode()


def content_hash(document: Any) -> str:
    return hashlib.sha256(_canonical(document)).hexdigest()


def field_hashes(document: dict[str, Any]) -> dict[str, str]:
    """A short hash of each compared top-level field of a service, its places named by
    id only (a missing field hashes as null)."""
    return {
        k: _short(_places_by_id(v) if k == "service_at_locations" else v)
        for k, v in document.items()
        if k not in NOT_COMPARED
    }


class RecordHashes:
    """`content_hash` and `field_hashes` of one record, each field written out as JSON
    once for both (the whole record's text is its fields' texts joined, as `json`
    writes it with sorted keys)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.texts = {key: _ENCODER.encode(value) for key, value in document.items()}

    def content_hash(self) -> str:
        if not all(type(key) is str for key in self.texts):
            return content_hash(self.document)  # `json` writes other keys as text
        body = ",".join(f"{_ENCODER.encode(k)}:{self.texts[k]}" for k in sorted(self.texts))
        return hashlib.sha256(f"{{{body}}}".encode()).hexdigest()

    def field_hashes(self) -> dict[str, str]:
        return {
            key: (
                _short(_places_by_id(self.document[key]))
                if key == "service_at_locations"
                else _short_text(text)
            )
            for key, text in self.texts.items()
            if key not in NOT_COMPARED
        }


def shared_objects(document: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The organisation and places a service names, by id: {id: (kind, object)}."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    organization = document.get("organization")
    if isinstance(organization, dict) and organization.get("id"):
        found[str(organization["id"])] = (ORGANIZATION, organization)
    for place in document.get("service_at_locations") or []:
        location = place.get("location") if isinstance(place, dict) else None
        if isinstance(location, dict) and location.get("id"):
            found[str(location["id"])] = (LOCATION, location)
    return found


def object_hash(value: dict[str, Any]) -> str:
    return _short(value)


def _short(value: Any) -> str:
    return _short_text(_ENCODER.encode(value))


def _short_text(text: str) -> str:
    """The short hash of a value already written out as canonical JSON."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _places_by_id(places: Any) -> Any:
    if not isinstance(places, list):
        return places
    return [
        {**p, "location": {"id": p["location"].get("id")}}
        if isinstance(p, dict) and isinstance(p.get("location"), dict)
        else p
        for p in places
    ]
