from django.db import migrations

LABELS = [
    ("producer", "islamic-state", "Islamic State (ISIS, Daesh)"),
    ("producer", "al-qaeda", "Al-Qaeda and affiliates"),
    ("producer", "al-shabaab", "Al-Shabaab"),
    ("producer", "boko-haram", "Boko Haram"),
    ("producer", "attacker", "An attacker acting alone (perpetrator-produced content)"),
    ("content_type", "image", "Image"),
    ("content_type", "video", "Video"),
    ("content_type", "pdf", "PDF document"),
    ("content_type", "url", "URL"),
    ("behaviour", "imminent-credible-threat", "Imminent credible threat"),
    ("behaviour", "graphic-violence", "Graphic violence against defenceless people"),
    ("behaviour", "glorification", "Glorification of terrorist acts"),
    ("behaviour", "radicalisation", "Radicalisation, recruitment and instruction"),
    ("incident", "content-incident", "Declared content incident"),
]


def seed(apps, schema_editor):
    apps.get_model("hashes", "Policy").objects.get_or_create(id=1)
    Label = apps.get_model("hashes", "Label")
    for dimension, slug, name in LABELS:
        Label.objects.get_or_create(slug=slug, defaults={"dimension": dimension, "name": name})


class Migration(migrations.Migration):
    dependencies = [("hashes", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
