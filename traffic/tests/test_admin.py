"""The traffic admin: a camera's blob area and size classes are automatic when left blank."""

import re

import pytest

from conftest import client_for
from traffic.models import Intersection, TrafficCamera

pytestmark = pytest.mark.django_db

LINES = {
    "lines-TOTAL_FORMS": "0",
    "lines-INITIAL_FORMS": "0",
    "lines-MIN_NUM_FORMS": "0",
    "lines-MAX_NUM_FORMS": "1000",
}


def camera_form(intersection, **changes) -> dict:
    fields = {
        "intersection": intersection.pk,
        "name": "East",
        "source": "",
        "width": 320,
        "height": 240,
        "interval_minutes": 5,
        "min_blob_area": "",
        "sensitivity": 0.5,
        "size_classes": "",
        "masks": "[]",
        **LINES,
    }
    return {**fields, **changes}


def test_a_camera_added_in_the_admin_leaves_them_automatic_and_shows_them_blank(admin_user):
    place = Intersection.objects.create(name="Ring road")
    client = client_for(admin_user)
    added = client.post("/admin/traffic/trafficcamera/add/", camera_form(place))
    assert added.status_code == 302
    camera = TrafficCamera.objects.get(name="East")
    assert (camera.min_blob_area, camera.size_classes) == (None, None)

    page = client.get(f"/admin/traffic/trafficcamera/{camera.pk}/change/").content.decode()
    box = re.search(r'<textarea[^>]* name="size_classes"[^>]*>([^<]*)</textarea>', page)
    assert 'placeholder="automatic"' in box[0] and box[1].strip() == ""  # not "null"
    assert "learnt from the vehicles the camera sees" in page

    # Blank is automatic; a negative area or malformed classes are refused.
    url = f"/admin/traffic/trafficcamera/{camera.pk}/change/"
    for change in ({"min_blob_area": "-1"}, {"size_classes": "[]"}, {"size_classes": "{}"}):
        answer = client.post(url, camera_form(place, **change))
        assert answer.status_code == 200
        assert set(change) <= set(answer.context["adminform"].form.errors), change
    camera.refresh_from_db()
    assert (camera.min_blob_area, camera.size_classes) == (None, None)
