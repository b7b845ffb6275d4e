"""seed_demo gives the gallery content: two cameras with days of drawn motion events."""

import pytest
from PIL import Image

from conftest import make_user
from surveillance import demo
from surveillance.models import Camera, MotionEvent

pytestmark = pytest.mark.django_db


def test_the_demo_cameras_have_events_with_pictures_and_seeding_again_adds_nothing(
    settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    make_user("admin@flowsuite.demo")
    lines = []

    demo.seed(lines.append)
    demo.seed(lines.append)

    assert sorted(Camera.objects.values_list("name", flat=True)) == ["Gate", "Yard"]
    assert MotionEvent.objects.count() >= 2 * demo.EVENTS_PER_DAY * (demo.DAYS - 1)
    event = MotionEvent.objects.first()
    snapshot = event.snapshots.first()
    with Image.open(tmp_path / snapshot.image.name) as picture:
        assert picture.size == (demo.WIDTH, demo.HEIGHT)
    x, y, width, height = event.boxes[0]
    assert 0 <= x < x + width <= demo.WIDTH and 0 <= y < y + height <= demo.HEIGHT
    assert "device key fsd_" in lines[0]
    assert lines[-1] == "demo cameras exist: demo surveillance data left as it is"
    assert not Camera.objects.get(name="Gate").is_online  # no agent runs yet
