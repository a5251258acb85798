"""A health centre's batch of the day: the slips already stored, put one after the other
in one PDF on request (never rendered again there), with what a purge erased or a disk
lost left out, cheap to ask again, and a couple at a time per caller.

Slips are rendered for real by the worker's renderer; the batch is read back with pypdf.
"""

from __future__ import annotations

import io
from contextlib import ExitStack
from datetime import timedelta
from typing import Any, cast

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from pypdf import PdfReader

from accounts.keys import api_key_authenticate, api_key_create
from accounts.models import HealthCenter
from referrals.models import Referral
from referrals.retention import retention_purge
from slips.services import referral_slip_attach
from tests.conftest import ApiClient
from tests.conftest import referral_slipped as slipped
from tests.slips.test_slips import pdf_bytes

BATCH = "/api/v1/slips.pdf"


@pytest.fixture(autouse=True)
def _media(media: Any) -> None:
    """Slip files go to a folder of this test's own."""


def page_drawings(pdf: bytes) -> list[bytes]:
    """What each page draws (its content stream): the same bytes, the same page."""
    drawings = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        contents = page.get_contents()
        assert contents is not None
        drawings.append(contents.get_data())
    return drawings


def stored_pages(referrals: list[Referral]) -> list[bytes]:
    """The pages of these referrals' stored slips, one slip after the other."""
    return [page for referral in referrals for page in page_drawings(pdf_bytes(referral))]


def page_fonts(page: Any) -> set[str]:
    fonts = page["/Resources"]["/Font"]
    return {str(font.get_object()["/BaseFont"]) for font in fonts.values()}


def _number_tree(node: Any) -> dict[int, Any]:
    node = node.get_object()
    found = {}
    nums = node.get("/Nums", [])
    for i in range(0, len(nums), 2):
        found[int(nums[i])] = nums[i + 1]
    for kid in node.get("/Kids", []):
        found |= _number_tree(kid)
    return found


def test_the_batch_is_the_stored_slips_one_after_the_other(api: ApiClient, catalog: int) -> None:
    filed = [
        slipped(api, first_name="Anne", needs=["isolation"]),
        slipped(api, first_name="Chloé", needs=["isolation"], large_print=True),  # 3 pages
    ]
    # What a new render would print differently: the centre's name. The batch is the
    # slips the people were handed, not a new print of them.
    HealthCenter.objects.filter(id=filed[0].health_center_id).update(name="Centre renommé")

    response = api.get(BATCH)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert page_drawings(response.content) == stored_pages(filed)
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "Maison de santé Gerland" in text
    assert "Bonjour Anne," in text
    # Still one accessible document: its language, its title, tagged, fonts embedded.
    reader = PdfReader(io.BytesIO(response.content))
    root: Any = reader.trailer["/Root"]
    assert root["/Lang"] == "fr"
    assert bool(root["/MarkInfo"]["/Marked"])
    assert reader.metadata is not None
    assert (reader.metadata.title or "").startswith("Fiches d'orientation du ")
    assert bool(root["/ViewerPreferences"]["/DisplayDocTitle"])
    assert b"pdfuaid:part" in root["/Metadata"].get_object().get_data()  # the slips' claim
    # Each slip's bookmarks (its greeting, its activities) lead to that slip's pages.
    outline: list[Any] = reader.outline
    greetings = [
        (str(item.title), reader.get_destination_page_number(item)) for item in outline[::2]
    ]
    assert greetings == [("Bonjour Anne,", 0), ("Bonjour Chloé,", 1)]
    assert {reader.get_destination_page_number(item) for item in outline[1]} == {0}
    assert {reader.get_destination_page_number(item) for item in outline[3]} <= {1, 2, 3}
    stored = [page for r in filed for page in PdfReader(io.BytesIO(pdf_bytes(r))).pages]
    for page, slip_page in zip(reader.pages, stored, strict=True):
        assert page_fonts(page) == page_fonts(slip_page)
        assert "Atkinson-Hyperlegible" in " ".join(page_fonts(page))
    # One tag tree: a Document holding each slip's article in its language, and each
    # page's marked content found through the parent tree on that very page.
    tree = root["/StructTreeRoot"]
    (document,) = tree["/K"]
    assert document.get_object().raw_get("/P").idnum == tree.indirect_reference.idnum
    articles = [element.get_object() for element in document.get_object()["/K"]]
    assert len(articles) >= len(filed)  # a slip over several pages may be several
    assert {(a["/S"], a["/Lang"]) for a in articles} == {("/Art", "fr")}
    assert {a.raw_get("/P").idnum for a in articles} == {document.idnum}
    parents = _number_tree(tree["/ParentTree"])
    keys = [cast(int, page["/StructParents"]) for page in reader.pages]
    assert len(set(keys)) == len(keys)
    for page, key in zip(reader.pages, keys, strict=True):
        elements = parents[key].get_object()
        assert elements
        assert page.indirect_reference is not None
        for element in elements:
            assert element.get_object().raw_get("/Pg").idnum == page.indirect_reference.idnum


