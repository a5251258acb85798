"""The taxonomy Tisser seeds: needs people have, and kinds of collective activity.

Codes are stable identifiers that clients send (`needs: ["isolation"]`); never rename one,
add a new code instead. Labels are French first, then English.
"""

from __future__ import annotations

from typing import NamedTuple


class Term(NamedTuple):
    code: str
    kind: str
    parent: str | None
    name: str
    name_en: str


TAXONOMY_VERSION = "2026.1"

TAXONOMY: tuple[Term, ...] = (
    Term("needs", "need", None, "Besoins", "Needs"),
    Term("isolation", "need", "needs", "Isolement", "Loneliness and isolation"),
    Term("food-insecurity", "need", "needs", "Précarité alimentaire", "Food insecurity"),
    Term("low-mood", "need", "needs", "Moral bas, stress", "Low mood and stress"),
    Term("inactivity", "need", "needs", "Manque d'activité physique", "Physical inactivity"),
    Term("caring-burden", "need", "needs", "Épuisement d'aidant", "Caring burden"),
    Term("new-to-area", "need", "needs", "Nouvel arrivant", "New to the area"),
    Term("digital-exclusion", "need", "needs", "Difficultés numériques", "Digital exclusion"),
    Term("activities", "activity", None, "Activités", "Activities"),
    Term(
        "cooking-workshop",
        "activity",
        "activities",
        "Atelier cuisine collective",
        "Collective cooking workshop",
    ),
    Term("talk-group", "activity", "activities", "Groupe de parole", "Talk group"),
    Term("peer-support", "activity", "activities", "Binôme d'entraide", "Peer-support pair"),
    Term("mentoring", "activity", "activities", "Parrainage, mentorat", "Mentoring"),
    Term(
        "co-development",
        "activity",
        "activities",
        "Groupe de codéveloppement",
        "Co-development group",
    ),
    Term("learning-circle", "activity", "activities", "Cercle d'apprentissage", "Learning circle"),
    Term(
        "collective-reading",
        "activity",
        "learning-circle",
        "Lecture collective",
        "Collective reading",
    ),
    Term("physical-activity", "activity", "activities", "Activité physique", "Physical activity"),
    Term("walking-group", "activity", "physical-activity", "Groupe de marche", "Walking group"),
    Term("creative", "activity", "activities", "Activité créative", "Creative activity"),
    Term("gardening", "activity", "activities", "Jardinage, nature", "Gardening and nature"),
    Term("digital-inclusion", "activity", "activities", "Inclusion numérique", "Digital inclusion"),
    Term("volunteering", "activity", "activities", "Bénévolat", "Volunteering"),
)


# Which kinds of activity answer each need: how a need reaches activities through the
# tree (matching also takes every code below these). A service may also be tagged with
# a need directly. Grounded in what social-prescribing link workers propose most for
# each need; an operator's change here changes matching, not stored data.
NEED_ACTIVITIES: dict[str, tuple[str, ...]] = {
    "isolation": (
        "talk-group",
        "peer-support",
        "cooking-workshop",
        "walking-group",
        "creative",
        "gardening",
        "learning-circle",
        "volunteering",
    ),
    "food-insecurity": ("cooking-workshop", "gardening"),
    "low-mood": (
        "talk-group",
        "peer-support",
        "physical-activity",
        "creative",
        "gardening",
        "co-development",
    ),
    "inactivity": ("physical-activity", "gardening"),
    "caring-burden": ("talk-group", "peer-support", "co-development"),
    "new-to-area": ("mentoring", "volunteering", "learning-circle", "walking-group", "talk-group"),
    "digital-exclusion": ("digital-inclusion", "mentoring"),
}
