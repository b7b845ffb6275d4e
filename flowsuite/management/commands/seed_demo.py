from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.roles import FLOWSUITE_APPS


class Command(BaseCommand):
    help = (
        "Create demo data: a user per role and, for each domain app, its demo records "
        "(each app's demo.seed()). Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="run even with DEBUG off (demo users have a known password)",
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Demo users get a known password: run with DEBUG=true, or pass --force."
            )
        for app_config in apps.get_app_configs():
            if app_config.label in FLOWSUITE_APPS and find_spec(f"{app_config.name}.demo"):
                with transaction.atomic():
                    import_module(f"{app_config.name}.demo").seed(self._log(app_config.label))

    def _log(self, label):
        return lambda line: self.stdout.write(f"{label:12} {line}")
