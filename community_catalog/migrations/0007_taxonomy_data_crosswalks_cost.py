# The taxonomy becomes data operators keep (active terms, the needs' activities), terms
# of other taxonomies are kept with crosswalks to read them, and cost has three states.

import uuid

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("community_catalog", "0006_service_what_to_bring"),
    ]

    operations = [
        migrations.AddField(
            model_name="taxonomyterm",
            name="active",
            field=models.BooleanField(
                default=True,
                help_text="An inactive term is kept (services and referrals may carry it) but is no longer offered in forms, accepted in new referrals or reached by matching.",
            ),
        ),
        migrations.AddField(
            model_name="taxonomyterm",
            name="activities",
            field=models.ManyToManyField(
                blank=True,
                help_text="For a need: the kinds of activity that answer it (matching also takes every kind below these in the tree).",
                related_name="needs_answered",
                to="community_catalog.taxonomyterm",
            ),
        ),
        migrations.AddField(
            model_name="taxonomyterm",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.CreateModel(
            name="ForeignTerm",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("taxonomy", models.CharField(max_length=300)),
                ("code", models.CharField(max_length=200)),
                ("label", models.CharField(blank=True, max_length=300)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"ordering": ["taxonomy", "code"]},
        ),
        migrations.AddConstraint(
            model_name="foreignterm",
            constraint=models.UniqueConstraint(fields=("taxonomy", "code"), name="unique_foreign_term"),
        ),
        migrations.CreateModel(
            name="Crosswalk",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("taxonomy", models.CharField(max_length=300)),
                ("code", models.CharField(max_length=200)),
                ("label", models.CharField(blank=True, max_length=300)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "terms",
                    models.ManyToManyField(blank=True, related_name="crosswalks", to="community_catalog.taxonomyterm"),
                ),
            ],
            options={"ordering": ["taxonomy", "code"]},
        ),
        migrations.AddConstraint(
            model_name="crosswalk",
            constraint=models.UniqueConstraint(fields=("taxonomy", "code"), name="unique_crosswalk"),
        ),
        migrations.AddField(
            model_name="service",
            name="foreign_terms",
            field=models.ManyToManyField(blank=True, related_name="services", to="community_catalog.foreignterm"),
        ),
        migrations.AddField(
            model_name="service",
            name="cost",
            field=models.CharField(
                choices=[("free", "free"), ("paid", "paid"), ("not-stated", "not stated")],
                default="not-stated",
                editable=False,
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="service",
            name="cost_declared",
            field=models.CharField(
                blank=True,
                choices=[("free", "free"), ("paid", "paid")],
                help_text="Free or paid, as the organisation declared it; empty: not declared.",
                max_length=10,
            ),
        ),
    ]
