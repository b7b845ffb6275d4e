"""In headless Chromium: a report with bicycles reaches the live dashboard as motor vehicles
in the totals and the lines' counters, the bicycles apart; the history chart stands the
bicycles in a bar of their own beside the stacked motor vehicles."""

import json
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from conftest import log_in

pytestmark = pytest.mark.browser

CAMERA = """
import json
from accounts.models import User
from traffic import cameras
from traffic.models import CountLine, Intersection
place = Intersection.objects.create(name="Bicycle crossing", time_zone="UTC")
camera, key = cameras.camera_create(
    owner=User.objects.get(email="admin@flowsuite.demo"), intersection=place, name="Kerb"
)
line = CountLine.objects.create(camera=camera, name="Kerb line", x1=0, y1=240, x2=640, y2=240)
print(json.dumps({"place": place.pk, "line": line.pk, "key": key}))
"""


def post_report(site, key: str, line: int, start: datetime) -> None:
    body = {
        "key": f"00000000-0000-4000-8000-{int(start.timestamp()):012d}",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=5)).isoformat(),
        "counts": [
            {"line": line, "direction": "in", "class": "car", "count": 10},
            {"line": line, "direction": "in", "class": "bus", "count": 1},
            {"line": line, "direction": "in", "class": "bicycle", "count": 3},
            {"line": line, "direction": "out", "class": "truck", "count": 2},
            {"line": line, "direction": "out", "class": "bicycle", "count": 1},
        ],
    }
    request = urllib.request.Request(
        f"{site}/api/traffic/device/counts/",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201


def test_bicycles_are_counted_apart_live_and_in_the_history_chart(site, browser):
    from playwright.sync_api import expect

    now = datetime.now(UTC)
    start = (now - timedelta(minutes=10)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 5)
    if start.date() != now.date():
        pytest.skip("just after midnight: the interval is yesterday's")
    made = json.loads(site.manage("shell", "--no-imports", "-c", CAMERA))
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    log_in(page, site)
    page.goto(f"{site}/traffic/intersections/{made['place']}/")
    page.wait_for_function("window.FlowLive && document.querySelector('[data-total]')")
    page.wait_for_timeout(500)  # the websocket subscribes

    post_report(site, made["key"], made["line"], start)
    expect(page.locator("[data-total]")).to_have_text("13")
    expect(page.locator("[data-bicycles]")).to_have_text("4")
    expect(page.locator('[data-total-dir="in"]')).to_have_text("11")
    expect(page.locator(f'[data-now="{made["line"]}:in"]')).to_have_text("11")
    expect(page.locator(f'[data-today="{made["line"]}:out"]')).to_have_text("2")
    expect(page.locator(f'[data-bicycles-line="{made["line"]}"]')).to_have_text("4")
    expect(page.locator('[data-class-total="bicycle"]')).to_have_text("4")
    expect(page.locator('[data-class-total="bus"]')).to_have_text("1")

    page.goto(f"{site}/traffic/intersections/{made['place']}/history/")
    page.wait_for_function("window.Chart && Chart.getChart('history-chart')")
    stacks = page.evaluate(
        "Chart.getChart('history-chart').data.datasets.map("
        "d => [d.label, d.stack, d.data.reduce((a, b) => a + b, 0)])"
    )
    assert sorted(stacks) == [["Kerb line", "motor", 13], ["bicycles", "bicycles", 4]]
    page.click('label[for="split-class"]')
    stacks = page.evaluate(
        "Chart.getChart('history-chart').data.datasets.map("
        "d => [d.label, d.stack, d.data.reduce((a, b) => a + b, 0)])"
    )
    assert sorted(stacks) == [
        ["bicycle", "bicycles", 4],
        ["bus", "motor", 1],
        ["car", "motor", 10],
        ["truck", "motor", 2],
    ]
