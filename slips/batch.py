"""A health centre's slips of a day in one PDF, to print in one go: the slips already
stored, each as the person was handed it, put one after the other with pikepdf.

Nothing is rendered on the request. The batch used to be laid out anew by WeasyPrint as
one document: 100 slips took about 12 s of the request's thread, held the process's
renderer lock (every other render waited) and paused the garbage collector for the whole
web process meanwhile. Putting stored files together takes a fraction of that, and a
repeated call answers 304 from an ETag made of the slips' versions.

pikepdf (qpdf) rather than pypdf: 100 slips took pypdf about 7 s of the request's thread
and made a 6 MB file; qpdf copies the same objects in under a second and writes them
packed in compressed object streams, about a third of the size.

The result stays one accessible document: the slips' tag trees joined under one
Document (each slip's article marked with the slip's language, the pages' marked-content
keys renumbered), the catalogue's language, a title, each slip's bookmarks, and the
fonts each page carries. What changed from the WeasyPrint batch: each
slip keeps its own footer ("1 / 3" counts that slip's pages, not the pile's) and its own
issue date, and a slip shows the activities it was printed with, as the person has it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import uuid
from contextlib import AbstractContextManager, ExitStack, suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock

from cachetools import TTLCache
from django.http import HttpResponse
from django.utils import timezone
from pikepdf import (
    Array,
    Dictionary,
    Name,
    NumberTree,
    Object,
    ObjectStreamMode,
    Page,
    Pdf,
    PdfError,
    String,
)

from accounts.models import HealthCenter
from core.concurrency import concurrency_slot
from referrals.models import Referral
from slips.content import batch_title
from slips.models import Slip

logger = logging.getLogger(__name__)

# Past this many slips, a batch comes in parts (`offset`).
BATCH_MAX_SLIPS = 100
# Batches a caller (an API key, a signed-in person) may have being put together at once;
# one more is refused with 429 rather than queued on the server's threads.
BATCH_CONCURRENCY = 2
BATCH_RETRY_AFTER = 5  # seconds: a batch of 100 takes one or two
# Changes when the way a batch is put together changes, so that old ETags do not match.
_BATCH_FORMAT = "merged-2"


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The local day as an aware [start, end) interval."""
    start = timezone.make_aware(datetime.combine(day, clock.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), clock.min))


def day_slip_referrals(center: HealthCenter, day: date) -> list[Referral]:
    """The centre's referrals filed on `day` (local time) that have a slip to print, in
    the order they were filed, their slip selected. Cancelled ones are left out (there is
    nothing to hand over), and so are purged ones: their slip's file is erased."""
    start, end = day_bounds(day)
    return list(
        Referral.objects.filter(
            health_center=center,
            created_at__gte=start,
            created_at__lt=end,
            slip__isnull=False,
            purged_at__isnull=True,
        )
        .exclude(status=Referral.Status.REVOKED)
        .exclude(slip__file="")
        .select_related("health_center", "slip", "contact")
        .order_by("created_at", "code")
    )


def batch_etag(center: HealthCenter, day: date, referrals: list[Referral], *, total: int) -> str:
    """What names a batch: its day, its slips and their versions (a slip rendered again
    is a new version), and what the headers say (the day's total). Cheap: no file read."""
    title, _language = batch_title(day)
    digest = hashlib.sha256(f"{_BATCH_FORMAT}|{title}|{center.name}|{total}".encode())
    for referral in referrals:
        slip = referral.slip
        digest.update(f"|{slip.id}.{slip.version}.{slip.file.name}".encode())
    return f'"{digest.hexdigest()[:40]}"'


def batch_response(response: HttpResponse, etag: str) -> HttpResponse:
    """A batch names people: no cache on the way keeps a copy (`no-store`); the ETag
    lets the caller ask whether it changed."""
    response["ETag"] = etag
    response["Cache-Control"] = "no-store"
    return response


def batch_slot(caller: str) -> AbstractContextManager[None]:
    """One of the caller's few batches at a time (`core.concurrency`): `caller` is
    "key:<id>" for an API key, "user:<id>" for a signed-in person."""
    return concurrency_slot(
        f"slip-batch:{caller}", limit=BATCH_CONCURRENCY, retry_after=BATCH_RETRY_AFTER
    )


