"""The analyst's review: pending → validated / corrected (keeping the original) / rejected;
batches refuse pending ranges; counts in a batch never change."""

from datetime import timedelta

import pytest

from traffic import counts, validation
from traffic.models import Count, CountStatus, SyncBatch

from .helpers import as_fields, interval_start, new_camera, report

pytestmark = [pytest.mark.backend, pytest.mark.django_db]


@pytest.fixture
def interval(operator):
    camera, _ = new_camera()
    start = interval_start()
    counts.record_interval(camera, as_fields(report(camera, start=start)))
    return camera, start, start + timedelta(minutes=5)


def in_range(camera, start, end):
    return Count.objects.filter(line__camera=camera, start__gte=start, start__lt=end)


def test_validate_marks_pending_counts_validated_by_the_analyst(interval, operator):
    camera, start, end = interval
    result = validation.validate(in_range(camera, start, end), operator)
    assert result.changed == 2
    assert {(c.status, c.reviewed_by) for c in Count.objects.all()} == {
        (CountStatus.VALIDATED, operator)
    }


def test_correct_keeps_the_camera_s_number_and_the_reason(interval, operator):
    count = Count.objects.get(vehicle_class="car")
    validation.correct(count, 10, "a bus counted as two cars", operator)
    count.refresh_from_db()
    assert (count.count, count.original_count, count.status) == (10, 12, CountStatus.CORRECTED)
    assert count.reason == "a bus counted as two cars"


def test_correct_needs_a_reason(interval, operator):
    count = Count.objects.get(vehicle_class="car")
    with pytest.raises(validation.ReviewRefused) as refused:
        validation.correct(count, 10, "  ", operator)
    assert refused.value.code == "reason_required"
    count.refresh_from_db()
    assert (count.count, count.status) == (12, CountStatus.PENDING)


def test_reject_marks_counts_rejected_with_the_reason(interval, operator):
    camera, start, end = interval
    validation.reject(in_range(camera, start, end), "camera shaken by wind", operator)
    assert set(Count.objects.values_list("status", "reason")) == {
        (CountStatus.REJECTED, "camera shaken by wind")
    }


def test_a_batch_is_refused_while_the_range_has_pending_counts(interval, operator):
    camera, start, end = interval
    Count.objects.filter(vehicle_class="car").update(status=CountStatus.VALIDATED)
    with pytest.raises(validation.ReviewRefused) as refused:
        validation.queue_batch(camera.intersection, start, end, operator)
    assert refused.value.code == "pending"
    assert not SyncBatch.objects.exists()


def test_a_batch_of_nothing_is_refused(interval, operator):
    camera, start, end = interval
    validation.reject(in_range(camera, start, end), "", operator)
    with pytest.raises(validation.ReviewRefused) as refused:
        validation.queue_batch(camera.intersection, start, end, operator)
    assert refused.value.code == "empty"


def test_a_batch_takes_reviewed_counts_with_flowtrack_s_fields(interval, operator):
    camera, start, end = interval
    validation.validate(in_range(camera, start, end), operator)
    validation.correct(Count.objects.get(vehicle_class="car"), 11, "recount", operator)
    batch = validation.queue_batch(camera.intersection, start, end, operator)
    assert Count.objects.filter(sync_batch=batch).count() == 2
    payload = batch.payload
    assert payload["batch"] == str(batch.key)
    assert payload["intersection"]["flowtrack_id"] == "FT-1001"
    car = next(i for i in payload["intervals"] if i["class"] == "car")
    assert car["line"] == "5th Ave" and car["direction"] == "in"
    assert car["direction_label"] == "5th Ave northbound"
    assert (car["count"], car["corrected"], car["original_count"]) == (11, True, 12)
    # Nothing left to send in that range.
    with pytest.raises(validation.ReviewRefused):
        validation.queue_batch(camera.intersection, start, end, operator)


def test_counts_in_a_batch_never_change(interval, operator):
    camera, start, end = interval
    validation.validate(in_range(camera, start, end), operator)
    validation.queue_batch(camera.intersection, start, end, operator)
    result = validation.reject(in_range(camera, start, end), "late doubt", operator)
    assert (result.changed, result.batched) == (0, 2)
    with pytest.raises(validation.ReviewRefused) as refused:
        validation.correct(Count.objects.get(vehicle_class="car"), 1, "late doubt", operator)
    assert refused.value.code == "batched"
    assert set(Count.objects.values_list("status", flat=True)) == {CountStatus.VALIDATED}


def test_a_validated_count_is_never_overwritten_by_the_edge(interval, operator):
    camera, start, end = interval
    validation.validate(in_range(camera, start, end), operator)
    again = report(camera, start=start)
    again["counts"][0]["count"] = 99
    result = counts.record_report(camera, as_fields(again))
    assert len(result.kept) == 2
    assert Count.objects.get(vehicle_class="car").count == 12
