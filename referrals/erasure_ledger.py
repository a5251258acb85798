"""The erasure ledger: one line per erasure, in a file that a restore does not reach.

A restore puts the database back as it was when the backup was taken, so everyone
erased since (a consent withdrawn, a retention period ended) would be back in full.
Every erasure therefore also appends a line to TISSER_ERASURE_LEDGER (by default
TISSER_DATA_DIR/erasures/ledger.csv: outside the database and outside the slips' folder
that backups archive and a restore unpacks), and `tisser erasures-reapply`, run right
after a restore, erases again each referral it names (`referrals.erasure_reapply`).

A line is the erasure's time, its kind and the referral's id, nothing about the person:

    time,kind,referral
    2025-03-02T10:14:07.301245+00:00,consent_withdrawn,6f1c…

Lines are appended once the erasure has committed: a line written before the commit
would stay when the transaction rolls back, and a restore would then withdraw a consent
nobody withdrew. Each line is one `write` to a file opened with O_APPEND, under an
exclusive lock, then fsync'd, so several processes (web, workers) append whole lines.

If the line cannot be written (a full disk, a wrong path), the erasure still stands:
the person's data is gone from the live database either way, and refusing the erasure
would keep it there. The line is logged at CRITICAL, whole, to be appended by hand; until
it is, only a restore from an older backup would bring that person back. A process that
dies between the commit and the append loses its line the same way, without the log.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, cast, get_args

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from referrals.models import Referral

logger = logging.getLogger(__name__)

# The person stopped the messages, or withdrew their consent to them (the personal page
# closes too): their e-mail address and phone number are erased, the referral stays.
Kind = Literal["consent_withdrawn", "retention", "messages_stopped", "contact_withdrawn"]
KINDS: tuple[Kind, ...] = get_args(Kind)
HEADER = "time,kind,referral"


@dataclass(frozen=True)
class Erasure:
    at: datetime
    kind: Kind
    referral_id: uuid.UUID

    def line(self) -> str:
        return f"{self.at.isoformat()},{self.kind},{self.referral_id}"

    @classmethod
    def parse(cls, line: str) -> Erasure | None:
        """The erasure a line records; None for a line that is not one (a line cut short
        when the machine stopped mid-write)."""
        at, _, rest = line.partition(",")
        kind, _, referral_id = rest.partition(",")
        if kind not in KINDS:
            return None
        try:
            parsed = cls(datetime.fromisoformat(at), cast(Kind, kind), uuid.UUID(referral_id))
        except ValueError:
            return None
        return parsed if timezone.is_aware(parsed.at) else None


def erasure_record_on_commit(referral: Referral) -> None:
    """Append the erasure of `referral`, erased in the caller's transaction, once that
    transaction commits. A withdrawn consent and a retention purge are told apart by
    `consent_withdrawn_at`, set before the erasure when consent is withdrawn."""
    kind: Kind = "consent_withdrawn" if referral.consent_withdrawn_at else "retention"
    erasure = Erasure(at=referral.purged_at or timezone.now(), kind=kind, referral_id=referral.id)

    def append() -> None:
        erasure_append(erasure)

    # robust: whatever this one raises, the callbacks after it still run.
    transaction.on_commit(append, robust=True)


def contact_erasure_record_on_commit(referral_id: uuid.UUID, kind: Kind, at: datetime) -> None:
    """Append the erasure of a person's contact details (`messages_stopped`,
    `contact_withdrawn`) once the caller's transaction commits."""
    erasure = Erasure(at=at, kind=kind, referral_id=referral_id)
    transaction.on_commit(lambda: erasure_append(erasure), robust=True)


def erasure_append(erasure: Erasure, *, path: Path | None = None) -> bool:
    """Append `erasure` to the ledger; False, logged at CRITICAL with the line, when it
    cannot be written."""
    path = path or Path(settings.TISSER_ERASURE_LEDGER)
    try:
        _append(path, erasure.line())
    except OSError as exc:
        logger.critical(
            "erasure ledger: could not append to %s (%s). A restore from a backup older than "
            "now would bring this referral back: append this line to the ledger by hand: %s",
            path,
            exc,
            erasure.line(),
        )
        return False
    return True


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        # Released when the file is closed, however this process ends.
        fcntl.flock(fd, fcntl.LOCK_EX)
        status = os.fstat(fd)
        if status.st_mode & 0o077:
            with contextlib.suppress(OSError):  # another user's file: theirs to narrow
                os.fchmod(fd, 0o600)
        created = status.st_size == 0
        text = line + "\n"
        if created:
            text = HEADER + "\n" + text
        elif os.pread(fd, 1, status.st_size - 1) != b"\n":
            text = "\n" + text  # a line cut short: it must not swallow this one
        data = text.encode()
        if os.write(fd, data) != len(data):
            raise OSError(f"only part of the line was written to {path}")
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _directory_sync(path.parent)  # the new file's name survives a crash too


def _directory_sync(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ledger_read(path: Path) -> tuple[list[Erasure], list[int]]:
    """The erasures a ledger records, in its order, and the numbers of the lines that
    record none (the header and blank lines aside). Raises FileNotFoundError."""
    erasures: list[Erasure] = []
    unreadable: list[int] = []
    with path.open(encoding="utf-8", errors="replace") as file:
        for number, raw in enumerate(file, start=1):
            line = raw.strip()
            if not line or line == HEADER:
                continue
            erasure = Erasure.parse(line)
            if erasure is None:
                unreadable.append(number)
            else:
                erasures.append(erasure)
    return erasures, unreadable
