"""`tisser crosswalk`: map other directories' taxonomy terms to Tisser's codes.

    tisser crosswalk unmapped                 terms services carry that nothing maps
    tisser crosswalk add TAXONOMY CODE TISSER_CODE [TISSER_CODE ...]
    tisser crosswalk ignore TAXONOMY CODE     no correspondence, on purpose
    tisser crosswalk remove TAXONOMY CODE
    tisser crosswalk list                     every mapping, automatic ones included
    tisser crosswalk import FILE.csv          taxonomy,code,tisser_codes,label
    tisser crosswalk export                   the same CSV, on standard output

TAXONOMY is the other taxonomy's URI or name as its files give it ("" when they name
none). A change applies at once to the services already imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from community_catalog.crosswalks import (
    CrosswalkIn,
    cell_safe,
    code_suggestions,
    crosswalk_remove,
    crosswalk_set,
    crosswalks_csv,
    crosswalks_csv_read,
    crosswalks_import,
    mappings_list,
    unmapped_terms,
)
from core.errors import Problem


class Command(BaseCommand):
    help = "Map the terms of other directories' taxonomies to Tisser's codes (crosswalks)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        unmapped = actions.add_parser(
            "unmapped",
            help="Print each term services carry that nothing maps, one a line: taxonomy, "
            "code, label, active services (tab-separated).",
        )
        unmapped.add_argument(
            "--suggest", action="store_true", help="Add up to three suggested Tisser codes."
        )
        add = actions.add_parser("add", help="Map a term to one or more Tisser codes.")
        add.add_argument("taxonomy")
        add.add_argument("code")
        add.add_argument("tisser_codes", nargs="+", metavar="TISSER_CODE")
        add.add_argument("--label", default="", help="The term's label, for the record.")
        ignore = actions.add_parser(
            "ignore", help="Say a term has no correspondence (it is no longer listed)."
        )
        ignore.add_argument("taxonomy")
        ignore.add_argument("code")
        remove = actions.add_parser("remove", help="Remove a term's mapping.")
        remove.add_argument("taxonomy")
        remove.add_argument("code")
        actions.add_parser("list", help="Every mapping, automatic ones included.")
        load = actions.add_parser("import", help="Set the mappings of a CSV file, all or none.")
        load.add_argument("file", type=Path)
        actions.add_parser("export", help="The crosswalk rows as CSV, on standard output.")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            getattr(self, f"_{action}")(**options)
        except Problem as problem:
            for field in problem.fields:
                self.stderr.write(f"{field.field}: {field.message}")
            raise CommandError(problem.message) from None

    def _unmapped(self, *, suggest: bool, **options: Any) -> None:
        for term in unmapped_terms():
            columns = [term.taxonomy, term.code, term.label, str(term.services)]
            if suggest:
                columns.append(" ".join(code_suggestions(term.label, term.code)))
            self.stdout.write("\t".join(_cell(c) for c in columns))

    def _add(
        self, *, taxonomy: str, code: str, tisser_codes: list[str], label: str, **o: Any
    ) -> None:
        done = crosswalk_set(CrosswalkIn(taxonomy, code, tuple(tisser_codes), label))
        self.stdout.write(
            f"{done.outcome}: {taxonomy or '(no taxonomy)'} {code} → {' '.join(tisser_codes)}"
            f" ({done.services} service(s) updated)"
        )

    def _ignore(self, *, taxonomy: str, code: str, **options: Any) -> None:
        done = crosswalk_set(CrosswalkIn(taxonomy, code, ()))
        self.stdout.write(
            f"{done.outcome}: {taxonomy or '(no taxonomy)'} {code} → no correspondence"
            f" ({done.services} service(s) updated)"
        )

    def _remove(self, *, taxonomy: str, code: str, **options: Any) -> None:
        crosswalk_remove(taxonomy=taxonomy, code=code)
        self.stdout.write(f"removed: {taxonomy or '(no taxonomy)'} {code}")

    def _list(self, **options: Any) -> None:
        for row in mappings_list():
            codes = " ".join(row.tisser_codes) or "(none)"
            kind = "automatic" if row.automatic else "crosswalk"
            columns = [row.taxonomy, row.code, codes, row.label, kind, str(row.services)]
            self.stdout.write("\t".join(_cell(c) for c in columns))

    def _import(self, *, file: Path, **options: Any) -> None:
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        result = crosswalks_import(crosswalks_csv_read(text))
        self.stdout.write(
            f"{result.created} created, {result.updated} updated, {result.unchanged} "
            f"unchanged; {result.services} service(s) updated"
        )

    def _export(self, **options: Any) -> None:
        self.stdout.write(crosswalks_csv(), ending="")


def _cell(value: str) -> str:
    """One line per term, whatever a directory put in its labels, and no cell a
    spreadsheet would run as a formula."""
    return cell_safe(" ".join(value.split()))
