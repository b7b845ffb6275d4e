import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)

PRODUCTION = {
    "SECRET_KEY": "k3R#v9!qZp2@Lm8$Tw5^Yx7&Bn4*Cd6(Ef1)Gh0_Jk-Ls=Mq+Nt?Pv",
    "DEBUG": "false",
    "ALLOWED_HOSTS": "flowsuite.example.com",
    "HTTPS": "true",
    "BEHIND_PROXY": "true",
}


def manage(*args, env_extra: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(VAR_DIR=str(tmp_path), **env_extra)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_values(tmp_path):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env_extra=PRODUCTION, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_flags_a_development_configuration(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_extra={"DEBUG": "true"},
        tmp_path=tmp_path,
    )
    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG on


def test_a_secret_key_is_generated_once_and_kept(tmp_path):
    for _ in range(2):
        result = manage(
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings; print(settings.SECRET_KEY)",
            env_extra={},
            tmp_path=tmp_path,
        )
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").read_text().strip() == result.stdout.strip()


@pytest.mark.backend
@pytest.mark.django_db
def test_the_database_is_the_one_database_url_names():
    expected = (
        "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    )
    assert connection.vendor == expected


@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.db import connection\n"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]);"
        "c.execute('PRAGMA busy_timeout'); print(c.fetchone()[0])",
        env_extra={},
        tmp_path=tmp_path,
    )
    assert result.stdout.split() == ["wal", "20000"], result.stderr


@pytest.mark.backend
@pytest.mark.django_db(transaction=True)
def test_migrations_are_complete_and_reversible():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
    call_command("migrate", "accounts", "zero", verbosity=0)
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import Group

    assert Group.objects.filter(name="operator").exists()
    assert Group.objects.get(name="operator").permissions.filter(codename="view_devicekey").exists()


def test_an_env_file_configures_the_site_but_real_variables_win(tmp_path):
    env_file = tmp_path / "site.env"
    env_file.write_text("ALLOW_SIGNUP=false\nTIME_ZONE=America/Bogota\n")
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.ALLOW_SIGNUP, settings.TIME_ZONE)",
        env_extra={"ENV_FILE": str(env_file), "TIME_ZONE": "Europe/Madrid"},
        tmp_path=tmp_path,
    )
    assert result.stdout.split() == ["False", "Europe/Madrid"], result.stderr
