import hashlib
import secrets
import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import Language, Theme

TIME_ZONES = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})


def validate_time_zone(value: str) -> None:
    if value and value not in TIME_ZONES:
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    """A person: logs in with an e-mail address; picks language, time zone and theme."""

    email = models.EmailField(_("e-mail address"), unique=True)
    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    theme = models.CharField(_("theme"), max_length=8, choices=Theme.choices, default=Theme.AUTO)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=Language.choices,
        blank=True,
        help_text=_("Empty: the browser's language."),
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text=_("Empty: the site's time zone."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(
        _("staff status"), default=False, help_text=_("May log in to the admin site.")
    )
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]

    def __str__(self):
        return self.display_name or self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self):
        return str(self)

    def get_short_name(self):
        return str(self)


class HashedKeyQuerySet(models.QuerySet):
    def active(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class HashedKey(models.Model):
    """A secret shown once and stored only as its SHA-256 digest.

    The keys are 256-bit random strings, so a fast hash is enough: there is nothing to
    brute-force, unlike a password. The prefix tells what kind of key it is (and lets secret
    scanners find leaked ones); `hint` identifies it in lists without revealing it.
    """

    PREFIX = ""
    RELATED = ()  # loaded with the key when it authenticates a request
    LAST_USED_RESOLUTION = timedelta(minutes=1)

    name = models.CharField(_("name"), max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(_("key"), max_length=16, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    objects = HashedKeyQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.hint}…)"

    @staticmethod
    def digest_of(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode()).hexdigest()

    def set_new_key(self) -> str:
        """Give this record a fresh secret and return it: the only time it can be read."""
        raw_key = self.PREFIX + secrets.token_urlsafe(32)
        self.digest = self.digest_of(raw_key)
        self.hint = raw_key[: len(self.PREFIX) + 6]
        return raw_key

    @classmethod
    def find_active(cls, raw_key: str):
        """The active key matching `raw_key`, or None."""
        if not raw_key.startswith(cls.PREFIX):
            return None
        keys = cls.objects.active().select_related(*cls.RELATED)
        return keys.filter(digest=cls.digest_of(raw_key)).first()

    @property
    def is_active(self) -> bool:
        expired = self.expires_at is not None and self.expires_at <= timezone.now()
        return self.revoked_at is None and not expired

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def record_use(self) -> None:
        # At most one write a minute per key: a device posting every second must not turn
        # every request into an UPDATE.
        now = timezone.now()
        if self.last_used_at and now - self.last_used_at < self.LAST_USED_RESOLUTION:
            return
        self.last_used_at = now
        type(self).objects.filter(pk=self.pk).update(last_used_at=now)


class ApiToken(HashedKey):
    """A person's personal API token: acts as that person in the API."""

    PREFIX = "fsp_"
    RELATED = ("user",)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )

    class Meta(HashedKey.Meta):
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")


class DeviceKey(HashedKey):
    """The credential of an edge device (a meter, a camera, a Raspberry Pi).

    A device is not a person: requests made with a device key have no user permissions and
    reach only endpoints that accept devices (flowsuite.api.IsDevice). Domain models attach
    to a key with a OneToOneField and find their device through `request.auth`.
    """

    PREFIX = "fsd_"
    RELATED = ("owner",)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="device_keys",
        verbose_name=_("owner"),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)

    class Meta(HashedKey.Meta):
        verbose_name = _("device key")
        verbose_name_plural = _("device keys")