@dataclass(frozen=True)
class Batch:
    pdf: bytes | None  # None when no slip's file could be read
    printed: list[uuid.UUID]  # the referrals whose slips it holds (for the audit log)
    missing: list[str]  # codes of the referrals whose slip's file could not be read


# The batches put together lately in this process, by ETag: a second click is answered
# from memory (a browser keeps no copy of a `no-store` answer to ask with its ETag). Few
# and short-lived, bounded in bytes: they name people.
_recent: TTLCache[str, Batch] = TTLCache(
    maxsize=32 * 1024 * 1024, ttl=300, getsizeof=lambda batch: len(batch.pdf or b"") or 1
)
_recent_lock = threading.Lock()


def batch_get(
    center: HealthCenter, day: date, referrals: list[Referral], *, etag: str, caller: str
) -> Batch:
    """The batch named `etag`: one put together lately, or put together now in one of
    the caller's slots (`batch_slot`; `core.concurrency.Busy` when all are taken)."""
    key = f"{center.id}|{etag}"
    with _recent_lock:
        batch = _recent.get(key)
    if batch is None:
        with batch_slot(caller):
            batch = batch_pdf(center, day, referrals)
        if batch.pdf is not None:
            with _recent_lock, suppress(ValueError):  # larger than all it keeps: not kept
                _recent[key] = batch
    return batch


def batch_pdf(center: HealthCenter, day: date, referrals: list[Referral]) -> Batch:
    """The stored slips of `referrals` as one PDF, in the order given. A slip whose file
    is gone or unreadable is left out and named in `missing`."""
    printed, missing = [], []
    with ExitStack() as opened:  # closed once the batch is written (`slips_merge`)
        slips = []
        for referral in referrals:
            slip = _stored(referral.slip)
            if slip is None:
                missing.append(referral.code)
            else:
                slips.append(opened.enter_context(slip))
                printed.append(referral.id)
        if not slips:
            return Batch(None, printed, missing)
        title, language = batch_title(day)
        pdf = slips_merge(slips, title=title, author=center.name, language=language)
    return Batch(pdf, printed, missing)


def _stored(slip: Slip) -> Pdf | None:
    """The slip's file, opened; None when it is gone, unreadable or without a page."""
    try:
        with slip.file.open("rb") as file:
            pdf = Pdf.open(io.BytesIO(file.read()))
    except (OSError, PdfError) as error:
        logger.warning("slip %s: file %r unreadable: %s", slip.id, slip.file.name, error)
        return None
    if len(pdf.pages):
        return pdf
    pdf.close()
    return None


def slips_merge(slips: list[Pdf], *, title: str, author: str, language: str) -> bytes:
    """Slip PDFs one after the other in one tagged document. The slips must stay open
    until the end: qpdf copies their streams (page contents, fonts) only as it writes."""
    batch = Pdf.new()
    tags = _TagTree(batch)
    for slip in slips:
        offset, first_page = tags.next_key, len(batch.pages)
        # Also brings the slip's bookmarks, pointing at the copies of its pages.
        batch.add_pages_from(slip)
        for page in batch.pages[first_page:]:
            _keys_move(page, offset)
        tags.join(slip, offset)
    _document_describe(batch, tags, title=title, author=author, language=language)
    out = io.BytesIO()
    batch.save(
        out,
        # The slips' own version (PDF/UA-1 is on PDF 1.7), not qpdf's 1.3 of a new file.
        min_version=max(slip.pdf_version for slip in slips),
        # Each slip's dictionaries (tags, fonts, annotations) packed and compressed
        # together: most of the bytes saved over one object after the other.
        object_stream_mode=ObjectStreamMode.generate,
        # The same slips, the same bytes: the ETag (`batch_etag`) is a strong one.
        deterministic_id=True,
    )
    return out.getvalue()


def _keys_move(page: Page, offset: int) -> None:
    """Move the page's marked-content keys (the page's and its link annotations') past
    those of the slips before it, as its slip's parent tree entries move (`_TagTree`)."""
    if Name.StructParents in page.obj:
        page.obj.StructParents = int(page.obj.StructParents) + offset
    for annotation in page.obj.get(Name.Annots, Array()):
        if Name.StructParent in annotation:
            annotation.StructParent = int(annotation.StructParent) + offset


