from django.db import migrations


def seed(apps, schema_editor):
    from community_catalog.taxonomy_services import taxonomy_seed

    taxonomy_seed(apps.get_model("community_catalog", "TaxonomyTerm"))


class Migration(migrations.Migration):
    dependencies = [("community_catalog", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
