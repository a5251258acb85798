"""Figures the fault and fuzz suites measure, written as one JSON file at the end of the
session when TISSER_FIGURES_FILE names one (`tisser bench faults` reads it back).

Tests assert on what they measure; recording is only for the report.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

_figures: dict[str, Any] = {}
_lock = threading.Lock()


def record(**figures: Any) -> None:
    """Add figures; numbers recorded twice under one name are added up."""
    with _lock:
        for name, value in figures.items():
            previous = _figures.get(name)
            both_numbers = isinstance(value, int | float) and isinstance(previous, int | float)
            _figures[name] = previous + value if both_numbers else value


def write() -> None:
    target = os.environ.get("TISSER_FIGURES_FILE")
    if target and _figures:
        Path(target).write_text(json.dumps(_figures, sort_keys=True))
