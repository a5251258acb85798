"""A health centre's slips of a day in one PDF, to print in one go: the slips already
stored, each as the person was handed it, put one after the other with pypdf.

Nothing is rendered on the request. The batch used to be laid out anew by WeasyPrint as
one document: 100 slips took about 12 s of the request's thread, held the process's
renderer lock (every other render waited) and paused the garbage collector for the whole
web process meanwhile. Putting stored files together takes a fraction of that, and a
repeated call answers 304 from an ETag made of the slips' versions.

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
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any, cast
from xml.sax.saxutils import escape

from cachetools import TTLCache
from django.http import HttpResponse
from django.utils import timezone
from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DictionaryObject,
    Fit,
    IndirectObject,
    NameObject,
    NumberObject,
    TextStringObject,
    TreeObject,
)

from config.concurrency import concurrency_slot
from referrals.models import HealthCenter, Referral, Slip
from workers.slip_content import batch_title

logger = logging.getLogger(__name__)

# Past this many slips, a batch comes in parts (`offset`).
BATCH_MAX_SLIPS = 100
# Batches a caller (an API key, a signed-in person) may have being put together at once;
# one more is refused with 429 rather than queued on the server's threads.
BATCH_CONCURRENCY = 2
BATCH_RETRY_AFTER = 5  # seconds: a batch of 100 takes one or two
# Changes when the way a batch is put together changes, so that old ETags do not match.
_BATCH_FORMAT = "merged-1"


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
        .select_related("health_center", "slip")
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
    """One of the caller's few batches at a time (`config.concurrency`): `caller` is
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
    the caller's slots (`batch_slot`; `config.concurrency.Busy` when all are taken)."""
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
    readers, printed, missing = [], [], []
    for referral in referrals:
        reader = _stored(referral.slip)
        if reader is None:
            missing.append(referral.code)
        else:
            readers.append(reader)
            printed.append(referral.id)
    if not readers:
        return Batch(None, printed, missing)
    title, language = batch_title(day)
    pdf = slips_merge(readers, title=title, author=center.name, language=language)
    return Batch(pdf, printed, missing)


def _stored(slip: Slip) -> PdfReader | None:
    try:
        with slip.file.open("rb") as file:
            reader = PdfReader(io.BytesIO(file.read()))
        if len(reader.pages):
            return reader
    except (OSError, PdfReadError) as error:
        logger.warning("slip %s: file %r unreadable: %s", slip.id, slip.file.name, error)
    return None


def slips_merge(readers: list[PdfReader], *, title: str, author: str, language: str) -> bytes:
    """Slip PDFs one after the other in one tagged document. The readers must all stay
    alive until the end: pypdf tells objects of different sources apart by the reader's
    identity."""
    writer = PdfWriter()
    tags = _TagTree(writer)
    outline_root = writer.get_outline_root()
    for reader in readers:
        offset = tags.next_key
        pages = [_page_add(writer, page, offset) for page in reader.pages]
        root = cast(DictionaryObject, reader.trailer["/Root"])
        tags.join(root.get("/StructTreeRoot"), offset, _entry(root, "/Lang"))
        _outline_copy(writer, reader, reader.outline, pages, outline_root)
    _document_describe(writer, tags, title=title, author=author, language=language)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _page_add(writer: PdfWriter, page: PageObject, offset: int) -> PageObject:
    """Add `page`, its marked-content keys (page and link annotations) moved past the
    slips before it."""
    added = writer.add_page(page)
    if "/StructParents" in page:
        key = cast(NumberObject, page["/StructParents"])
        added[NameObject("/StructParents")] = NumberObject(key + offset)
    for annotation in _entry(added, "/Annots") or []:
        annotation = annotation.get_object()
        if "/StructParent" in annotation:
            annotation[NameObject("/StructParent")] = NumberObject(
                int(annotation["/StructParent"]) + offset
            )
    return added


