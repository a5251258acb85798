# Matching's index learns cost in three states, when an activity meets (the offer
# horizon), and which terms are unmapped; services lose `is_free` (`cost` replaces it).
# The index is derived data: emptied, changed, and rebuilt by the current code.

from django.db import migrations, models


def match_points_empty(apps, schema_editor):
    apps.get_model("community_catalog", "MatchPoint").objects.all().delete()


def match_points_build(apps, schema_editor):
    # The index is rebuilt by today's code (the matching app's command), as before.
    from django.core.management import call_command

    call_command("rebuild_match_index")


class Migration(migrations.Migration):

    dependencies = [
        ("community_catalog", "0008_taxonomy_data_crosswalks_cost_fill"),
    ]

    operations = [
        migrations.RemoveField(model_name="service", name="is_free"),
        migrations.RunPython(match_points_empty, migrations.RunPython.noop),
        migrations.RemoveField(model_name="matchpoint", name="is_free"),
        migrations.AddField(
            model_name="matchpoint",
            name="cost",
            field=models.CharField(default="not-stated", help_text="free, paid or not-stated", max_length=10),
            preserve_default=False,
        ),
        migrations.AddField(model_name="matchpoint", name="run_from", field=models.DateField(null=True)),
        migrations.AddField(model_name="matchpoint", name="run_until", field=models.DateField(null=True)),
        migrations.AddField(model_name="matchpoint", name="undated", field=models.BooleanField(default=False)),
        migrations.AddField(model_name="matchpoint", name="resumes_on", field=models.DateField(null=True)),
        migrations.AddField(model_name="matchpoint", name="starts_on", field=models.DateField(null=True)),
        migrations.AddField(model_name="matchpoint", name="unmapped", field=models.BooleanField(default=False)),
        migrations.AddIndex(
            model_name="matchpoint",
            index=models.Index(fields=["run_until"], name="match_point_run_until_idx"),
        ),
        migrations.RunPython(match_points_build, migrations.RunPython.noop),
    ]
