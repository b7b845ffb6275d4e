"""Demo users, one per role (manage.py seed_demo)."""

from django.conf import settings

from . import roles, services
from .models import User

DEMO_DOMAIN = "flowsuite.demo"


def seed(log) -> None:
    password = settings.DEMO_PASSWORD
    for role, label in roles.ROLES.items():
        email = f"{role}@{DEMO_DOMAIN}"
        user = User.objects.filter(email=email).first()
        if user is None:
            user = services.user_create(
                email=email, password=password, display_name=f"{label} (demo)", role=role
            )
            log(f"user {email:28} role {role:9} password {password}")
        else:
            roles.assign_role(user, role)
            log(f"user {email:28} role {role:9} (exists; password unchanged)")
