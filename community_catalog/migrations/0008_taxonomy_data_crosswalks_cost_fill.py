# Data for 0007: the needs answer the kinds of activity they did in code (frozen here),
# the shipped data·inclusion crosswalk is loaded, and each service's cost is decided
# from what it holds (an organisation that ticked "it costs nothing" declared it free).

import csv
from pathlib import Path

from django.db import migrations

NEED_ACTIVITIES = {
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
    "low-mood": ("talk-group", "peer-support", "physical-activity", "creative", "gardening", "co-development"),
    "inactivity": ("physical-activity", "gardening"),
    "caring-burden": ("talk-group", "peer-support", "co-development"),
    "new-to-area": ("mentoring", "volunteering", "learning-circle", "walking-group", "talk-group"),
    "digital-exclusion": ("digital-inclusion", "mentoring"),
}
SHIPPED = Path(__file__).resolve().parent.parent / "crosswalks" / "data-inclusion-thematiques.csv"


def needs_activities(apps, schema_editor):
    TaxonomyTerm = apps.get_model("community_catalog", "TaxonomyTerm")
    terms = {t.code: t for t in TaxonomyTerm.objects.all()}
    for need, activities in NEED_ACTIVITIES.items():
        if need in terms and not terms[need].activities.exists():
            terms[need].activities.add(*(terms[a] for a in activities if a in terms))


def crosswalks_shipped(apps, schema_editor):
    Crosswalk = apps.get_model("community_catalog", "Crosswalk")
    TaxonomyTerm = apps.get_model("community_catalog", "TaxonomyTerm")
    terms = {t.code: t for t in TaxonomyTerm.objects.all()}
    with SHIPPED.open(encoding="utf-8") as file:
        for row in csv.DictReader(file):
            crosswalk, created = Crosswalk.objects.get_or_create(
                taxonomy=row["taxonomy"], code=row["code"], defaults={"label": row["label"]}
            )
            if created:
                crosswalk.terms.add(*(terms[c] for c in row["tisser_codes"].split() if c in terms))


def costs_decide(apps, schema_editor):
    from community_catalog.costs import cost_state

    Service = apps.get_model("community_catalog", "Service")
    CostOption = apps.get_model("community_catalog", "CostOption")
    amounts = {}
    for service_id, amount in CostOption.objects.values_list("service_id", "amount"):
        amounts.setdefault(service_id, []).append(amount)
    for service in Service.objects.only("id", "fees_description", "translations"):
        fees = [service.fees_description] + [
            texts.get("fees_description", "")
            for texts in (service.translations or {}).values()
            if isinstance(texts, dict)
        ]
        Service.objects.filter(id=service.id).update(
            cost=cost_state(amounts=amounts.get(service.id, []), fees=fees)
        )


class Migration(migrations.Migration):

    dependencies = [
        ("community_catalog", "0007_taxonomy_data_crosswalks_cost"),
    ]

    operations = [
        migrations.RunPython(needs_activities, migrations.RunPython.noop),
        migrations.RunPython(crosswalks_shipped, migrations.RunPython.noop),
        migrations.RunPython(costs_decide, migrations.RunPython.noop),
    ]
