"""Demo gate: stations, the demo guard assigned, drivers with photos and badges, a day of
movements (manage.py seed_demo)."""

import io
import random
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.models import User

from . import badges, drivers
from .choices import StationMode
from .models import Driver, Station
from .scanning import scan

STATIONS = [
    ("North gate", "Av. Industrial 120", StationMode.BOTH),
    ("South entry", "Calle 5 de Mayo", StationMode.ENTRY),
    ("South exit", "Calle 5 de Mayo", StationMode.EXIT),
]
DRIVERS = [
    ("Juan Pérez", "Transportes del Norte", "MX-2231-A", "NL-45-876"),
    ("María González", "Logística Bajío", "MX-7732-B", "GTO-12-331"),
    ("Carlos Ramírez", "Fletes Ramírez", "MX-1190-C", "JAL-88-120"),
    ("Ana Torres", "Transportes del Norte", "MX-5510-D", "NL-22-019"),
    ("Luis Hernández", "CargoMex", "MX-3307-E", "CDMX-71-455"),
    ("Sofía Castillo", "Logística Bajío", "MX-8821-F", "QRO-30-902"),
    ("Jorge Morales", "CargoMex", "MX-4450-G", "PUE-15-640"),
    ("Elena Ruiz", "Fletes Ramírez", "MX-6620-H", "JAL-42-777"),
]
COLOURS = ["#0f766e", "#1d4ed8", "#b45309", "#7c3aed", "#be123c", "#15803d", "#0369a1", "#a16207"]


def seed(log) -> None:
    if Station.objects.exists():
        log("stations exist: demo gate left as it is")
        return
    guard = User.objects.filter(email="guard@flowsuite.demo").first()
    admin = User.objects.filter(email="admin@flowsuite.demo").first()
    stations = []
    for name, location, mode in STATIONS:
        station = Station.objects.create(name=name, location=location, mode=mode)
        if guard:
            station.guards.add(guard)
        stations.append(station)
    people = [
        drivers.driver_save(
            Driver(
                name=name,
                company=company,
                licence_number=licence,
                plate=plate,
                phone=f"+52 81 5{index}00 12{index}4",
            ),
            photo=_portrait(name, COLOURS[index]),
        )
        for index, (name, company, licence, plate) in enumerate(DRIVERS)
    ]
    drivers.ban(driver=people[-1], by=admin, reason="Exceso de velocidad dentro de la planta")
    count = _a_day_of_movements(people, stations, guard or admin)
    log(f"{len(stations)} stations, {len(people)} drivers (1 banned), {count} movements today")


def _a_day_of_movements(people, stations, guard) -> int:
    """The last 18 hours at the gates: badge scans, a lost badge typed in, refusals."""
    rng = random.Random(7)
    north, south_entry, south_exit = stations
    now = timezone.now()
    count = 0
    for driver in people:
        token = badges.token_for(badges.current_badge(driver))
        moment = now - timedelta(hours=18) + timedelta(minutes=rng.randint(0, 120))
        while moment < now - timedelta(minutes=5):
            by_hand = rng.random() < 0.1
            scan(
                station=rng.choice([north, south_entry]),
                guard=guard,
                now=moment,
                **({"licence_number": driver.licence_number} if by_hand else {"token": token}),
            )
            count += 1
            moment += timedelta(minutes=rng.randint(40, 300))
            if moment >= now:
                break  # still inside
            scan(station=rng.choice([north, south_exit]), guard=guard, token=token, now=moment)
            count += 1
            moment += timedelta(minutes=rng.randint(30, 240))
    return count


def _portrait(name: str, colour: str) -> SimpleUploadedFile:
    """A plain silhouette portrait, drawn here: the demo downloads no photos."""
    image = Image.new("RGB", (240, 240), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((78, 40, 162, 124), fill="#f1f5f9")
    draw.rounded_rectangle((46, 136, 194, 260), radius=60, fill="#f1f5f9")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return SimpleUploadedFile(f"{name}.jpg", buffer.getvalue(), content_type="image/jpeg")
