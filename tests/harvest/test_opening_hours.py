"""data·inclusion's `horaires_accueil`, OpenStreetMap's `opening_hours` syntax, as HSDS
schedules: what each source writes most, read as OpenStreetMap reads it."""

from __future__ import annotations

import pytest

from harvest.data_inclusion import opening_hours_schedules


def _read(text: str) -> list[tuple[str | None, ...]]:
    return [
        (s.get("freq"), s.get("byday"), s.get("opens_at"), s.get("closes_at"), s.get("notes"))
        for s in opening_hours_schedules(text, prefix="p")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A later rule replaces an earlier one for its days.
        ("Mo-Fr 09:00-17:00; We off", [("WEEKLY", "MO,TU,TH,FR", "09:00", "17:00", None)]),
        (
            "Mo-Fr 09:00-12:00; We 14:00-17:00",
            [
                ("WEEKLY", "MO,TU,TH,FR", "09:00", "12:00", None),
                ("WEEKLY", "WE", "14:00", "17:00", None),
            ],
        ),
        # A space after the comma, as people type it.
        (
            "Mo-Fr 08:30-12:30, 13:30-17:00",
            [
                ("WEEKLY", "MO,TU,WE,TH,FR", "08:30", "12:30", None),
                ("WEEKLY", "MO,TU,WE,TH,FR", "13:30", "17:00", None),
            ],
        ),
        # The first Tuesday of each month; public holidays kept in words.
        (
            "Tu[1] 18:00-20:00; PH off",
            [
                ("MONTHLY", "1TU", "18:00", "20:00", None),
                (None, None, None, None, "Horaires : PH off"),
            ],
        ),
        ("Sa 10:00-24:00", [("WEEKLY", "SA", "10:00", "23:59", None)]),
        # Nothing guessed from what is not read.
        ("sur rendez-vous", [(None, None, None, None, "Horaires : sur rendez-vous")]),
        ("Mo 18:00-09:00", [(None, None, None, None, "Horaires : Mo 18:00-09:00")]),
    ],
)
def test_each_rule_reads_as_openstreetmap_reads_it(
    text: str, expected: list[tuple[str | None, ...]]
) -> None:
    assert _read(text) == expected
