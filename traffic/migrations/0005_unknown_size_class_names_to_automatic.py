"""Size classes named outside the vehicle classes become automatic.

Counts of a class the site does not know are refused since 0003 (a typo or a made-up name
would otherwise be stored as a class of its own), so a camera whose size classes still name one
(the API and the admin took any name before) would have every report refused. Such a camera
goes back to the classes learnt by its counter, which are always the site's.
"""

from django.db import migrations

# The classes of 0003, frozen here.
KNOWN = {"motorbike", "car", "truck", "bus", "bicycle"}


def unknown_names_to_automatic(apps, schema_editor):
    TrafficCamera = apps.get_model("traffic", "TrafficCamera")
    for camera in TrafficCamera.objects.filter(size_classes__isnull=False).only("size_classes"):
        names = {entry.get("class") for entry in camera.size_classes if isinstance(entry, dict)}
        if not isinstance(camera.size_classes, list) or not names <= KNOWN:
            camera.size_classes = None
            camera.save(update_fields=["size_classes"])


class Migration(migrations.Migration):
    dependencies = [
        ("traffic", "0004_annotated_snapshot"),
    ]

    operations = [
        migrations.RunPython(unknown_names_to_automatic, migrations.RunPython.noop),
    ]
