"""HSDS files received over HTTP for import: how much they may hold, how they are read,
and where a previewed file waits for its apply.

A file is read in four steps, so that a hostile one costs little:
1. it is streamed to a temporary file (in memory while small), refused past
   `TISSER_IMPORT_MAX_BYTES`;
2. ijson walks through it without building anything and refuses, at the first excess,
   what would be costly to build or to check: nesting deeper than `MAX_JSON_DEPTH`,
   more records than `TISSER_IMPORT_MAX_RECORDS`, a record or a file with too many JSON
   values, a text too long;
3. only then does `json` build the document, whose size is now bounded;
4. `hsds_read` checks it until `TISSER_IMPORT_CHECK_SECONDS` after step 2 began:
   its cost depends on what the values are, not only on how many (a phone number is
   parsed, a schedule's rule walked), so it is bounded in time too.
A caller (an API key, a person) imports one file at a time (`import_slot`).

`tisser import-hsds` reads an operator's own file and keeps none of these limits but the
depth (see its command).

The web import previews a file, then applies it: in between the file waits in a private
folder of the data directory (0700, files 0600) and the session keeps only its name and
SHA-256, checked again on apply so that the applied file is the one previewed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from community_catalog.hsds import ReadResult, hsds_read
from community_catalog.hsds_records import CheckTimeExceeded
from core.bodies import MAX_JSON_DEPTH
from core.concurrency import concurrency_slot
from core.errors import FieldProblem, Problem, TooLarge

# One service, however rich, stays far below this many JSON values and keys (the
# official full example has 850): more is not a service but a way to make each check slow.
MAX_RECORD_ITEMS = 10_000
# Values and keys in a whole file: bounds the memory `json` takes to build it (about
# 100 MB for the worst shapes). 20 MB of the official full example holds 965,000.
MAX_FILE_ITEMS = 1_000_000
# A description is a few paragraphs; a text this long is refused before any check.
MAX_TEXT_CHARS = 100_000
# A previewed file not applied within this many seconds is deleted.
KEPT_FOR_SECONDS = 24 * 3600
# Imports running at a time per caller, and the wait suggested to the next one: a file
# within the limits is checked and written in a few seconds.
IMPORT_CONCURRENCY = 1
IMPORT_RETRY_AFTER = 10

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int
    max_records: int
    max_items: int = MAX_FILE_ITEMS
    max_record_items: int = MAX_RECORD_ITEMS
    max_text: int = MAX_TEXT_CHARS
    check_seconds: float | None = None

    @classmethod
    def configured(cls) -> ImportLimits:
        return cls(
            max_bytes=settings.TISSER_IMPORT_MAX_BYTES,
            max_records=settings.TISSER_IMPORT_MAX_RECORDS,
            check_seconds=settings.TISSER_IMPORT_CHECK_SECONDS,
        )


def import_slot(caller: str) -> AbstractContextManager[None]:
    """The caller's one import at a time (`core.concurrency`; `Busy` when it is
    taken): `caller` is "key:<id>" for an API key, "user:<id>" for a signed-in person."""
    return concurrency_slot(
        f"hsds-import:{caller}", limit=IMPORT_CONCURRENCY, retry_after=IMPORT_RETRY_AFTER
    )


def import_folder() -> Path:
    """The private folder where received files wait: readable by Tisser's user only."""
    folder = Path(settings.DATA_DIR) / "imports"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)  # also when an older version made it with the umask's mode
    return folder


def too_large_problem(limits: ImportLimits) -> TooLarge:
    return TooLarge(
        f"The file is larger than {limits.max_bytes} bytes (TISSER_IMPORT_MAX_BYTES).",
        fields=[FieldProblem("body", f"at most {limits.max_bytes} bytes")],
        extra={"limit": limits.max_bytes},
    )


def import_spool(chunks: Iterable[bytes], limits: ImportLimits) -> IO[bytes]:
    """The received bytes in a temporary file, in memory up to
    FILE_UPLOAD_MAX_MEMORY_SIZE and on disk past it, rewound. Reading stops at the
    first byte past the limit."""
    spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (returned to the caller)
        max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=str(import_folder())
    )
    received = 0
    for chunk in chunks:
        received += len(chunk)
        if received > limits.max_bytes:
            spool.close()
            raise too_large_problem(limits)
        spool.write(chunk)
    spool.seek(0)
    return spool


