import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command, get_commands

from accounts.models import User

OUR_APPS = ("flowsuite", "accounts", "energy", "traffic", "surveillance", "gatepass")


def test_every_command_of_ours_starts():
    ours = sorted(name for name, app in get_commands().items() if app in OUR_APPS)
    assert {"seed_demo", "check_services"} <= set(ours)
    for name in ours:
        result = subprocess.run(
            [sys.executable, "manage.py", name, "--help"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"{name}: {result.stderr}"


@pytest.mark.django_db
def test_seed_demo_creates_a_user_per_role_and_can_run_again(settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)
    assert sorted(User.objects.values_list("email", flat=True)) == [
        "admin@flowsuite.demo",
        "guard@flowsuite.demo",
        "operator@flowsuite.demo",
        "viewer@flowsuite.demo",
    ]
    assert "password flowsuite-demo" in out.getvalue()
    assert User.objects.get(email="guard@flowsuite.demo").groups.get().name == "guard"


@pytest.mark.django_db
def test_seed_demo_refuses_a_production_site(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo")
    assert not User.objects.exists()
