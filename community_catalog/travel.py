"""How long it takes to get somewhere, estimated from the straight-line distance.

Shown to patients ("12 min walk") and clinicians; rough on purpose: Tisser has no
street network or timetable, so the estimate says "about".
"""

from __future__ import annotations

from typing import Literal

WALKING_KM_PER_HOUR = 4.5
# Beyond a walk of this many minutes, people take public transport (or are driven).
WALK_LIMIT_MINUTES = 25
# Door-to-door speed of urban public transport, and the walk to the stop plus the wait.
TRANSIT_KM_PER_HOUR = 18.0
TRANSIT_OVERHEAD_MINUTES = 10


def travel(km: float) -> tuple[Literal["walk", "transit"], int]:
    """("walk" | "transit", minutes)."""
    walk = max(1, round(km / WALKING_KM_PER_HOUR * 60))
    if walk <= WALK_LIMIT_MINUTES:
        return "walk", walk
    return "transit", round(TRANSIT_OVERHEAD_MINUTES + km / TRANSIT_KM_PER_HOUR * 60)
