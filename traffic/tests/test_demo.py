"""The demo data: an intersection, two cameras with lines, a few days of counts, the oldest
day reviewed and a batch sent."""

import pytest

from accounts import roles
from conftest import make_user
from traffic import demo
from traffic.models import Count, CountStatus, SyncBatch, TrafficCamera

pytestmark = pytest.mark.django_db


def test_seed_gives_the_pages_content_and_prints_the_keys_once():
    make_user("admin@flowsuite.demo", roles.ADMIN)
    lines = []
    demo.seed(lines.append)
    assert TrafficCamera.objects.count() == 2
    assert all(camera.lines.count() == 2 for camera in TrafficCamera.objects.all())
    assert Count.objects.filter(status=CountStatus.PENDING).exists()
    assert Count.objects.filter(status=CountStatus.CORRECTED).count() == 1
    assert SyncBatch.objects.get().status == SyncBatch.Status.SENT
    assert sum("fsd_" in line for line in lines) == 2
    demo.seed(lines.append)  # again: left as it is
    assert TrafficCamera.objects.count() == 2
