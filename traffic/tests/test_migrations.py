"""Migration 0002: the blob area and size classes every camera was given (pixels fitted to
640x480) become automatic; values someone changed stay the camera's overrides."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.backend, pytest.mark.django_db(transaction=True)]

BEFORE = [("traffic", "0001_initial")]
AFTER = [("traffic", "0002_automatic_blob_area_and_size_classes")]
OLD_CLASSES = [
    {"class": "motorbike", "min_area": 0},
    {"class": "car", "min_area": 2500},
    {"class": "truck", "min_area": 12000},
]
CHOSEN_CLASSES = [{"class": "motorbike", "min_area": 0}, {"class": "car", "min_area": 600}]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_the_old_defaults_become_automatic_and_chosen_values_stay():
    try:
        apps = migrate(BEFORE)
        Intersection = apps.get_model("traffic", "Intersection")
        Camera = apps.get_model("traffic", "TrafficCamera")
        place = Intersection.objects.create(name="Main & 5th")
        untouched = Camera.objects.create(intersection=place, name="A")
        chosen = Camera.objects.create(
            intersection=place, name="B", min_blob_area=150, size_classes=CHOSEN_CLASSES
        )
        half = Camera.objects.create(intersection=place, name="C", min_blob_area=90)
        assert (untouched.min_blob_area, untouched.size_classes) == (400, OLD_CLASSES)

        after = migrate(AFTER).get_model("traffic", "TrafficCamera")  # as it was at 0002
        cameras = {c.name: (c.min_blob_area, c.size_classes) for c in after.objects.all()}
        assert cameras == {
            "A": (None, None),
            "B": (150, CHOSEN_CLASSES),
            "C": (90, None),
        }

        apps = migrate(BEFORE)  # and back: the old defaults again
        back = apps.get_model("traffic", "TrafficCamera").objects.get(pk=half.pk)
        assert (back.min_blob_area, back.size_classes) == (90, OLD_CLASSES)
        assert (
            apps.get_model("traffic", "TrafficCamera").objects.get(pk=chosen.pk).min_blob_area
            == 150
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_size_classes_naming_a_class_the_site_refuses_become_automatic():
    """Counts of unknown classes are refused since 0003: a camera whose size classes named
    one ("van", "bike") would have every report refused, so it counts automatic again."""
    try:
        apps = migrate([("traffic", "0004_annotated_snapshot")])
        Intersection = apps.get_model("traffic", "Intersection")
        Camera = apps.get_model("traffic", "TrafficCamera")
        place = Intersection.objects.create(name="Main & 5th")
        named = [{"class": "bike", "min_area": 0}, {"class": "car", "min_area": 2000}]
        Camera.objects.create(intersection=place, name="made-up", size_classes=named)
        Camera.objects.create(intersection=place, name="known", size_classes=CHOSEN_CLASSES)
        Camera.objects.create(intersection=place, name="automatic")

        after = migrate([("traffic", "0005_unknown_size_class_names_to_automatic")])
        cameras = {
            c.name: c.size_classes
            for c in after.get_model("traffic", "TrafficCamera").objects.all()
        }
        assert cameras == {"made-up": None, "known": CHOSEN_CLASSES, "automatic": None}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
