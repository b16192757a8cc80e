from django.db import migrations


def create_head(apps, schema_editor):
    apps.get_model("hashes", "ReleaseHead").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("hashes", "0007_releases")]
    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