def request_chunks(request: Any, limit: int) -> Iterable[bytes]:
    """A request's body in chunks, at most `limit` + 1 bytes of it."""
    left = limit + 1
    while left > 0:
        chunk = request.read(min(_CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


# --- Reading -------------------------------------------------------------------------


def hsds_file_read(stream: IO[bytes], limits: ImportLimits) -> ReadResult:
    """The file's services, checked: its shape, then each service, within
    `limits.check_seconds` from now (`CheckTimeExceeded` becomes a 413)."""
    started = time.monotonic()
    document = hsds_document_load(stream, limits)
    if limits.check_seconds is None:
        return hsds_read(document)
    try:
        return hsds_read(document, deadline=started + limits.check_seconds)
    except CheckTimeExceeded as stopped:
        raise _too_long_to_check(limits, stopped.checked, time.monotonic() - started) from None


def hsds_document_load(stream: IO[bytes], limits: ImportLimits) -> Any:
    """The JSON document in `stream`, once its shape is known to be within `limits`."""
    try:
        _shape_check(stream, limits)
        stream.seek(0)
        return json.load(stream)
    except (ijson.JSONError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Problem(
            f"The file is not JSON: {exc}",
            code="invalid_json",
            fields=[FieldProblem("body", "not JSON")],
        ) from None


_ENDS = frozenset({"end_map", "end_array"})
_STARTS = frozenset({"start_map", "start_array"})
# The lists of records of a top-level object, and what `hsds_services_in` does not copy
# into each service of an organization.
_RECORD_LISTS = frozenset({"services", "contents"})
_NOT_COPIED = _RECORD_LISTS | {"locations"}


def _shape_check(stream: IO[bytes], limits: ImportLimits) -> None:
    """Walk the document's events once, building nothing; refuse at the first excess.

    The records are the items of a top-level array, or of the `contents` or `services`
    array of a top-level object (the shapes `hsds_services_in` reads); a top-level
    object without them is one record, all of it: its `locations`, and its `contents` or
    `services` that are not arrays, too. An organization's own fields are copied into
    each of its services, so they count once per service. (ijson's `basic_parse`,
    without paths: building the path of each event costs the square of the depth.)
    """
    depth = 0
    records_at = 1  # the depth of the records: 1 in an array, 2 in an object's list
    # In a top-level object, `outside` counts what is copied into each record, `loose`
    # what is not: `locations`, and `contents` or `services` that are not arrays.
    records = items = record_items = outside = loose = 0
    in_record = in_records = copied = False
    top_key = ""
    is_array: dict[str, bool] = {}  # whether the top-level `contents`, `services` are
    for event, value in ijson.basic_parse(stream, use_float=True):
        if event in _ENDS:
            depth -= 1
            if depth == records_at:
                in_record = False
            elif depth == 1:
                in_records = False
            continue
        items += 1
        if items > limits.max_items:
            raise _too_many_values(limits)
        if depth == records_at and event != "map_key" and (in_records or records_at == 1):
            records += 1
            if records > limits.max_records:
                raise _too_many_records(limits)
            record_items, in_record = 0, event in _STARTS
        if in_record:
            record_items += 1
            if record_items > limits.max_record_items:
                raise _record_too_large(f"[{records - 1}]", limits)
        elif copied and top_key not in _NOT_COPIED:
            outside += 1
            if outside > limits.max_record_items:
                raise _record_too_large("organization" if records else "[0]", limits)
        elif copied:
            loose += 1
        if depth == 1 and copied and event != "map_key":
            is_array[top_key] = event == "start_array"  # the last one is what `json` keeps
        if event in _STARTS:
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            if depth == 1 and event == "start_map":
                records_at, copied = 2, True
            elif depth == 2 and records_at == 2 and top_key in _RECORD_LISTS:
                in_records = event == "start_array"
        elif event == "string" or event == "map_key":
            if len(value) > limits.max_text:
                record = records - 1 if in_record else None
                raise _text_too_long(_long_text_field(stream, limits, record), limits)
            if event == "map_key" and depth == 1:
                top_key = value
    if records and items + outside * (records - 1) > limits.max_items:
        raise _too_many_values(limits)
    one_record = copied and not any(is_array.get(key) for key in _RECORD_LISTS)
    if one_record and outside + loose > limits.max_record_items:
        raise _record_too_large("[0]", limits)


def _long_text_field(stream: IO[bytes], limits: ImportLimits, record: int | None) -> str:
    """Where the first text too long is: read again, with paths (the document is known
    to be shallow by now)."""
    stream.seek(0)
    for prefix, event, value in ijson.parse(stream, use_float=True):
        if event in ("string", "map_key") and len(value) > limits.max_text:
            return _field(prefix, record)
    return "body"


def _field(prefix: str, record: int | None) -> str:
    """ijson's `contents.item.phones.item.number` as the API's `[3].phones[].number`."""
    parts = prefix.split(".")
    if record is not None:
        parts = parts[1:] if parts[:1] == ["item"] else parts[2:]
    path = f"[{record}]" if record is not None else ""
    for part in parts:
        path += "[]" if part == "item" else (f".{part}" if path else part)
    return path or "body"


def _too_long_to_check(limits: ImportLimits, checked: int, seconds: float) -> TooLarge:
    return TooLarge(
        f"The file is too large to check in one go: checking stopped after {checked} "
        f"records and {seconds:.1f} s (TISSER_IMPORT_CHECK_SECONDS is "
        f"{limits.check_seconds} s). Split it into several files.",
        code="too_long_to_check",
        fields=[FieldProblem("body", f"checked in at most {limits.check_seconds} s")],
        extra={"limit": limits.check_seconds, "records_checked": checked},
    )


def _too_deep() -> Problem:
    return Problem(
        f"The file nests more than {MAX_JSON_DEPTH} levels deep.",
        code="invalid_json",
        fields=[FieldProblem("body", f"at most {MAX_JSON_DEPTH} levels")],
    )


def _too_many_records(limits: ImportLimits) -> TooLarge:
    return TooLarge(
        f"The file holds more than {limits.max_records} records "
        "(TISSER_IMPORT_MAX_RECORDS): split it into several files.",
        code="too_many_records",
        fields=[FieldProblem("body", f"at most {limits.max_records} records")],
        extra={"limit": limits.max_records},
    )


def _too_many_values(limits: ImportLimits) -> TooLarge:
    return TooLarge(
        f"The file holds more than {limits.max_items} JSON values and keys (an "
        "organization's own fields count once per service): split it into several files.",
        code="too_many_values",
        fields=[FieldProblem("body", f"at most {limits.max_items} values")],
        extra={"limit": limits.max_items},
    )


def _record_too_large(field: str, limits: ImportLimits) -> TooLarge:
    return TooLarge(
        f"{field} holds more than {limits.max_record_items} JSON values and keys: more than "
        "one service can hold.",
        code="record_too_large",
        fields=[FieldProblem(field, f"at most {limits.max_record_items} values and keys")],
        extra={"limit": limits.max_record_items},
    )


def _text_too_long(field: str, limits: ImportLimits) -> TooLarge:
    return TooLarge(
        f"{field} is a text of more than {limits.max_text} characters.",
        code="text_too_long",
        fields=[FieldProblem(field, f"at most {limits.max_text} characters")],
        extra={"limit": limits.max_text},
    )


# --- A previewed file, kept until it is applied ----------------------------------------


@dataclass(frozen=True)
class KeptFile:
    name: str
    digest: str

    @property
    def path(self) -> Path:
        return import_folder() / self.name


def kept_file_write(chunks: Iterable[bytes], limits: ImportLimits) -> KeptFile:
    """Copy an upload into the private folder (0600), hashing it on the way."""
    kept_files_expire()
    name = f"{uuid.uuid4().hex}.json"
    path = import_folder() / name
    digest = hashlib.sha256()
    received = 0
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        for chunk in chunks:
            received += len(chunk)
            if received > limits.max_bytes:
                break
            digest.update(chunk)
            out.write(chunk)
    if received > limits.max_bytes:
        path.unlink()
        raise too_large_problem(limits)
    return KeptFile(name=name, digest=digest.hexdigest())


def kept_file_open(name: str, digest: str) -> IO[bytes] | None:
    """The kept file, open, if it is still there, recent, and the very file previewed."""
    if not name or Path(name).name != name:
        return None
    path = import_folder() / name
    try:
        stream = path.open("rb")
    except OSError:
        return None
    found = hashlib.sha256()
    for chunk in iter(lambda: stream.read(_CHUNK), b""):
        found.update(chunk)
    if found.hexdigest() != digest or _expired(path):
        stream.close()
        return None
    stream.seek(0)
    return stream


def kept_file_delete(name: str) -> None:
    if name and Path(name).name == name:
        (import_folder() / name).unlink(missing_ok=True)


def kept_files_expire() -> None:
    """Delete the previews nobody applied."""
    for path in import_folder().iterdir():
        if _expired(path):
            path.unlink(missing_ok=True)


def _expired(path: Path) -> bool:
    try:
        return path.stat().st_mtime < time.time() - KEPT_FOR_SECONDS
    except FileNotFoundError:
        return True


# --- Uploads ---------------------------------------------------------------------------


class ImportUploadHandler(FileUploadHandler):
    """Stops reading a request's uploaded files past TISSER_IMPORT_MAX_BYTES in all
    (Django would otherwise write any size to its temporary folder before the view could
    refuse it, and a limit per file would let a hundred files through); the rest of the
    request is read and dropped, so the browser gets the page that says so. First in
    FILE_UPLOAD_HANDLERS: Django makes one for each request."""

    received = 0  # bytes of every file of the request so far

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.TISSER_IMPORT_MAX_BYTES:
            if self.request is not None:
                self.request.upload_too_large = True  # type: ignore[attr-defined]
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
