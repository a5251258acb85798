from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from referrals.erasure_reapply import erasures_reapply


class Command(BaseCommand):
    help = (
        "Run right after a restore: erase again every referral that the erasure ledger "
        "(TISSER_ERASURE_LEDGER) says was erased (consent withdrawn, retention purge) and "
        "that the restored database holds in full. Running it again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--ledger",
            action="append",
            default=[],
            type=Path,
            metavar="FILE",
            help=(
                "Read this ledger too, e.g. the copy backup.sh keeps beside each dump "
                "(tisser-<time>.erasures.csv) when the server's own ledger was lost with it."
            ),
        )

    def handle(self, *args: Any, ledger: list[Path], **options: Any) -> None:
        for path in ledger:
            if not path.is_file():
                raise CommandError(f"{path}: no such ledger.")
        own = Path(settings.TISSER_ERASURE_LEDGER)
        ledgers = [*([own] if own.is_file() else []), *ledger]
        if not own.is_file():
            self.stdout.write(f"erasures-reapply: no erasure recorded yet: {own} does not exist")
        if not ledgers:
            return
        report = erasures_reapply(ledgers=ledgers)
        for path, lines in report.unreadable.items():
            shown = ", ".join(str(n) for n in lines[:20]) + (", …" if len(lines) > 20 else "")
            self.stderr.write(
                f"erasures-reapply: {len(lines)} line(s) of {path} could not be read: "
                f"line {shown} (a line cut short when the machine stopped?)"
            )
        erased = report.erased
        self.stdout.write(
            f"erasures-reapply: {report.referrals} referral(s) in the ledger; "
            f"erased again: {sum(erased.values())} (consent withdrawn: "
            f"{erased['consent_withdrawn']}, retention: {erased['retention']}, contact details: "
            f"{erased['messages_stopped'] + erased['contact_withdrawn']}); "
            f"already erased: {report.already}; not in this database: {report.absent}"
        )
