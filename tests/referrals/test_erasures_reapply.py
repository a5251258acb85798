"""`tisser erasures-reapply`: after a restore, the database is the backup's, and whoever
was erased since is back in it; the erasure ledger names them, and the command erases
each of them again, as they were erased the first time."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from events.models import Event
from referrals.erasure_ledger import HEADER
from referrals.models import Placement, Referral, WellbeingMeasure
from tests.conftest import ApiClient, organization_key, referral_matched, referral_slipped

URL = "/api/v1/referrals"
PERSONAL_EMPTY = {"patient_ref": "", "first_name": "", "clinical_reason": "", "latitude": None}


@pytest.fixture
def ledger(settings: Any, tmp_path: Path) -> Path:
    path = tmp_path / "erasures" / "ledger.csv"
    path.parent.mkdir()
    settings.TISSER_ERASURE_LEDGER = path
    return path


def _ledger_write(path: Path, *lines: tuple[datetime, str, Any]) -> None:
    body = "".join(f"{at.isoformat()},{kind},{referral_id}\n" for at, kind, referral_id in lines)
    path.write_text(HEADER + "\n" + body)


def _reapply(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("erasures_reapply", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _personal(referral: Referral) -> dict[str, Any]:
    referral.refresh_from_db()
    return {name: getattr(referral, name) for name in PERSONAL_EMPTY}


@pytest.mark.django_db
def test_it_withdraws_again_a_consent_the_restore_brought_back(
    api: ApiClient,
    catalog: int,
    media: Path,
    ledger: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # As the backup held it: an offer accepted, the person's answers, the printed slip.
    referral = referral_slipped(api)
    slip = Path(settings.MEDIA_ROOT) / (referral.slip.file.name or "")
    assert slip.exists()
    first = referral.placements.order_by("match__rank").first()
    assert first is not None
    assert (
        organization_key(first.organization)
        .post(f"/api/v1/inbox/placements/{first.id}/accept", {})
        .status_code
        == 200
    )
    WellbeingMeasure.objects.create(
        referral=referral,
        timepoint="baseline",
        life_satisfaction=4,
        worthwhile=5,
        happiness=3,
        anxiety=6,
        recorded_by="health_center",
    )
    # What the ledger says happened after the backup.
    withdrawn_at = timezone.now() - timedelta(days=2)
    _ledger_write(ledger, (withdrawn_at, "consent_withdrawn", referral.id))

    with django_capture_on_commit_callbacks(execute=True):
        out, err = _reapply()

    assert "erased again: 1 (consent withdrawn: 1, retention: 0, contact details: 0)" in out, out
    assert err == ""
    referral.refresh_from_db()
    assert referral.status == Referral.Status.REVOKED
    assert referral.consent_given is False
    assert referral.consent_withdrawn_at == withdrawn_at  # when the person withdrew it
    assert referral.closed_at == withdrawn_at
    assert referral.purged_at == withdrawn_at
    assert _personal(referral) == PERSONAL_EMPTY
    assert set(referral.placements.values_list("status", flat=True)) == {"cancelled"}
    assert not WellbeingMeasure.objects.filter(referral=referral).exists()
    assert not slip.exists()
    assert Event.objects.filter(aggregate_id=referral.id, type="referral.consent_withdrawn")

    # Run again (another restore, or twice by mistake): nothing more happens.
    events = Event.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        again, _ = _reapply()
    assert "erased again: 0" in again
    assert "already erased: 1" in again
    assert Event.objects.count() == events


@pytest.mark.django_db
def test_it_purges_again_a_referral_the_retention_had_purged(
    api: ApiClient, catalog: int, media: Path, ledger: Path
) -> None:
    referral = referral_matched(api)
    assert api.post(f"{URL}/{referral.id}/cancel", {}).status_code == 200
    referral.refresh_from_db()
    closed_at = referral.closed_at
    purged_at = timezone.now() - timedelta(hours=5)
    _ledger_write(ledger, (purged_at, "retention", referral.id))

    out, _ = _reapply()

    assert "erased again: 1 (consent withdrawn: 0, retention: 1, contact details: 0)" in out, out
    referral.refresh_from_db()
    assert referral.purged_at == purged_at
    assert _personal(referral) == PERSONAL_EMPTY
    # A retention purge withdraws no consent and keeps what it kept.
    assert referral.consent_withdrawn_at is None
    assert referral.status == Referral.Status.REVOKED
    assert referral.closed_at == closed_at
    assert Event.objects.filter(aggregate_id=referral.id, type="referral.purged")


@pytest.mark.django_db
def test_it_skips_what_it_cannot_read_or_find_and_says_so(
    api: ApiClient, catalog: int, media: Path, ledger: Path
) -> None:
    kept = referral_matched(api, patient_ref="pt-kept")
    erased = referral_matched(api, patient_ref="pt-erased")
    now = timezone.now()
    _ledger_write(
        ledger,
        (now, "retention", erased.id),
        (now, "retention", "4d1c0e2a-0000-4000-8000-00000000dead"),  # filed after the backup
    )
    with ledger.open("a") as file:
        file.write("2025-01-01T00:00:00+00:00,retention,4d1c\n")  # cut short by a crash

    out, err = _reapply()

    assert "2 referral(s) in the ledger" in out
    assert "erased again: 1" in out
    assert "not in this database: 1" in out
    assert f"1 line(s) of {ledger} could not be read: line 4" in err
    assert _personal(erased) == PERSONAL_EMPTY
    assert _personal(kept)["patient_ref"] == "pt-kept"
    assert Placement.objects.filter(referral=kept).exists()


@pytest.mark.django_db
def test_a_copy_of_the_ledger_kept_with_a_backup_is_read_too(
    api: ApiClient, catalog: int, media: Path, ledger: Path, tmp_path: Path
) -> None:
    # A new server: its own ledger is empty; the newest backup's copy names the referral.
    referral = referral_matched(api)
    copy = tmp_path / "tisser-20250101T030000Z.erasures.csv"
    _ledger_write(copy, (timezone.now(), "consent_withdrawn", referral.id))

    out, _ = _reapply("--ledger", str(copy))

    assert "erased again: 1" in out
    assert _personal(referral) == PERSONAL_EMPTY
    with pytest.raises(CommandError, match=r"missing\.csv"):
        _reapply("--ledger", str(tmp_path / "missing.csv"))


@pytest.mark.django_db
def test_without_a_ledger_there_is_nothing_to_reapply(
    api: ApiClient, catalog: int, ledger: Path
) -> None:
    referral = referral_matched(api)

    out, _ = _reapply()

    assert f"no erasure recorded yet: {ledger} does not exist" in out
    assert _personal(referral)["first_name"] != ""


@pytest.mark.django_db
def test_it_erases_again_contact_details_the_restore_brought_back(
    api: ApiClient,
    catalog: int,
    media: Path,
    ledger: Path,
    client: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Issue 25: a person who stopped the messages, and one whose consent to messages
    the centre withdrew, stay erased after a restore from a backup taken before."""
    from referrals.models import Contact

    consent = {"given": True, "method": "verbal", "at": timezone.now().isoformat()}
    stopped = referral_slipped(api, contact={"email": "a@example.org", "messages_consent": consent})
    withdrawn = referral_slipped(
        api, contact={"phone": "+33612345678", "messages_consent": consent}
    )
    # The backup, as it was before.
    before = {c.referral_id: c for c in Contact.objects.all()}
    token = before[stopped.id].page_token
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/p/{token}/stop").status_code == 303
        assert api.post(f"{URL}/{withdrawn.id}/contact/withdraw", {}).status_code == 200
    lines = ledger.read_text().splitlines()
    assert lines[0] == HEADER
    assert sorted(line.split(",")[1] for line in lines[1:]) == [
        "contact_withdrawn",
        "messages_stopped",
    ]
    # The restore: the contacts come back as the backup held them.
    for contact in before.values():
        contact.save()
    assert Contact.objects.get(referral=stopped).email == "a@example.org"

    with django_capture_on_commit_callbacks(execute=True):
        out, _err = _reapply()

    assert "erased again: 2 (consent withdrawn: 0, retention: 0, contact details: 2)" in out, out
    first = Contact.objects.get(referral=stopped)
    assert (first.email, first.stopped_at is not None, first.page_revoked_at) == ("", True, None)
    second = Contact.objects.get(referral=withdrawn)
    assert (second.phone, second.messages_consent) == ("", False)
    assert second.page_revoked_at is not None
    # Again: nothing more.
    out, _err = _reapply()
    assert "erased again: 0" in out
