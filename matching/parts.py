"""The parts of a candidate's score and what each is worth: shared by scoring and by the
reasons that explain it."""

from __future__ import annotations

PARTS = ("distance", "schedule", "language", "cost", "accessibility", "freshness", "capacity")
# A first session within this many days scores best; further away scores less.
SOON_DAYS = 28
# Within the schedule part: fitting the person's week matters more than being soon.
FIT_SHARE = 0.7

CAPACITY_SCORE = {"has-capacity": 1.0, "assessment-required": 0.7, "waitlist": 0.4}
INTERPRETATION_SCORE = 0.6
# Free first, then cost not stated (maybe free: the person asks), then paid.
COST_SCORE = {"free": 1.0, "not-stated": 0.6, "paid": 0.3}
PAID_SCORE = COST_SCORE["paid"]
STALE_SCORE = 0.3
UNKNOWN_SCHEDULE_FIT = 0.5

# Words in a place's accessibility description (HSDS has free text) that show it meets
# each need a referral can state, in French and English.
ACCESSIBILITY_WORDS: dict[str, tuple[str, ...]] = {
    "wheelchair": ("wheelchair", "fauteuil", "pmr"),
    "step-free": (
        "step-free",
        "step free",
        "plain-pied",
        "plain pied",
        "sans marche",
        "ascenseur",
        "lift",
        "elevator",
        "ramp",
        "rampe",
    ),
    "hearing-loop": ("hearing loop", "hearing-loop", "boucle magnétique", "boucle magnetique"),
    "sight-loss": ("braille", "large print", "gros caractères", "malvoyant", "visually impaired"),
    "quiet-space": ("quiet", "calme"),
    "accessible-toilet": (
        "accessible toilet",
        "toilettes accessibles",
        "toilettes adaptées",
        "wc pmr",
        "toilettes pmr",
    ),
}
