"""Vehicle classes learnt per camera (edge.traffic.classes), without video."""

import pytest

from edge.traffic.classes import BICYCLE, BUS, CAR, MOTORBIKE, TRUCK, Calibration

# (length, width) of a car (4.5 m by 1.8 m wide, 1.5 m tall), a rigid truck (8 m by 2.5 m,
# 3.5 m tall) and a bus (12 m by 2.5 m) as two cameras see them: a 320x240 freeway view from
# above and behind, and a 1280x720 side view of a street (its width is the height seen).
CAMERAS = {
    "320x240": ((320, 240), (40, 30), (71, 42), (107, 42)),
    "1280x720": ((1280, 720), (380, 130), (675, 303), None),
}


def learnt(frame_size, car, truck, speed=10.0) -> Calibration:
    calibration = Calibration(frame_size)
    for index in range(30):
        length, width = truck if index % 6 == 5 else car
        calibration.learn(length, width, speed, calibration.classify(length, width, speed))
    return calibration


@pytest.mark.parametrize("camera", CAMERAS.values(), ids=CAMERAS.keys())
def test_classes_are_relative_to_the_cars_the_camera_sees(camera):
    frame_size, car, truck, bus = camera
    calibration = learnt(frame_size, car, truck)

    assert calibration.classify(*car, 10.0) == CAR
    assert calibration.classify(car[0] * 1.2, car[1] * 1.1, 12.0) == CAR  # an SUV
    assert calibration.classify(*truck, 8.0) == TRUCK
    if bus:  # seen from the side, a bus is no longer for its height than a truck
        assert calibration.classify(*bus, 8.0) == BUS
    # A two-wheeler: under half a car's length or width.
    assert calibration.classify(car[0] * 0.45, car[1] * 0.9, 10.0) == MOTORBIKE
    assert calibration.classify(car[0] * 0.45, car[1] * 0.9, 4.0) == BICYCLE


def test_the_first_vehicles_are_taken_for_cars_and_trucks_do_not_pull_the_size_up():
    calibration = Calibration((640, 480))
    first = [(200, 80), (95, 45), (210, 82), (92, 44)]  # a truck comes first
    classes = []
    for length, width in first:
        vehicle_class = calibration.classify(length, width, 6.0)
        calibration.learn(length, width, 6.0, vehicle_class)
        classes.append(vehicle_class)

    assert classes[1:] == [CAR, TRUCK, CAR]
    assert calibration.car_size() == pytest.approx((93.5, 44.5), rel=0.05)


def test_a_bicycle_is_no_motor_vehicle_size_and_is_not_learnt_as_a_car():
    calibration = learnt((640, 480), (90, 45), (200, 80))
    before = calibration.car_size()
    calibration.learn(30, 40, 3.0, BICYCLE)
    calibration.learn(35, 20, 9.0, MOTORBIKE)

    assert calibration.car_size() == before


def test_a_saved_calibration_is_kept_only_for_its_frame_size():
    calibration = learnt((640, 480), (90, 45), (200, 80))
    saved = calibration.to_dict()

    again = Calibration.from_dict(saved, (640, 480))
    assert again.car_size() == calibration.car_size()
    assert again.classify(200, 80, 8.0) == TRUCK

    other = Calibration.from_dict(saved, (1280, 720))
    assert not other.sizes


@pytest.mark.parametrize(
    "broken",
    [
        None,
        [],
        "text",
        {"frame_size": [640, 480]},
        {"frame_size": "x", "sizes": [], "speeds": []},
        {"frame_size": [640, 480], "sizes": [["a", 1]], "speeds": []},
    ],
)
def test_a_broken_saved_calibration_starts_afresh(broken):
    calibration = Calibration.from_dict(broken, (640, 480))

    assert not calibration.sizes and not calibration.speeds
