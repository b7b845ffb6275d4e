import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from conftest import client_for, make_user
from gatepass.models import Driver
from gatepass.scanning import scan

from .factories import make_driver, make_station, token_of


def jpeg(size=(800, 600)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, "#336699").save(buffer, format="JPEG")
    return SimpleUploadedFile("photo.jpg", buffer.getvalue(), content_type="image/jpeg")


@pytest.mark.django_db
def test_a_guard_cannot_reach_the_admin_or_edit_drivers(guard):
    client = client_for(guard)
    admin_page = client.get(reverse("admin:gatepass_driver_changelist"))
    assert admin_page.status_code == 302 and "/admin/login/" in admin_page.url
    assert client.get(reverse("gatepass:driver_new")).status_code == 403


@pytest.mark.django_db
def test_a_guard_gets_the_scanner_only_at_their_station(guard):
    mine, other = make_station("North gate", guards=[guard]), make_station("South gate")
    client = client_for(guard)
    assert client.get(reverse("gatepass:station", args=[mine.pk])).status_code == 200
    assert client.get(reverse("gatepass:station", args=[other.pk])).status_code == 403


@pytest.mark.django_db
def test_the_scanner_page_works_without_javascript(guard):
    driver = make_driver()
    gate = make_station(guards=[guard])
    page = client_for(guard).post(
        reverse("gatepass:station", args=[gate.pk]), {"token": token_of(driver)}
    )
    html = page.content.decode()
    assert "Entry recorded" in html and driver.name in html


@pytest.mark.django_db
def test_registering_a_driver_with_a_photo_makes_a_thumbnail_and_a_badge(operator):
    response = client_for(operator).post(
        reverse("gatepass:driver_new"),
        {
            "name": "Rosa Díaz",
            "licence_number": "mx 77",
            "company": "CargoMex",
            "photo": jpeg(),
        },
    )
    driver = Driver.objects.get()
    assert response.status_code == 302
    assert driver.licence_number == "MX77"
    with Image.open(driver.thumbnail.path) as thumbnail:
        assert max(thumbnail.size) == 320
    assert driver.badges.count() == 1


@pytest.mark.django_db
def test_a_photo_that_is_not_an_image_is_refused(operator):
    fake = SimpleUploadedFile("photo.jpg", b"not a picture", content_type="image/jpeg")
    response = client_for(operator).post(
        reverse("gatepass:driver_new"), {"name": "Rosa", "licence_number": "MX-1", "photo": fake}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["photo"]
    assert not Driver.objects.exists()


@pytest.mark.django_db
def test_a_duplicate_licence_number_gets_a_clear_message(operator):
    make_driver(licence="MX-1")
    response = client_for(operator).post(
        reverse("gatepass:driver_new"), {"name": "Other", "licence_number": "mx-1"}
    )
    assert "already registered" in response.content.decode()
    assert Driver.objects.count() == 1


@pytest.mark.django_db
def test_photos_are_served_only_to_people_who_may_see_drivers(operator):
    client_for(operator).post(
        reverse("gatepass:driver_new"), {"name": "Rosa", "licence_number": "MX-1", "photo": jpeg()}
    )
    photo = reverse("gatepass:driver_photo", args=[Driver.objects.get().pk])
    assert client_for(operator).get(photo).status_code == 200
    nobody = make_user("nobody@example.com")
    nobody.groups.clear()
    assert client_for(nobody).get(photo).status_code == 403


@pytest.mark.django_db
def test_the_csv_export_is_the_filtered_history(guard, viewer):
    north, south = make_station("North", guards=[guard]), make_station("South", guards=[guard])
    juan, ana = make_driver(), make_driver("Ana Ruiz", "LIC-2", company="CargoMex")
    scan(station=north, guard=guard, token=token_of(juan))
    scan(station=south, guard=guard, token=token_of(ana))
    scan(station=north, guard=guard, token="FSG1:forged")
    client = client_for(viewer)
    query = {"station": north.pk}
    page = client.get(reverse("gatepass:history"), query)
    export = client.get(reverse("gatepass:history"), {**query, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert [(r["station"], r["driver"], r["outcome"]) for r in rows] == [
        ("North", "", "refused"),
        ("North", "Juan Pérez", "accepted"),
    ]
    assert len(page.context["page"].object_list) == len(rows)


@pytest.mark.django_db
def test_inside_now_lists_longest_first_and_flags_overstays(guard, viewer, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.GATEPASS_OVERSTAY_HOURS = 8
    gate = make_station(guards=[guard])
    early, late = make_driver(), make_driver("Ana Ruiz", "LIC-2")
    scan(station=gate, guard=guard, token=token_of(late), now=timezone.now() - timedelta(hours=1))
    scan(station=gate, guard=guard, token=token_of(early), now=timezone.now() - timedelta(hours=9))
    page = client_for(viewer).get(reverse("gatepass:inside"))
    drivers = page.context["drivers"]
    assert [d.name for d in drivers] == ["Juan Pérez", "Ana Ruiz"]
    assert [d.overstaying for d in drivers] == [True, False]
    assert "Overstay" in page.content.decode()


@pytest.mark.django_db
def test_an_admin_corrects_a_missed_exit_with_a_new_movement(guard, admin_user, operator):
    gate = make_station(guards=[guard])
    driver = make_driver()
    entry = scan(station=gate, guard=guard, token=token_of(driver)).movement
    url = reverse("gatepass:driver_correct", args=[driver.pk])
    form = {"direction": "exit", "note": "Left through the service gate"}
    assert client_for(operator).post(url, form).status_code == 403
    client_for(admin_user).post(url, form)
    driver.refresh_from_db()
    assert not driver.is_inside
    correction = driver.movements.latest("occurred_at")
    assert (correction.corrects, correction.method, correction.guard) == (
        entry,
        "correction",
        admin_user,
    )
    entry.refresh_from_db()
    assert entry.direction == "entry"  # the original stays as it was
