"""The energy commands as an operator runs them: separate processes on a real broker."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from conftest import make_user
from energy import demo
from energy.models import Node, Reading

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def manage(tmp_path, mosquitto):
    """Run manage.py in a process of its own, on a SQLite file of this test and the broker."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(VAR_DIR=str(tmp_path), MQTT_URL=mosquitto.url, ENV_FILE="/dev/null")

    def run(*args, background=False, **kwargs):
        command = [sys.executable, "manage.py", *args]
        if background:
            return subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stderr=subprocess.PIPE, text=True
            )
        return subprocess.run(
            command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60
        )

    run("migrate", "--no-input")
    run("shell", "-c", "from conftest import make_user; make_user('sim@example.com')")
    run.mqtt_url = mosquitto.url
    return run


def count_readings(manage) -> int:
    answer = manage(
        "shell", "-c", "from energy.models import Reading; print(Reading.objects.count())"
    )
    return int(answer.stdout.strip().splitlines()[-1])


def test_simulated_meters_reach_the_database_through_the_broker_and_the_bridge(manage):
    bridge = manage("mqtt_bridge", "--stats-interval", "1", background=True)
    time.sleep(1.5)  # connected and subscribed
    simulated = manage(
        "simulate_meters",
        "--nodes",
        "3",
        "--rate",
        "10",
        "--duration",
        "2",
        "--owner",
        "sim@example.com",
    )
    assert simulated.returncode == 0, simulated.stderr
    assert "to mqtt://" in simulated.stdout
    sent = int(simulated.stdout.split("sent ")[1].split()[0])
    assert sent > 40  # 3 meters x 10/s x 2 s, less the odd dropout

    deadline = time.monotonic() + 10
    while count_readings(manage) < sent and time.monotonic() < deadline:
        time.sleep(0.2)
    bridge.send_signal(signal.SIGTERM)
    _, log = bridge.communicate(timeout=10)
    assert bridge.returncode == 0
    assert "bridge: stopped" in log
    assert f"stored={sent}" in log
    assert count_readings(manage) == sent


def test_the_bridge_refuses_to_start_without_a_broker():
    with override_settings(MQTT_URL=""), pytest.raises(Exception, match="MQTT_URL is not set"):
        call_command("mqtt_bridge")


@override_settings(MQTT_URL="")
def test_without_a_broker_simulated_meters_feed_the_ingest_service_with_history(capsys):
    make_user("sim@example.com")
    call_command(
        "simulate_meters",
        "--nodes",
        "2",
        "--rate",
        "20",
        "--duration",
        "0.3",
        "--backfill",
        "1",
        "--backfill-step",
        "600",
        "--owner",
        "sim@example.com",
    )
    out = capsys.readouterr().out
    assert "into the ingest service" in out
    assert set(Node.objects.values_list("device_id", flat=True)) == {"sim-01", "sim-02"}
    history = Reading.objects.filter(ts__lt=Node.objects.first().created_at).count()
    assert 270 <= history <= 288  # 2 meters x 144 ten-minute readings, less dropouts
    assert Reading.objects.count() > history


def test_the_demo_feed_of_make_run_keeps_the_demo_meters_reporting():
    owner = make_user("operator@flowsuite.demo")
    demo.seed(lambda line: None)
    meters = Node.objects.filter(owner=owner)
    assert meters.count() == 3
    before = Reading.objects.count()
    assert before > 8000  # a month of five-minute history per meter

    async def serve_two_requests():
        async def app(scope, receive, send):
            return None

        feed = demo.DemoFeed(app, interval=0.1)
        await feed({"type": "http"}, None, None)
        await asyncio.sleep(0.5)
        feed.task.cancel()

    asyncio.run(serve_two_requests())
    assert Reading.objects.count() > before


# Each of these made `mqtt_bridge` exit (issue 14), or might have: a parser's recursion, a
# number past float, a time past datetime, bytes that are not text, a payload far too large.
HOSTILE_PAYLOADS = [
    "[" * 3000 + "]" * 3000,
    '{"a":' * 1300 + "1" + "}" * 1300,
    '{"power": 1' + "0" * 400 + "}",
    '{"power": 5, "ts": 1e20}',
    '{"power": 5, "ts": 1e18}',
    '{"power": 5, "ts": 1' + "0" * 400 + "}",
    '{"power": 5, "ts": -1' + "0" * 400 + "}",
    '{"power": 5, "ts": 1e999}',
    '{"power": 1e999}',
    '{"power": NaN}',
    '{"power": -Infinity, "ts": NaN}',
    '{"power": 5, "ts": "9999-12-31T23:59:59-23:59"}',
    '{"power": 5, "ts": "0001-01-01T00:00:00+23:59"}',
    b'{"power": 5, "note": "\xff\xfe"}',
    b"\xff\xfe{\x00}",
    b"{" * 1_000_000,
]


def test_hostile_payloads_neither_stop_the_bridge_nor_cost_a_valid_reading(manage):
    from energy.tests.test_bridge import Meter

    manage(
        "shell",
        "-c",
        "from accounts.models import User; from energy import nodes; nodes.node_create("
        "owner=User.objects.get(email='sim@example.com'), device_id='esp32-a', name='A')",
    )
    bridge = manage("mqtt_bridge", "--stats-interval", "1", "--no-worker", background=True)
    started = ""  # what is published before it subscribed is not kept for it
    while "subscribed to" not in started and bridge.poll() is None:
        started += bridge.stderr.readline()
    meter = Meter(manage.mqtt_url)
    now = time.time()
    valid = 0
    for round_ in range(3):
        for n, payload in enumerate(HOSTILE_PAYLOADS):
            meter.publish(payload)
            valid += 1
            meter.publish({"power": float(valid), "ts": now - 3600 + round_ * 100 + n})
    deadline = time.monotonic() + 15
    while count_readings(manage) < valid and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = bridge.poll() is None
    bridge.send_signal(signal.SIGTERM)
    _, log = bridge.communicate(timeout=10)
    log = started + log
    meter.close()
    assert alive, log[-3000:]
    assert bridge.returncode == 0
    assert count_readings(manage) == valid
    assert f"stored={valid}" in log
    refused = len(HOSTILE_PAYLOADS) * 3
    stats = [line for line in log.splitlines() if "bridge: stats" in line][-1]
    counted = dict(item.split("=") for item in stats.split("stats ")[1].split())
    assert int(counted["malformed"]) + int(counted["rejected"]) == refused, stats
    assert "internal" not in counted, stats
    assert "bridge: refused so far:" in log
    for reason in ("nested too deep", "ts is in the future", "not UTF-8", "larger than 8192"):
        assert reason in log, reason
    # one line per reason per interval (and one more at the end), not one per message
    lines = [line for line in log.splitlines() if "bridge: refused " in line]
    assert len([line for line in lines if "nested too deep" in line and "so far" not in line]) <= 2