class _TagTree:
    """The slips' tag trees joined into one, as one document has: the first slip's root
    and Document element stay; every slip's own elements (an Art each) become that
    Document's children, marked with the slip's language; and each slip's parent tree
    entries move by the same offset as its pages' keys."""

    def __init__(self, writer: PdfWriter) -> None:
        self.writer = writer
        self.root: DictionaryObject | None = None
        self.document: DictionaryObject | None = None
        self.parts = ArrayObject()  # under the Document
        self.tops = ArrayObject()  # under the root: the Document, and any tree not shaped so
        self.parents: list[tuple[int, Any]] = []
        self.next_key = 0

    def join(self, tree: Any, offset: int, language: Any) -> None:
        if tree is None:
            return
        copy = cast(DictionaryObject, tree.get_object().clone(self.writer))
        entries = _number_tree(copy.get("/ParentTree"))
        self.parents += [(key + offset, value) for key, value in entries]
        next_key = copy.get("/ParentTreeNextKey", max((k for k, _ in entries), default=-1) + 1)
        self.next_key = offset + int(next_key)
        # The copy's parent tree is replaced by the joined one (`finish`): left empty.
        if isinstance(parent_tree := copy.get("/ParentTree"), IndirectObject):
            cast(DictionaryObject, parent_tree.get_object()).clear()
        if self.root is None:
            self.root = copy
        else:
            for key in ("/RoleMap", "/ClassMap"):
                if key in copy:
                    mapping = cast(DictionaryObject, self.root.setdefault(key, DictionaryObject()))
                    mapping.update(cast(DictionaryObject, copy[key].get_object()))
        for top in _as_list(_entry(copy, "/K")):
            self._place(top, language)
        if copy is not self.root:
            copy.clear()  # its elements now hang from the first root: this one is no one's

    def _place(self, top: Any, language: Any) -> None:
        element = top.get_object()
        children = _as_list(_entry(element, "/K"))
        if element.get("/S") != "/Document" or not all(_is_element(c) for c in children):
            _language_mark(element, language)
            self.tops.append(top)
            return
        for child in children:
            _language_mark(child.get_object(), language)
            self.parts.append(child)
        if self.document is None:
            self.document = element
            self.tops.insert(0, top)
        else:
            element.clear()  # its children now hang from the first Document

    def finish(self) -> IndirectObject | None:
        if self.root is None:
            return None
        for parent, kids in ((self.root, self.tops), (self.document, self.parts)):
            if parent is None:
                continue
            reference = parent.indirect_reference
            assert reference is not None
            for kid in kids:
                kid.get_object()[NameObject("/P")] = reference
            parent[NameObject("/K")] = kids
        nums = ArrayObject()
        for key, value in sorted(self.parents, key=lambda entry: entry[0]):
            nums += [NumberObject(key), value]
        self.root[NameObject("/ParentTree")] = DictionaryObject({NameObject("/Nums"): nums})
        self.root[NameObject("/ParentTreeNextKey")] = NumberObject(self.next_key)
        return self.root.indirect_reference


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, ArrayObject) else [value]


def _is_element(kid: Any) -> bool:
    """A structure element (not marked content, not an object reference)."""
    kid = kid.get_object()
    return isinstance(kid, DictionaryObject) and "/S" in kid


def _language_mark(element: DictionaryObject, language: Any) -> None:
    if language and "/Lang" not in element:
        element[NameObject("/Lang")] = TextStringObject(str(language))


def _entry(dictionary: DictionaryObject, key: str) -> Any:
    """`dictionary[key]`, an indirect object followed, or None."""
    value = dictionary.get(key)
    return None if value is None else value.get_object()


def _number_tree(node: Any) -> list[tuple[int, Any]]:
    """The (key, value) entries of a PDF number tree, leaves and intermediate nodes."""
    if node is None:
        return []
    node = node.get_object()
    nums = node.get("/Nums", ArrayObject())
    entries = [(int(nums[i]), nums[i + 1]) for i in range(0, len(nums) - 1, 2)]
    for kid in node.get("/Kids", ArrayObject()):
        entries += _number_tree(kid)
    return entries


def _outline_copy(
    writer: PdfWriter,
    reader: PdfReader,
    items: list[Any],
    pages: list[PageObject],
    parent: TreeObject | IndirectObject,
) -> None:
    """The slip's bookmarks (its heading and its activities), pointing at its pages."""
    last: IndirectObject | None = None
    for item in items:
        if isinstance(item, list):
            if last is not None:
                _outline_copy(writer, reader, item, pages, last)
            continue
        number = reader.get_destination_page_number(item)
        if number is None or not 0 <= number < len(pages):
            continue
        fit = Fit.xyz(item.left, item.top, item.zoom) if item.typ == "/XYZ" else Fit.fit()
        last = writer.add_outline_item(
            title=str(item.title), page_number=pages[number], parent=parent, fit=fit
        )


def _document_describe(
    writer: PdfWriter, tags: _TagTree, *, title: str, author: str, language: str
) -> None:
    """What a reader (a person, a screen reader) learns of the whole: its language, its
    title shown in place of the file's name, its tags, and the same in XMP (PDF/UA)."""
    root = writer.root_object
    root[NameObject("/Lang")] = TextStringObject(language)
    root[NameObject("/ViewerPreferences")] = DictionaryObject(
        {NameObject("/DisplayDocTitle"): BooleanObject(True)}
    )
    tree = tags.finish()
    if tree is not None:
        root[NameObject("/StructTreeRoot")] = tree
        root[NameObject("/MarkInfo")] = DictionaryObject(
            {NameObject("/Marked"): BooleanObject(True)}
        )
    writer.add_metadata({"/Title": title, "/Author": author, "/Creator": "Tisser"})
    writer.xmp_metadata = _XMP.format(
        title=escape(title), author=escape(author), language=escape(language)
    ).encode()
    metadata = cast(DictionaryObject, root["/Metadata"].get_object())
    metadata[NameObject("/Type")] = NameObject("/Metadata")
    metadata[NameObject("/Subtype")] = NameObject("/XML")


_XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
 pdfuaid:part="1" xmp:CreatorTool="Tisser">
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>
<dc:creator><rdf:Seq><rdf:li>{author}</rdf:li></rdf:Seq></dc:creator>
<dc:language><rdf:Bag><rdf:li>{language}</rdf:li></rdf:Bag></dc:language>
</rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>"""