def test_erased_or_missing_slips_are_left_out_and_named(
    api: ApiClient, catalog: int, settings: Any
) -> None:
    kept, purged, lost = (slipped(api, first_name=n) for n in ("Anne", "Bruno", "Chloé"))
    Referral.objects.filter(id=purged.id).update(
        status=Referral.Status.COMPLETED, closed_at=timezone.now()
    )
    retention_purge(now=timezone.now() + timedelta(days=settings.TISSER_RETENTION_DAYS + 1))
    default_storage.delete(str(lost.slip.file.name))  # a disk that lost a file
    kept_pdf = pdf_bytes(kept)
    default_storage.delete(str(kept.slip.file.name))

    nothing = api.get(BATCH)  # not one file left to print
    assert nothing.status_code == 404
    assert nothing.json()["error"]["code"] == "no_slips"
    assert nothing.json()["error"]["missing"] == [kept.code, lost.code]

    default_storage.save(str(kept.slip.file.name), ContentFile(kept_pdf))
    response = api.get(BATCH)

    assert response.status_code == 200
    assert page_drawings(response.content) == page_drawings(kept_pdf)
    assert response["X-Total-Count"] == "2"  # the purged one is not the day's any more
    assert response["X-Missing-Slips"] == lost.code


def test_a_repeated_call_is_answered_by_its_etag(api: ApiClient, catalog: int) -> None:
    referral = slipped(api, first_name="Anne")
    first = api.get(BATCH)
    assert first.status_code == 200
    assert "no-store" in first["Cache-Control"]  # personal data: nobody keeps a copy
    etag = first["ETag"]

    again = api.get(BATCH, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""

    # A new version of a slip of that day is a new batch.
    slip = referral.slip
    referral_slip_attach(
        referral_id=referral.id,
        event_id=(slip.event_id or 0) + 1,
        pdf=pdf_bytes(referral),
        language=slip.language,
        render_ms=1.0,
    )
    changed = api.get(BATCH, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_a_key_has_at_most_a_couple_of_batches_at_a_time(
    api: ApiClient, center: tuple[HealthCenter, str], catalog: int
) -> None:
    from slips.batch import BATCH_CONCURRENCY, batch_slot

    slipped(api, first_name="Anne")
    key = api_key_authenticate(center[1])
    assert key is not None
    with ExitStack() as held:
        for _ in range(BATCH_CONCURRENCY):  # the key's batches still being put together
            held.enter_context(batch_slot(f"key:{key.id}"))
        busy = api.get(BATCH)
        assert busy.status_code == 429
        assert busy.json()["error"]["code"] == "busy"
        assert int(busy["Retry-After"]) > 0
        # Another key of the same centre is not held back.
        other = ApiClient(api_key_create(health_center=center[0]))
        assert other.get(BATCH).status_code == 200
    assert api.get(BATCH).status_code == 200
