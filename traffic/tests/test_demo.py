"""The demo data: an intersection, two cameras looking at the real clips with a line each, a few
days of counts, the oldest day reviewed and a batch sent."""

import json
from pathlib import Path

import pytest
from PIL import Image

from accounts import roles
from conftest import make_user
from edge.traffic import Line
from traffic import demo
from traffic.models import Count, CountStatus, SyncBatch, TrafficCamera

pytestmark = pytest.mark.django_db

TRUTH = json.loads((demo.CLIPS / "ground_truth.json").read_text())


@pytest.fixture
def seeded(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    make_user("admin@flowsuite.demo", roles.ADMIN)
    lines = []
    demo.seed(lines.append)
    return lines


def test_seed_gives_the_pages_content_and_prints_the_keys_once(seeded):
    assert TrafficCamera.objects.count() == 2
    assert all(camera.lines.count() == 1 for camera in TrafficCamera.objects.all())
    assert Count.objects.filter(status=CountStatus.PENDING).exists()
    assert Count.objects.filter(status=CountStatus.CORRECTED).count() == 1
    assert SyncBatch.objects.get().status == SyncBatch.Status.SENT
    assert sum("fsd_" in line for line in seeded) == 2
    demo.seed(seeded.append)  # again: left as it is
    assert TrafficCamera.objects.count() == 2


def test_the_demo_cameras_show_a_frame_of_their_clip_with_lines_labelled_as_it_moves(seeded):
    labels = {}
    for camera in TrafficCamera.objects.all():
        truth = TRUTH[Path(camera.source).name]
        width, height = truth["resolution"]
        with Image.open(camera.snapshot.path) as picture:
            assert picture.format == "JPEG"
            assert picture.size == (camera.width, camera.height) == (width, height)
        [line] = camera.lines.all()
        assert [[line.x1, line.y1], [line.x2, line.y2]] == truth["line"]
        assert all(0 <= x <= width for x in (line.x1, line.x2))
        assert all(0 <= y <= height for y in (line.y1, line.y2))
        # "In" as the counter has it.
        counted = Line("L", "L", (line.x1, line.y1), (line.x2, line.y2))
        for direction, vector in truth["direction_vectors_image"].items():
            goes_in = counted.direction_of(vector) == "in"
            labels[camera.name, direction] = line.in_label if goes_in else line.out_label
    assert labels == {
        ("North", "rightward"): "rightward, near lane",
        ("North", "leftward"): "leftward, far lane",
        ("South", "up"): "up",
        ("South", "down"): "down",
    }
