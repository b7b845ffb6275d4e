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
