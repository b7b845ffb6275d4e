import subprocess
import sys

import pytest
from django.conf import settings

from accounts import services


def run_edge(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge", *args],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_edge_package_does_not_import_django():
    code = "import sys, edge, edge.client, edge.__main__; print('django' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.django_db(transaction=True)
def test_whoami_checks_a_device_key_against_a_running_server(live_server, operator):
    key, raw_key = services.device_key_create(owner=operator, name="pi-gate-1")
    ok = run_edge("whoami", "--server", live_server.url, "--key", raw_key)
    assert ok.returncode == 0, ok.stderr
    assert '"name": "pi-gate-1"' in ok.stdout

    key.revoke()
    refused = run_edge("whoami", "--server", live_server.url, "--key", raw_key)
    assert refused.returncode == 1
    assert "401: Invalid, expired or revoked key." in refused.stderr


def test_whoami_says_when_the_server_is_unreachable():
    result = run_edge("whoami", "--server", "http://127.0.0.1:9", "--key", "fsd_x")
    assert result.returncode == 1
    assert "unreachable" in result.stderr
