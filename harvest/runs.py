"""One run of a source: read what it lists, write what changed, deactivate what left.

1. The source is claimed (`running_since`), so two relays never run it at once.
2. Each record's ids are put in the source's namespace (`harvest.records`); a record
   whose hash is the one last written is unchanged and costs nothing more.
3. The others go through the catalogue's importer, 500 at a time, each batch in a
   transaction of its own (with its events: `service.updated`, `service.closed`,
   `capacity.changed`, so webhooks and matching's index follow). Invalid records are
   reported with their id at the source and left as they were.
4. **Local edits win, and are flagged.** For a service harvested before, each top-level
   field whose value in Tisser no longer has the hash written at the last harvest was
   edited in Tisser: the record keeps Tisser's value. When the source changed that field
   too, the field is listed for review (`HarvestedRecord.review_fields`, the run's
   `kept_local`); nothing is overwritten silently either way. Organisations and places
   are shared by several services: they follow the same rule as objects of their own
   (`HarvestedObject`), so that a sibling written later never takes the harvest's own
   change to a shared place for an edit made in Tisser.
5. Once the whole listing was read, the source's services it no longer lists are
   deactivated (status `inactive`, `service.closed`), never deleted: referrals keep
   pointing at them. A service that comes back is active again. A listing with no
   service at all while some are active is refused as a broken source, deactivating
   nothing.
6. Every run records a report; a failed run counts a failure and the source waits
   before its next attempt, longer after each (`harvest.schedule`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from community_catalog.hsds import PROBLEMS_LISTED, hsds_read
from community_catalog.hsds_export import (
    LOCATION_PARTS,
    location_export,
    organization_export,
    service_export,
    services_for_export,
)
from community_catalog.hsds_import import hsds_import
from community_catalog.models import Location, Organization, Service, ServiceProvenance
from core.bulk import values_insert
from core.collector import collection_paused
from events.outbox import EventDraft, events_record
from harvest.feeds import Fetch, SourceFailed, entries, fetcher, is_url
from harvest.models import HarvestedObject, HarvestedRecord, HarvestRun, HarvestSource
from harvest.records import (
    LOCATION,
    ORGANIZATION,
    Entry,
    RecordHashes,
    field_hashes,
    namespaced,
    object_hash,
    shared_objects,
    source_namespace,
)
from harvest.schedule import next_run_after
from harvest.sources import STALE_CLAIM, SourceBusy

BATCH = 500


@dataclass
class _Pending:
    entry: Entry
    document: dict[str, Any]
    digest: str
    record: HarvestedRecord | None
    # A hash of each field as the source sent it (before any local value is put back).
    source_hashes: dict[str, str]
    # The organisation and places it names, as the source sent them.
    shared: dict[str, tuple[str, dict[str, Any]]]
    # Fields edited in Tisser, whose value was kept over the source's.
    kept: list[str] = field(default_factory=list)


@dataclass
class _SharedKept:
    """A batch's shared objects as the harvest knew them, those edited in Tisser (kept),
    and those of them also changed at the source (flagged)."""

    known: dict[str, HarvestedObject] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)


def source_claim(source: HarvestSource) -> bool:
    """Take the source for a run; False when another run holds it."""
    now = timezone.now()
    taken = (
        HarvestSource.objects.filter(id=source.id)
        .filter(running_since__isnull=True)
        .update(running_since=now)
    ) or (
        HarvestSource.objects.filter(id=source.id, running_since__lt=now - STALE_CLAIM).update(
            running_since=now
        )
    )
    return bool(taken)


def harvest_run(
    source: HarvestSource,
    *,
    trigger: str = "manual",
    fetch: Fetch | None = None,
    progress: Callable[[int], object] | None = None,
) -> HarvestRun:
    """Run `source` once and return its report. Raises `SourceBusy` when a run of the
    same source is under way."""
    if not source_claim(source):
        raise SourceBusy(f"The source {source.name!r} is being harvested; try again later.")
    run = HarvestRun.objects.create(source=source, trigger=trigger)
    try:
        _Harvest(source, run, fetch or fetcher(source), progress).run()
        run.status = HarvestRun.Status.SUCCEEDED
    except SourceFailed as exc:
        run.status = HarvestRun.Status.FAILED
        run.error = str(exc)[:300]
    except Exception:
        run.status = HarvestRun.Status.FAILED
        run.error = "unexpected error (see the server's log)"
        raise
    except BaseException:
        # A worker's time limit or shutdown, Ctrl-C: the run failed, and the source
        # waits before its next attempt like after any failure.
        run.status = HarvestRun.Status.FAILED
        run.error = "interrupted (a time limit, or the process was stopped)"
        raise
    finally:
        run.finished_at = timezone.now()
        run.save()
        _schedule_next(source, failed=run.status == HarvestRun.Status.FAILED)
    return run


def leased_run(source_id: str, lease: str) -> HarvestRun | None:
    """The relay's hand-over (`harvest.schedule.harvest_leases_take`): run the source
    if the lease still stands. A message delivered twice, or after a run, does nothing."""
    until = parse_datetime(lease)
    source = HarvestSource.objects.filter(id=source_id, enabled=True).first()
    if source is None or until is None or source.next_run_at != until:
        return None
    try:
        return harvest_run(source, trigger="schedule")
    except SourceBusy:
        return None


def _schedule_next(source: HarvestSource, *, failed: bool) -> None:
    source.failures = source.failures + 1 if failed else 0
    source.next_run_at = next_run_after(source, timezone.now())
    source.running_since = None
    HarvestSource.objects.filter(id=source.id).update(
        failures=source.failures, next_run_at=source.next_run_at, running_since=None
    )


class _Harvest:
    def __init__(
        self,
        source: HarvestSource,
        run: HarvestRun,
        fetch: Fetch,
        progress: Callable[[int], object] | None,
    ) -> None:
        self.source = source
        self.run_ = run
        self.fetch = fetch
        self.progress = progress
        self.namespace = source_namespace(source.name)
        self.known = {r.record_id: r for r in HarvestedRecord.objects.filter(source=source)}
        self.seen: set[str] = set()
        self.unmapped: dict[tuple[str, str], dict[str, Any]] = {}
        self.now = timezone.now()

    def run(self) -> None:
        active = {rid: r.source_modified for rid, r in self.known.items() if r.active}
        pending: list[_Pending] = []
        for entry in entries(self.source, active, fetch=self.fetch):
            self.run_.fetched += 1
            if self.progress:
                self.progress(1)
            if entry.problems:
                self._invalid(entry.record_id, entry.problems)
                if entry.record_id:
                    self.seen.add(entry.record_id)
                continue
            if entry.record_id in self.seen:
                self._invalid(entry.record_id, [("id", "listed twice by the source")])
                continue
            self.seen.add(entry.record_id)
            known = self.known.get(entry.record_id)
            if entry.document is None:
                self.run_.unchanged += 1
                continue
            if str(entry.document.get("id", "")) != entry.record_id:
                self._invalid(entry.record_id, [("id", "the record's id is not the one listed")])
                continue
            document = namespaced(entry.document, self.namespace, path=entry.record_id)
            hashes = RecordHashes(document)
            digest = hashes.content_hash()
            if known is not None and known.active and known.content_hash == digest:
                self.run_.unchanged += 1
                continue
            pending.append(
                _Pending(
                    entry,
                    document,
                    digest,
                    known,
                    hashes.field_hashes(),
                    shared_objects(document),
                )
            )
            if len(pending) >= BATCH:
                self._write(pending)
                pending = []
        if pending:
            self._write(pending)
        self._leavers()
        self._seen_mark()
        self.run_.unmapped_terms = sorted(
            self.unmapped.values(), key=lambda t: (-t["services"], t["taxonomy"], t["code"])
        )[:PROBLEMS_LISTED]

    # Problems ---------------------------------------------------------------------

    def _invalid(self, record_id: str, problems: Iterable[tuple[str, str]]) -> None:
        self.run_.invalid += 1
        room = PROBLEMS_LISTED - len(self.run_.problems)
        for where, message in list(problems)[: max(room, 0)]:
            self.run_.problems.append(
                {"record": record_id[:300], "field": where[:200], "message": message[:300]}
            )

    # Writing ----------------------------------------------------------------------

    def _write(self, pending: list[_Pending]) -> None:
        # A batch's records, checked, written and read back: bounded work that makes
        # many objects (core.collector).
        with collection_paused(), transaction.atomic():
            reviews = self._local_edits_keep(pending)
            shared = self._shared_edits_keep(pending, reviews)
            read = hsds_read([p.document for p in pending])
            report = hsds_import(read, organization=None, skip_invalid=True, exports=True)
            refused: dict[int, list[tuple[str, str]]] = {}
            for problem in report.errors:
                where = problem["field"].split(".", 1)[1] if "." in problem["field"] else ""
                refused.setdefault(problem["record"], []).append((where, problem["message"]))
            for index, problems in refused.items():
                self._invalid(pending[index].entry.record_id, problems)
            self.run_.invalid += report.more_invalid_records
            for term in report.unmapped_terms:
                key = (term["taxonomy"], term["code"])
                seen = self.unmapped.setdefault(key, {**term, "services": 0})
                seen["services"] += term["services"]
            written: dict[int, str] = {}
            for outcome in report.services:
                if outcome["action"] == "skipped":
                    continue
                written[outcome["record"]] = outcome["action"]
            self._records_save(pending, written, reviews, shared, report.exports)

    def _local_edits_keep(self, pending: list[_Pending]) -> dict[int, list[str]]:
        """Put Tisser's value back into each record for the fields edited locally;
        the fields the source changed too, by record index."""
        harvested = [p for p in pending if p.record is not None]
        if not harvested:
            return {}
        ids = [p.record.service_id for p in harvested if p.record is not None]
        current = {
            s.id: service_export(s) for s in services_for_export(Service.objects.filter(id__in=ids))
        }
        reviews: dict[int, list[str]] = {}
        for index, p in enumerate(pending):
            record = p.record
            if record is None or record.service_id not in current:
                continue
            now = current[record.service_id]
            now_hashes = field_hashes(now)
            incoming = p.source_hashes
            edited = [
                f
                for f, written in record.written_hashes.items()
                if now_hashes.get(f, _MISSING) != written
            ]
            p.kept = edited
            review = []
            for name in edited:
                if name in now:
                    p.document[name] = now[name]
                else:
                    p.document.pop(name, None)
                if name == "service_at_locations":
                    # The places themselves are shared objects: the source's version,
                    # unless edited in Tisser (`_shared_edits_keep`).
                    for place in p.document.get(name) or []:
                        location_id = str((place.get("location") or {}).get("id", ""))
                        if location_id in p.shared:
                            place["location"] = p.shared[location_id][1]
                if incoming.get(name, _MISSING) != record.source_hashes.get(name, _MISSING):
                    review.append(name)
            if review:
                reviews[index] = sorted(set(review) | set(record.review_fields))
            elif edited:
                reviews[index] = list(record.review_fields)
        return reviews

    def _shared_edits_keep(
        self, pending: list[_Pending], reviews: dict[int, list[str]]
    ) -> _SharedKept:
        """The organisations and places edited in Tisser since the harvest wrote them:
        Tisser's version goes into every record naming them, and a record whose source
        changed one of them too is flagged."""
        ids = {object_id for p in pending for object_id in p.shared}
        known = {
            str(o.object_id): o
            for o in HarvestedObject.objects.filter(source=self.source, object_id__in=ids)
        }
        if not known:
            return _SharedKept()
        now: dict[str, dict[str, Any]] = {}
        by_kind = {
            kind: [i for i, o in known.items() if o.kind == kind]
            for kind in (ORGANIZATION, LOCATION)
        }
        for organization in Organization.objects.filter(id__in=by_kind[ORGANIZATION]):
            now[str(organization.id)] = organization_export(organization)
        for location in Location.objects.filter(id__in=by_kind[LOCATION]).prefetch_related(
            *LOCATION_PARTS
        ):
            now[str(location.id)] = location_export(location)
        edited = {i for i, o in known.items() if i in now and object_hash(now[i]) != o.written_hash}
        for index, p in enumerate(pending):
            flagged = set()
            for object_id in edited & set(p.shared):
                kind, incoming = p.shared[object_id]
                if kind == ORGANIZATION:
                    p.document["organization"] = now[object_id]
                    field_name = "organization"
                else:
                    for place in p.document.get("service_at_locations") or []:
                        if str((place.get("location") or {}).get("id", "")) == object_id:
                            place["location"] = now[object_id]
                    field_name = "service_at_locations"
                row = known[object_id]
                if row.changed_at_source or object_hash(incoming) != row.source_hash:
                    row.changed_at_source = True
                    flagged.add(field_name)
            if flagged:
                before = reviews.get(index, p.record.review_fields if p.record else [])
                reviews[index] = sorted(set(before) | flagged)
        changed = {i for i in edited if known[i].changed_at_source}
        return _SharedKept(known=known, kept=edited, changed=changed)

    def _objects_save(
        self,
        pending: list[_Pending],
        exports: dict[uuid.UUID, dict[str, Any]],
        shared: _SharedKept,
    ) -> None:
        """What the harvest wrote of each shared object, and what the source sent."""
        written: dict[str, dict[str, Any]] = {}
        for export in exports.values():
            for object_id, (_kind, value) in shared_objects(export).items():
                written[object_id] = value
        # Each object once, as the last service naming it sent it (an organisation is
        # named by each of its services).
        latest: dict[str, tuple[str, dict[str, Any]]] = {}
        for p in pending:
            for object_id, sent in p.shared.items():
                if object_id in written:
                    latest[object_id] = sent
        rows: dict[str, HarvestedObject] = {}
        new: dict[str, dict[str, Any]] = {}
        for object_id, (kind, incoming) in latest.items():
            written_hash = (
                shared.known[object_id].written_hash
                if object_id in shared.kept
                else object_hash(written[object_id])
            )
            values = {
                "object_id": uuid.UUID(object_id),
                "kind": kind,
                "written_hash": written_hash,
                "source_hash": object_hash(incoming),
                "changed_at_source": object_id in shared.changed,
            }
            if object_id in shared.known:
                rows[object_id] = HarvestedObject(source=self.source, **values)
            else:
                new[object_id] = {"source_id": self.source.id, **values}
        # Objects met for the first time are inserted; the others' rows are updated.
        values_insert(HarvestedObject, list(new.values()))
        HarvestedObject.objects.bulk_create(
            list(rows.values()),
            update_conflicts=True,
            unique_fields=["source", "object_id"],
            update_fields=["kind", "written_hash", "source_hash", "changed_at_source"],
        )

    def _records_save(
        self,
        pending: list[_Pending],
        written: dict[int, str],
        reviews: dict[int, list[str]],
        shared: _SharedKept,
        exports: dict[uuid.UUID, dict[str, Any]],
    ) -> None:
        """What was written of each record (`exports`: each service as it now is, given
        by the importer), the baseline of the next runs' comparisons."""
        self._objects_save(
            [p for index, p in enumerate(pending) if index in written], exports, shared
        )
        provenance: list[ServiceProvenance] = []
        records: list[HarvestedRecord] = []
        # Rows of records and services met for the first time: inserted (the others'
        # rows are updated, in one statement each).
        new_records: list[dict[str, Any]] = []
        new_provenance: list[dict[str, Any]] = []
        for index, p in enumerate(pending):
            action = written.get(index)
            if action is None:
                continue
            service_id = uuid.UUID(p.document["id"])
            review = reviews.get(index, p.record.review_fields if p.record else [])
            if p.record is not None and set(review) - set(p.record.review_fields):
                self.run_.kept_local += 1
            if action == "unchanged" and p.record is not None and not p.record.active:
                action = "updated"  # back in the source: active again below
            setattr(self.run_, action, getattr(self.run_, action) + 1)
            source_hashes = p.source_hashes
            written_hashes = field_hashes(exports[service_id])
            if p.record is not None:
                # A field kept from Tisser stays Tisser's: it still differs from what the
                # harvest last wrote, at this run and the next ones.
                for name in p.kept:
                    if name in p.record.written_hashes:
                        written_hashes[name] = p.record.written_hashes[name]
            values = {
                "service_id": service_id,
                "content_hash": p.digest,
                "source_modified": p.entry.modified,
                "source_hashes": source_hashes,
                "written_hashes": written_hashes,
                "review_fields": review,
                "active": True,
                "seen_at": self.now,
            }
            if p.record is None:
                new_records.append(
                    {"source_id": self.source.id, "record_id": p.entry.record_id, **values}
                )
            else:
                records.append(
                    HarvestedRecord(source=self.source, record_id=p.entry.record_id, **values)
                )
            origin = {
                "service_id": service_id,
                "source_name": self.source.name,
                "source_label": self.source.shown_label,
                "record_id": p.entry.record_id,
                "record_url": p.entry.url[:1000] if is_url(p.entry.url) else "",
                "fetched_at": self.now,
                "source_modified": _moment(p.entry.modified),
            }
            if action == "created":
                new_provenance.append(origin)
            else:
                provenance.append(ServiceProvenance(**origin))
        values_insert(HarvestedRecord, new_records)
        values_insert(ServiceProvenance, new_provenance)
        HarvestedRecord.objects.bulk_create(
            records,
            update_conflicts=True,
            unique_fields=["source", "record_id"],
            update_fields=[
                "service",
                "content_hash",
                "source_modified",
                "source_hashes",
                "written_hashes",
                "review_fields",
                "active",
                "seen_at",
            ],
        )
        ServiceProvenance.objects.bulk_create(
            provenance,
            update_conflicts=True,
            unique_fields=["service"],
            update_fields=[
                "source_name",
                "source_label",
                "record_id",
                "record_url",
                "fetched_at",
                "source_modified",
            ],
        )

    # Leavers and the unchanged ----------------------------------------------------

    def _leavers(self) -> None:
        gone = [r for rid, r in self.known.items() if r.active and rid not in self.seen]
        if not gone:
            return
        if not self.seen:
            raise SourceFailed(
                f"the source listed no service, but {len(gone)} harvested from it are "
                "active: nothing was deactivated (a broken feed?)"
            )
        with transaction.atomic():
            ids = [r.service_id for r in gone]
            closing = list(
                Service.objects.filter(id__in=ids)
                .exclude(status=Service.Status.INACTIVE)
                .values_list("id", flat=True)
            )
            Service.objects.filter(id__in=closing).update(
                status=Service.Status.INACTIVE, last_modified=self.now
            )
            # Inactive by the harvest's doing: not an edit made in Tisser, so a service
            # that comes back is active again (one closed in Tisser stays closed).
            closed_here = field_hashes({"status": Service.Status.INACTIVE.value})["status"]
            for record in gone:
                record.active = False
                if record.service_id in set(closing):
                    record.written_hashes = {**record.written_hashes, "status": closed_here}
            HarvestedRecord.objects.bulk_update(gone, ["active", "written_hashes"])
            events_record(
                [
                    EventDraft(
                        type="service.closed",
                        aggregate_type="service",
                        aggregate_id=service_id,
                        payload={"status": "inactive", "reason": "left-source"},
                    )
                    for service_id in sorted(closing)
                ]
            )
        self.run_.deactivated = len(gone)

    def _seen_mark(self) -> None:
        """What the source still lists was seen now, changed or not (one statement each;
        the rows this run wrote already say so, and are left alone: on PostgreSQL an
        update writes the whole row again, hashes and all)."""
        HarvestedRecord.objects.filter(source=self.source, active=True).exclude(
            seen_at=self.now
        ).update(seen_at=self.now)
        ServiceProvenance.objects.filter(
            service_id__in=HarvestedRecord.objects.filter(source=self.source, active=True).values(
                "service_id"
            )
        ).exclude(fetched_at=self.now).update(fetched_at=self.now)


_MISSING = "-"


def _moment(text: str) -> datetime | None:
    """The source's last-modified as a moment: a date alone, or a time without a zone,
    is read as UTC (data·inclusion's `date_maj` is a date; HSDS asks for a zone)."""
    if not text:
        return None
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            if day is None:
                return None
            moment = datetime(day.year, day.month, day.day)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if timezone.is_naive(moment) else moment