class _TagTree:
    """The slips' tag trees joined into one, as one document has: the first slip's root
    and Document element stay; every slip's own elements (an Art each) become that
    Document's children, marked with the slip's language; and each slip's parent tree
    entries move by the same offset as its pages' keys. What the other slips' roots and
    Documents held is left unreferenced, and qpdf writes only what is referenced."""

    def __init__(self, batch: Pdf) -> None:
        self.batch = batch
        self.root: Object | None = None
        self.document: Object | None = None
        self.parts: list[Object] = []  # under the Document
        self.tops: list[Object] = []  # under the root: the Document, any tree not shaped so
        self.parents: dict[int, Object] = {}
        self.next_key = 0

    def join(self, slip: Pdf, offset: int) -> None:
        """Add the tags of `slip`, whose pages were just added with keys moved by
        `offset`. Copied after its pages, the tags point at the copies of those pages:
        qpdf maps each source's objects to the copies it already made."""
        tree = slip.Root.get(Name.StructTreeRoot)
        if not isinstance(tree, Dictionary):
            return
        copy = self.batch.copy_foreign(tree)
        entries = NumberTree(copy.ParentTree) if Name.ParentTree in copy else {}
        self.parents |= {key + offset: value for key, value in entries.items()}
        next_key = copy.get(Name.ParentTreeNextKey, max(entries, default=-1) + 1)
        self.next_key = offset + int(next_key)
        if self.root is None:
            self.root = copy
        else:
            for key in (Name.RoleMap, Name.ClassMap):
                if isinstance(mapping := copy.get(key), Dictionary):
                    merged = self.root.get(key, Dictionary())
                    merged.update(mapping)  # same names, same meaning: one slip's wins
                    self.root[key] = merged
        language = slip.Root.get(Name.Lang)
        for top in _as_list(copy.get(Name.K)):
            self._place(top, None if language is None else str(language))

    def _place(self, top: Object, language: str | None) -> None:
        children = _as_list(top.get(Name.K))
        if top.get(Name.S) != Name.Document or not all(map(_is_element, children)):
            _language_mark(top, language)
            self.tops.append(top)
            return
        for child in children:
            _language_mark(child, language)
            self.parts.append(child)
        if self.document is None:
            self.document = top
            self.tops.insert(0, top)

    def finish(self) -> Object | None:
        """The joined tree's root, each element under its new parent, the keys of all
        slips in one parent tree."""
        if self.root is None:
            return None
        for parent, kids in ((self.root, self.tops), (self.document, self.parts)):
            if parent is None:
                continue
            for kid in kids:
                kid.P = parent  # an indirect object: stored as a reference to it
            parent.K = Array(kids)
        parent_tree = NumberTree.new(self.batch)
        for key, value in self.parents.items():
            parent_tree[key] = value
        self.root.ParentTree = parent_tree.obj
        self.root.ParentTreeNextKey = self.next_key
        return self.root


def _as_list(value: Object | None) -> list[Object]:
    if value is None:
        return []
    return list(value) if isinstance(value, Array) else [value]


def _is_element(kid: Object) -> bool:
    """A structure element (not marked content, not an object reference)."""
    return isinstance(kid, Dictionary) and Name.S in kid


def _language_mark(element: Object, language: str | None) -> None:
    if language and Name.Lang not in element:
        element.Lang = String(language)


def _document_describe(
    batch: Pdf, tags: _TagTree, *, title: str, author: str, language: str
) -> None:
    """What a reader (a person, a screen reader) learns of the whole: its language, its
    title shown in place of the file's name, its tags, and the same in XMP, with the
    PDF/UA claim the slips make (pikepdf keeps the document information in step)."""
    root = batch.Root
    root.Lang = String(language)
    root.ViewerPreferences = Dictionary(DisplayDocTitle=True)
    tree = tags.finish()
    if tree is not None:
        root.StructTreeRoot = tree
        root.MarkInfo = Dictionary(Marked=True)
    # No pikepdf mark: it would stamp the time, and the same slips would not give the
    # same bytes.
    with batch.open_metadata(set_pikepdf_as_editor=False) as xmp:
        xmp["dc:title"] = title
        xmp["dc:creator"] = [author]
        xmp["dc:language"] = {language}
        xmp["xmp:CreatorTool"] = "Tisser"
        xmp["pdfuaid:part"] = "1"
