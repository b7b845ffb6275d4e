"""An operator draws a counting line on a camera's snapshot in headless Chromium: clicks two
points on the picture, names the line, saves; after a reload the line is there with its "in"
arrow pointing across it to its left, and the camera's configuration version went up."""

import json

import pytest

from conftest import log_in

pytestmark = pytest.mark.browser

CAMERA = """
import io, json
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image
from accounts.models import User
from traffic import cameras
from traffic.models import Intersection
place = Intersection.objects.create(name="Browser test crossing", time_zone="UTC")
camera, _ = cameras.camera_create(
    owner=User.objects.get(email="admin@flowsuite.demo"), intersection=place, name="Test view"
)
picture = io.BytesIO()
Image.new("RGB", (640, 480), (60, 70, 80)).save(picture, "JPEG")
camera.snapshot.save("test-view.jpg", ContentFile(picture.getvalue()), save=False)
camera.snapshot_at = timezone.now()
camera.save()
print(json.dumps({"id": camera.pk, "version": camera.config_version}))
"""

SAVED = """
import json
from traffic.models import TrafficCamera
camera = TrafficCamera.objects.get(pk={pk})
print(json.dumps({{"version": camera.config_version,
                  "lines": list(camera.lines.values("name", "x1", "y1", "x2", "y2"))}}))
"""


def test_drawing_a_counting_line_on_the_snapshot(site, browser):
    from playwright.sync_api import expect

    camera = json.loads(site.manage("shell", "--no-imports", "-c", CAMERA))
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(page, site, "operator@flowsuite.demo")
    page.goto(f"{site}/traffic/cameras/{camera['id']}/lines/")
    page.wait_for_function("document.querySelector('.traffic-snapshot').naturalWidth > 0")
    expect(page.locator("#no-lines")).to_be_visible()

    overlay = page.locator(".traffic-overlay")
    box = overlay.bounding_box()
    scale = box["width"] / 640
    # From (80, 300) to (560, 300) in the frame: a line pointing right, "in" = moving up.
    page.mouse.click(box["x"] + 80 * scale, box["y"] + 300 * scale)
    expect(page.locator("#editor-hint")).to_contain_text("second point")
    page.mouse.click(box["x"] + 560 * scale, box["y"] + 300 * scale)
    name = page.locator('#line-list [data-field="name"]')
    expect(name).to_have_count(1)
    expect(name).to_be_focused()
    name.fill("Northbound stop bar")
    page.locator('#line-list [data-field="in_label"]').fill("northbound")
    page.click("#save-lines")
    expect(page.locator("#editor-saved")).to_be_visible()
    expect(page.locator("#config-version")).to_have_attribute(
        "data-version", str(camera["version"] + 1)
    )

    page.reload()
    line = page.locator('.tl-line[data-name="Northbound stop bar"]')
    expect(line).to_have_count(1)
    expect(page.locator('#line-list [data-field="name"]')).to_have_value("Northbound stop bar")
    expect(page.locator("#config-version")).to_have_attribute(
        "data-version", str(camera["version"] + 1)
    )
    stroke = line.locator(".tl-stroke")
    assert abs(float(stroke.get_attribute("x1")) - 80) <= 2
    assert abs(float(stroke.get_attribute("y2")) - 300) <= 2
    # The "in" arrow crosses the line upwards (from its right side to its left side).
    head = line.locator(".tl-arrow-head").bounding_box()
    drawn = stroke.bounding_box()
    assert head["y"] + head["height"] < drawn["y"]
    expect(line.locator(".tl-in-label")).to_have_text("in · northbound")

    saved = json.loads(site.manage("shell", "--no-imports", "-c", SAVED.format(pk=camera["id"])))
    assert saved["version"] == camera["version"] + 1
    [row] = saved["lines"]
    assert row["name"] == "Northbound stop bar"
    assert abs(row["x1"] - 80) <= 2 and abs(row["x2"] - 560) <= 2 and abs(row["y1"] - 300) <= 2


SEEN = """
import io, json
from PIL import Image
from accounts.models import User
from traffic import cameras, heartbeats
from traffic.models import CountLine, Intersection
place = Intersection.objects.create(name="Counter view crossing", time_zone="UTC")
admin = User.objects.get(email="admin@flowsuite.demo")
ids = {}
for name, seen in (("Seen", True), ("Not yet", False)):
    camera, _ = cameras.camera_create(owner=admin, intersection=place, name=name)
    CountLine.objects.create(camera=camera, name="Stop bar", x1=0, y1=240, x2=640, y2=240)
    # The plain snapshot (grey), and what the counter sees at its processing size (red).
    pictures = [((640, 480), (60, 70, 80), False), ((320, 240), (200, 40, 40), True)]
    for size, colour, annotated in pictures[: 1 + seen]:
        picture = io.BytesIO()
        Image.new("RGB", size, colour).save(picture, "JPEG")
        heartbeats.record_snapshot(camera, picture.getvalue(), annotated=annotated)
    ids[name] = camera.pk
print(json.dumps(ids))
"""


def view_colour(page) -> tuple:
    import io

    from PIL import Image

    shot = Image.open(io.BytesIO(page.locator(".traffic-view").screenshot())).convert("RGB")
    return shot.getpixel((shot.width // 4, shot.height // 4))  # away from the line


def test_the_line_editor_shows_what_the_counter_sees_under_the_lines(site, browser):
    from playwright.sync_api import expect

    cameras = json.loads(site.manage("shell", "--no-imports", "-c", SEEN))
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(page, site, "operator@flowsuite.demo")
    page.goto(f"{site}/traffic/cameras/{cameras['Seen']}/lines/")
    picture = page.locator(".traffic-snapshot")
    page.wait_for_function("document.querySelector('.traffic-snapshot').naturalWidth > 0")
    switch = page.get_by_role("switch", name="Show what the counter sees")
    expect(switch).to_be_enabled()
    expect(page.locator("#counter-view-caption")).to_be_hidden()
    red, green, blue = view_colour(page)
    assert abs(red - 60) < 20 and abs(blue - 80) < 20  # the camera's snapshot

    switch.check()
    page.wait_for_function(
        "(i => i.src.includes('/annotated-snapshot/') && i.complete && i.naturalWidth === 320)"
        "(document.querySelector('.traffic-snapshot'))"
    )
    red, green, blue = view_colour(page)
    assert red > 150 and green < 90  # what the counter sees, stretched over the whole view
    expect(page.locator("#counter-view-caption")).to_contain_text("What the counter saw at")
    expect(picture).to_have_attribute("alt", "What the counter sees")
    # The lines being edited stay drawn over it, where they were, the picture under the
    # whole overlay as the snapshot was.
    line = page.locator('.tl-line[data-name="Stop bar"]')
    expect(line).to_be_visible()
    assert line.locator(".tl-stroke").get_attribute("y1") == "240"
    assert picture.bounding_box() == page.locator(".traffic-overlay").bounding_box()

    switch.uncheck()
    page.wait_for_function(
        "(i => !i.src.includes('annotated') && i.complete)"
        "(document.querySelector('.traffic-snapshot'))"
    )
    red, green, blue = view_colour(page)
    assert abs(red - 60) < 20
    expect(page.locator("#counter-view-caption")).to_be_hidden()

    page.goto(f"{site}/traffic/cameras/{cameras['Not yet']}/lines/")
    expect(page.get_by_role("switch", name="Show what the counter sees")).to_be_disabled()
    expect(page.locator("#counter-view-none")).to_have_text(
        "Not sent yet: the counter sends it with its snapshots."
    )
