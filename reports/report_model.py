"""What a report is made of: a scope, tables of columns and rows, and the rule that hides
small groups (fewer than MIN_CELL people)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

MIN_CELL = 5


SUPPRESSED = "< 5"


# A count of five or more hidden so that a suppressed one cannot be worked out from the
# others (the total minus the rest); explained under every table that has one.
HIDDEN = "*"


TOP_ACTIVITIES = 10


DEFAULT_WEEKS = 26


Cell = int | float | str | date | None


def people(count: int) -> int | str:
    """A count of people or placements as it may be shown: 0, or 5 and more."""
    return count if count == 0 or count >= MIN_CELL else SUPPRESSED


def enough(count: int) -> bool:
    return count >= MIN_CELL


@dataclass(frozen=True)
class Scope:
    """Whose data a report covers; neither id: the whole territory (an operator)."""

    health_center_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None

    @property
    def is_territory(self) -> bool:
        return self.health_center_id is None and self.organization_id is None


@dataclass(frozen=True)
class Column:
    key: str
    label: Any  # a lazy translation
    kind: str = "text"  # text, count, seconds, number, percent, date


@dataclass
class Table:
    name: str
    title: Any
    columns: list[Column]
    rows: list[dict[str, Cell]] = field(default_factory=list)
    note: Any = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "title": str(self.title),
            "note": str(self.note),
            "columns": [
                {"key": c.key, "label": str(c.label), "kind": c.kind} for c in self.columns
            ],
            "rows": [{k: _json_cell(v) for k, v in row.items()} for row in self.rows],
        }


def _json_cell(value: Cell) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass
class Report:
    scope: Scope
    scope_name: str
    start: date
    end: date
    tables: dict[str, Table]

    def as_json(self) -> dict[str, Any]:
        return {
            "scope": {
                "health_center_id": self.scope.health_center_id,
                "organization_id": self.scope.organization_id,
                "name": self.scope_name,
            },
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "min_cell": MIN_CELL,
            "suppressed": SUPPRESSED,
            "tables": {name: table.as_json() for name, table in self.tables.items()},
        }
