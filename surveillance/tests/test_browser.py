"""A guard goes through a day of motion events in headless Chromium: picks the day in the
gallery's calendar, opens the lightbox, sees the motion box drawn over the picture, steps to
the next event with the arrow key and closes it with Escape."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from conftest import log_in

pytestmark = pytest.mark.browser

EVENTS = """
import json
from datetime import datetime
from surveillance.models import MotionEvent
from surveillance.tests.gallery_helpers import make_camera, make_event
MotionEvent.objects.all().delete()  # the demo's own events: this test wants a known day
gate = make_camera("Test gate", location="North fence")
made = [
    make_event(gate, datetime.fromisoformat(at), boxes=boxes, score=score, size=(320, 240),
               snapshots=snapshots)
    for at, boxes, score, snapshots in json.loads('''{events}''')
]
print(json.dumps([event.pk for event in made]))
"""


def test_the_gallery_by_date_with_its_lightbox_and_keyboard(site, browser):
    from playwright.sync_api import expect

    day = (datetime.now(UTC) - timedelta(days=3)).replace(hour=10, minute=0, second=0)
    events = [
        (day.isoformat(), [[40, 30, 64, 48]], 0.12, 2),
        ((day + timedelta(minutes=5)).isoformat(), [[200, 120, 80, 90]], 0.31, 1),
        ((day + timedelta(minutes=9)).isoformat(), [[10, 10, 30, 30]], 0.04, 1),
        ((day - timedelta(days=1)).isoformat(), [[0, 0, 10, 10]], 0.5, 1),  # another day
    ]
    script = EVENTS.replace("{events}", json.dumps(events))
    site.manage("shell", "--no-imports", "-c", script)

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(page, site, "guard@flowsuite.demo")
    before = (day - timedelta(days=2)).date().isoformat()  # a day without events
    page.goto(f"{site}/surveillance/events/?date={before}&month={day:%Y-%m}")
    expect(page.locator("#gallery-empty")).to_be_visible()

    cell = page.locator(f'.surv-calendar a[data-day="{day.date().isoformat()}"]')
    expect(cell).to_have_class(re.compile("has-events"))
    cell.click()
    thumbs = page.locator(".event-thumb")
    expect(thumbs).to_have_count(3)
    expect(page.locator("#gallery-count-text")).to_have_text("3 motion events")
    expect(thumbs.first).to_contain_text("10:00:00")
    expect(thumbs.first).to_contain_text("12 %")

    thumbs.first.click()
    lightbox = page.locator("#lightbox")
    expect(lightbox).to_be_visible()
    expect(page.locator("#lightbox-position")).to_have_text("1 of 3")
    expect(page.locator("#lightbox-title")).to_contain_text("Test gate")
    page.wait_for_function("document.getElementById('lightbox-image').naturalWidth > 0")
    assert_box_drawn_at(page, [40, 30, 64, 48], frame=(320, 240))
    expect(page.locator("#lightbox-strip button")).to_have_count(2)  # its two snapshots

    page.keyboard.press("ArrowRight")
    expect(page.locator("#lightbox-position")).to_have_text("2 of 3")
    page.wait_for_function("document.getElementById('lightbox-image').complete")
    assert_box_drawn_at(page, [200, 120, 80, 90], frame=(320, 240))
    expect(page.locator("#lightbox-strip button")).to_have_count(0)

    page.keyboard.press("ArrowRight")
    expect(page.locator("#lightbox-position")).to_have_text("3 of 3")
    expect(page.locator("#lightbox-next")).to_be_disabled()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#lightbox-position")).to_have_text("2 of 3")

    page.keyboard.press("Escape")
    expect(lightbox).to_be_hidden()


def assert_box_drawn_at(page, box, *, frame):
    """The motion box sits over the same part of the shown picture as in the camera frame."""
    from playwright.sync_api import expect

    rect = page.locator("#lightbox-boxes rect")
    expect(rect).to_have_count(1)
    expect(rect).to_have_attribute("x", str(box[0]))
    # Both measured in one go: the modal may still be sliding in, moving them together.
    image, drawn = page.evaluate(
        """() => ["#lightbox-image", "#lightbox-boxes rect"].map((selector) => {
            const r = document.querySelector(selector).getBoundingClientRect();
            return {x: r.x, y: r.y, width: r.width, height: r.height};
        })"""
    )
    scale_x, scale_y = image["width"] / frame[0], image["height"] / frame[1]
    assert image["width"] > frame[0]  # shown larger than the frame: the box was scaled
    expected = (
        image["x"] + box[0] * scale_x,
        image["y"] + box[1] * scale_y,
        box[2] * scale_x,
        box[3] * scale_y,
    )
    actual = (drawn["x"], drawn["y"], drawn["width"], drawn["height"])
    assert all(abs(a - e) <= 3 for a, e in zip(actual, expected, strict=True)), (actual, expected)
