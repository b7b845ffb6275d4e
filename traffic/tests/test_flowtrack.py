"""Delivering FlowTrack batches to the stand-in receiver over real HTTP: the receiver down then
up → each batch received exactly once; the token; nothing configured → batches wait."""

import json
import threading
import urllib.request
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from flowsuite.testing import free_port
from traffic import counts, flowtrack, validation
from traffic.models import Count, SyncBatch
from traffic.receiver import make_server

from .helpers import as_fields, interval_start, new_camera, report

pytestmark = pytest.mark.django_db


class Receiver:
    """The stand-in FlowTrack in a thread, on a port fixed before it first starts."""

    def __init__(self, token="", store=None):
        self.port, self.token, self.store, self.server = free_port(), token, store, None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/batches"

    def start(self):
        self.server = make_server("127.0.0.1", self.port, token=self.token, store=self.store)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def received(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/") as answer:
            return json.load(answer)


@pytest.fixture
def receiver(settings, tmp_path):
    server = Receiver(token="s3cret", store=tmp_path / "inbox.jsonl")
    settings.FLOWTRACK_URL, settings.FLOWTRACK_TOKEN = server.url, "s3cret"
    settings.FLOWTRACK_MQTT_TOPIC = ""
    yield server
    server.stop()


def queued_batches(operator, n=2):
    camera, _ = new_camera()
    batches = []
    for index in range(n):
        start = interval_start(minutes_ago=10 + 5 * index)
        counts.record_interval(camera, as_fields(report(camera, start=start)))
        end = start + timedelta(minutes=5)
        validation.validate(Count.objects.filter(start=start), operator)
        batches.append(validation.queue_batch(camera.intersection, start, end, operator))
    return batches


def make_due():
    SyncBatch.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_with_the_receiver_down_then_up_each_batch_is_received_exactly_once(receiver, operator):
    batches = queued_batches(operator)
    call_command("flowtrack_sync", "--once")  # nobody listens
    states = {b.status for b in SyncBatch.objects.all()}
    assert states == {"pending"}
    tried = SyncBatch.objects.filter(attempts=1)
    assert tried.count() == 1 and "Connection" in tried.get().last_error  # the pass stopped
    assert tried.get().next_attempt_at > timezone.now() + timedelta(seconds=20)

    receiver.start()
    for _ in range(3):  # time passes: every retry is due, then due again
        make_due()
        call_command("flowtrack_sync", "--once")
    received = receiver.received()
    assert sorted(b["key"] for b in received["batches"]) == sorted(str(b.key) for b in batches)
    for batch in SyncBatch.objects.all():
        assert batch.status == "sent" and batch.sent_at is not None and batch.last_error == ""


def test_a_batch_re_sent_after_a_lost_answer_is_stored_once(receiver, operator):
    (batch,) = queued_batches(operator, n=1)
    receiver.start()
    flowtrack.post(batch)  # delivered, but say the answer was lost: the sender tries again
    make_due()
    assert flowtrack.deliver_due() == {"sent": 1, "retry": 0, "failed": 0}
    assert receiver.received()["count"] == 1
    assert receiver.server.inbox.batches[str(batch.key)]["payload"] == batch.payload


def test_a_sent_batch_is_never_sent_again(receiver, operator):
    (batch,) = queued_batches(operator, n=1)
    receiver.start()
    make_due()
    flowtrack.deliver_due()
    receiver.stop()  # were it sent again, the pass would fail
    make_due()
    assert flowtrack.deliver_due() == {"sent": 0, "retry": 0, "failed": 0}


def test_a_wrong_token_is_retried_not_lost(receiver, operator, settings):
    (batch,) = queued_batches(operator, n=1)
    receiver.start()
    settings.FLOWTRACK_TOKEN = "wrong"
    assert flowtrack.deliver_due()["retry"] == 1
    batch.refresh_from_db()
    assert batch.status == "pending" and batch.last_error.startswith("HTTP 401")
    assert receiver.received()["count"] == 0


def test_the_receiver_keeps_its_batches_across_restarts(receiver, operator):
    (batch,) = queued_batches(operator, n=1)
    receiver.start()
    flowtrack.deliver_due()
    receiver.stop()
    receiver.start()
    assert [b["key"] for b in receiver.received()["batches"]] == [str(batch.key)]


def test_with_no_flowtrack_configured_batches_wait(settings, operator):
    settings.FLOWTRACK_URL = settings.FLOWTRACK_MQTT_TOPIC = ""
    (batch,) = queued_batches(operator, n=1)
    assert flowtrack.deliver_due() == {"sent": 0, "retry": 0, "failed": 0}
    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == ("pending", 0)


def test_backoff_doubles_up_to_an_hour():
    delays = [flowtrack.retry_delay(n).total_seconds() for n in (1, 2, 3, 10, 50)]
    assert delays == [30, 60, 120, 3600, 3600]


def test_the_energy_worker_tick_delivers_due_batches(receiver, operator):
    from energy import worker

    (batch,) = queued_batches(operator, n=1)
    receiver.start()
    assert worker.tick()["flowtrack"] == {"sent": 1, "retry": 0, "failed": 0}
    assert receiver.received()["batches"][0]["key"] == str(batch.key)
